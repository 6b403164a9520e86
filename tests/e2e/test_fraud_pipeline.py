"""Both fraud DAGs on a live Airflow 3 (SQLite metadata DB, runs through the REST API) with a
local MLflow store: once on a local lake, once on an S3 lake served by a moto server."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import demo  # noqa: E402
from airflow_env import airflow_env  # noqa: E402

# 17 runs through a live Airflow (one start-up per test), with the integration stack beside it
# on two cores.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1800)]


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The parent's env minus any Airflow/MLflow/lake settings, so each run is isolated."""
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLOPS_", "MLFLOW_"))
    }
    base.update(extra)
    return base


def _registry_champion(env: dict[str, str]) -> str:
    from mlflow import MlflowClient

    from mlops_core.config import Settings

    uri = Settings.from_env(env).mlflow_tracking_uri
    mv = MlflowClient(uri, registry_uri=uri).get_model_version_by_alias("fraud_model", "champion")
    return str(mv.version)


def _champion_cutoff(env: dict[str, str]) -> pd.Timestamp:
    """The champion's training cutoff (its first holdout row; training rows are before it,
    one embargo day earlier)."""
    from mlflow import MlflowClient

    from mlops_core.config import Settings
    from mlops_core.maturity import cutoff_timestamp

    uri = Settings.from_env(env).mlflow_tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    mv = client.get_model_version_by_alias("fraud_model", "champion")
    return cutoff_timestamp(client.get_run(mv.run_id).data.params["cutoff"])


def _asset_events(env: dict[str, str], asset_name: str) -> int:
    """Asset events recorded in the Airflow metadata DB of this run's environment."""
    import sqlite3

    db = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].removeprefix("sqlite:///")
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ?",
            (asset_name,),
        ).fetchone()
    return count


def _run_scenario(env: dict[str, str], dag: demo.DagRunner, rows: int = 3_000, **kw) -> dict:
    result = demo.fraud_scenario(env, rows=rows, dag=dag, **kw)
    assert [r["state"] for r in dag.runs] == [r["expected"] for r in dag.runs]
    return result


def _check_lake(env: dict[str, str], result: dict) -> None:
    from mlops_core import lake

    _, storage, schema = demo._lake(env)
    for part in result["scored_partitions"]:
        day = part["day"]
        with storage.local_copy(lake.working_data_key(schema.name, day)) as src:
            inputs = pd.read_parquet(src)
        with storage.local_copy(lake.scored_prefix(schema.name, day) + "scores.parquet") as out:
            scored = pd.read_parquet(out)
        assert len(scored) == len(inputs) == part["rows_in"]
        assert scored["transaction_id"].tolist() == inputs["transaction_id"].tolist()
        assert scored["score"].between(0, 1).all()
        assert (scored["model_version"] == int(result["champion_version"])).all()
    # The bad day: raw batch in quarantine with its report, nothing left in landing or scored.
    bad = result["bad_batch"]["day"]
    quarantined = storage.list(f"quarantine/{schema.name}/dt={bad}/")
    assert any(k.endswith("part-000.csv") for k in quarantined)
    assert any(k.endswith("validation.json") for k in quarantined)
    assert storage.list(lake.landing_prefix(schema.name, bad)) == []
    assert storage.list(lake.scored_prefix(schema.name, bad)) == []
    incident = result["bad_batch"]["incident"]
    assert incident["exception_type"] == "DataValidationError"
    assert incident["runbook_section"] == "data-validation-failed"
    assert "expect_column_values_to_be_between" in incident["message"]
    assert "tx-20261111-0000005" in incident["message"]  # an offending row is named


def test_fraud_dags_local_lake(tmp_path: Path, live_dags) -> None:
    env = airflow_env(tmp_path, base=_clean_env({}))
    dag = live_dags(env)
    # The demo's volume: the retraining part below needs it.
    result = _run_scenario(env, dag, rows=5_000)

    assert result["gate"]["decision"] == "promote"
    assert _registry_champion(env) == result["champion_version"] == "1"
    assert result["rerun_identical_bytes"] is True
    assert result["bad_batch"]["champion_unchanged"] is True
    _check_lake(env, result)
    # GX Data Docs were built for the runs.
    assert (tmp_path / "reports" / "data_docs" / "fraud_transactions" / "index.html").exists()

    # Retraining: undrifted days request nothing; the first drifted day is flagged but one
    # alert day never retrains; then the policy waits while the drifted rows would sit in the
    # retrain's holdout and embargo (counted on the split training would cut), and requests
    # exactly one retraining once enough of them reach its training split; that model passes
    # the gate and replaces the champion.
    retraining = demo.retraining_scenario(env, rows=5_000, dag=dag)
    decisions = {d["day"]: d for d in retraining["decisions"]}
    drift_day = retraining["drift_injected_from"]
    assert retraining["drift_detected_on"] == drift_day
    assert "persistence: 1 of the last 3 days at alert" in decisions[drift_day]["reason"]
    retrain_days = [d for d, v in decisions.items() if v["retrain"]]
    assert len(retrain_days) == 1, decisions
    retrain_day = retrain_days[0]
    waiting = [v for d, v in decisions.items() if drift_day < d < retrain_day]
    assert waiting and all("not enough new labelled data" in v["reason"] for v in waiting)
    assert all(v["rows_for_training"] < 3_000 for v in waiting)  # fraud.yaml's minimum
    assert decisions[retrain_day]["rows_for_training"] >= 3_000
    for day, decision in decisions.items():
        if day < drift_day:
            assert decision["drift_level"] == "ok" and not decision["retrain"], decision
    later = [v for d, v in decisions.items() if d > retrain_day]
    assert later and all("cooldown" in v["reason"] for v in later)  # no retrain storm
    assert _asset_events(env, "fraud_model_retrain_requested") == 1
    assert retraining["champion_before"] == "1" and retraining["champion_after"] == "2"
    assert _registry_champion(env) == "2"
    assert retraining["gate"]["decision"] == "promote"
    assert [e["to"] for e in retraining["ledger"]] == ["1", "2"]
    # The retrained model did learn from drifted rows: its training split runs past the onset.
    assert _champion_cutoff(env) > pd.Timestamp(drift_day, tz="UTC") + pd.Timedelta(days=1)
    report = (
        tmp_path / "reports" / "monitoring" / "fraud_model" / f"dt={retrain_day}" / "report.html"
    )
    assert "RETRAIN" in report.read_text() and "data:image/png;base64" in report.read_text()

    # Rollback restores the previous champion and is recorded in the ledger.
    state, log = dag.attempt("fraud_rollback", dt.date(2026, 11, 15), conf={"target": "previous"})
    assert state == "success", log[-3000:]
    assert _registry_champion(env) == "1"
    from mlops_core import ledger

    entries = ledger.read_ledger(demo._lake(env)[1], "fraud_model")
    assert (entries[-1].kind, entries[-1].from_version, entries[-1].to_version) == (
        "rollback",
        "2",
        "1",
    )


def test_fraud_dags_s3_lake(
    tmp_path: Path, moto_s3_endpoint: str, s3_bucket: str, live_dags
) -> None:
    env = airflow_env(
        tmp_path,
        base=_clean_env(
            {
                "MLOPS_STORAGE_URL": f"s3://{s3_bucket}/lake",
                "MLOPS_S3_ENDPOINT_URL": moto_s3_endpoint,
            }
        ),
    )
    # One scoring day: the local-lake test scores all three; here the point is the S3 lake.
    result = _run_scenario(env, live_dags(env), score_days=[demo.SCORE_DAYS[0]])

    assert _registry_champion(env) == result["champion_version"]
    assert [p["day"] for p in result["scored_partitions"]] == [demo.SCORE_DAYS[0].isoformat()]
    assert all(
        p["output"].startswith(f"s3://{s3_bucket}/lake/scored/")
        for p in result["scored_partitions"]
    )
    assert result["rerun_identical_bytes"] is True
    _check_lake(env, result)
    assert not (tmp_path / "lake").exists()  # nothing fell back to the local lake
