"""Both recommender DAGs on a real Airflow 3 (SQLite metadata DB, `airflow dags test`) with a
local MLflow store and a local lake: landing -> training -> gate -> promotion -> top-K scoring,
an identical-bytes rerun, a bad batch, and a challenger the gate rejects."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import demo  # noqa: E402
from airflow_env import airflow_env  # noqa: E402

from tests.e2e.test_fraud_pipeline import _asset_events, _clean_env  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]


def _champion(env: dict[str, str]) -> str:
    from mlflow import MlflowClient

    from mlops_core.config import Settings

    uri = Settings.from_env(env).mlflow_tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    return str(client.get_model_version_by_alias("recommender_model", "champion").version)


def test_recommender_dags_local_lake(tmp_path: Path, live_dags) -> None:
    from mlops_core import lake, steps
    from mlops_core.recsys import steps as rec_steps
    from mlops_core.schema import load_schema

    env = airflow_env(tmp_path, base=_clean_env({}))
    dag = live_dags(env)
    result = demo.recommender_scenario(env, sessions=900, dag=dag)
    assert [r["state"] for r in dag.runs] == ["success"] * 3

    gate = result["gate"]
    assert gate["decision"] == "promote"
    assert gate["challenger"]["recall_at_k"] > 1.1 * gate["popularity"]["recall_at_k"]
    assert gate["challenger"]["ndcg_at_k"] > 1.1 * gate["popularity"]["ndcg_at_k"]
    assert _champion(env) == result["champion_version"] == "1"
    assert _asset_events(env, "recommender_model_champion") == 1
    assert _asset_events(env, "interactions_landed") == 1

    _, storage, _ = demo._lake(env)
    schema = load_schema("recommender")
    recs = result["recommendations"]
    day = dt.date.fromisoformat(recs["day"])
    with storage.local_copy(lake.scored_prefix(schema.name, day) + "recommendations.parquet") as p:
        out = pd.read_parquet(p)
    assert len(out) == recs["rows_written"] and out["user_id"].nunique() == recs["users_scored"]
    assert out.groupby("user_id").size().max() == 10
    assert (out["model_version"] == "1").all()
    history = pd.concat(
        pd.read_parquet(storage.root / lake.working_data_key(schema.name, d))
        for d in steps.window_days(day, 28)
    )
    seen = set(zip(history["user_id"], history["item_id"], strict=True))
    assert not seen & set(zip(out["user_id"], out["item_id"], strict=True))

    # A rerun of the same day (its run cleared, as on-call does) writes the same bytes.
    state, log = dag.attempt("recommender_scoring", day, rerun=True)
    assert state == "success", log[-3000:]
    manifest = json.loads(storage.read_bytes(lake.scored_prefix(schema.name, day) + lake.MANIFEST))
    assert manifest["output_sha256"] == recs["sha256"]

    # A bad batch: a duplicated event and a null user. Validation fails, nothing is scored.
    bad_day = day + dt.timedelta(days=1)
    rec_steps.land_sample_partition(storage, schema, bad_day, sessions=900)
    prefix = lake.landing_prefix(schema.name, bad_day)
    frame = pd.read_parquet(storage.root / prefix / "part-000.parquet")
    frame.loc[1, ["user_id", "item_id", "timestamp"]] = frame.loc[
        0, ["user_id", "item_id", "timestamp"]
    ].to_numpy()
    frame.loc[5, "user_id"] = None
    frame.to_parquet(storage.root / prefix / "part-000.parquet", index=False)
    state, text = dag.attempt("recommender_scoring", bad_day)
    assert state == "failed"
    assert "expect_compound_columns_to_be_unique" in text
    assert "expect_column_values_to_not_be_null on column 'user_id'" in text
    assert storage.list(f"quarantine/{schema.name}/dt={bad_day.isoformat()}/")
    assert storage.list(lake.scored_prefix(schema.name, bad_day)) == []
    incident = json.loads((tmp_path / "incidents.jsonl").read_text().strip().splitlines()[-1])
    assert incident["dag_id"] == "recommender_scoring"
    assert incident["runbook_section"] == "data-validation-failed"

    # A challenger that cannot clear an impossible margin is rejected; the champion stays.
    state, log = dag.attempt(
        "recommender_training",
        day,
        conf={"day": day.isoformat(), "min_lift_over_popularity": 9.0},
    )
    assert state == "failed"
    assert "is shown short of popularity" in log
    assert _champion(env) == "1"
    verdict = json.loads(
        (tmp_path / "reports" / "gates" / "recommender_model" / "v2" / "verdict.json").read_text()
    )
    assert verdict["decision"] == "reject" and verdict["champion_version"] == "1"
