"""The third use case, added as one spec file: loans DAGs on a real Airflow 3 (SQLite,
`airflow dags test`), local MLflow and a local lake. Text labels, nullable features, a
timestamp named `issued_at` in New York local time, no time features, a model search, and
days in 2025: landing -> training -> gate -> promotion -> scoring."""

from __future__ import annotations

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


def test_loans_use_case_runs_from_its_spec_alone(tmp_path: Path, live_dags) -> None:
    from mlflow import MlflowClient

    from mlops_core import lake
    from mlops_core.config import Settings
    from mlops_core.spec import load_spec

    env = airflow_env(tmp_path, base=_clean_env({}))
    dag = live_dags(env)
    runs = dag.runs
    result = demo.loans_scenario(env, dag=dag)

    assert [(r["dag_id"], r["state"]) for r in runs] == [
        ("loans_sample_landing", "success"),
        ("loans_training", "success"),
        ("loans_scoring", "success"),
    ]
    spec = load_spec("loans")
    gate = result["gate"]
    assert gate["decision"] == "promote"
    assert gate["thresholds"]["fpr_target"] == 0.05  # the spec's gate, not fraud's
    assert gate["challenger"]["pr_auc"] >= spec.gate.min_pr_auc
    if result["estimator"] != "logistic_regression":  # the default LR is then the baseline
        assert set(gate["baseline"]) >= {"pr_auc", "recall_at_fpr"}
    assert _asset_events(env, "loan_applications_landed") == 1
    assert _asset_events(env, "loans_model_champion") == 1

    uri = Settings.from_env(env).mlflow_tracking_uri
    client = MlflowClient(uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("loans_model", "champion")
    run = client.get_run(champion.run_id)
    assert run.data.tags["airflow.dag_id"] == "loans_training"
    assert run.data.params["search_candidates"] == "2"
    children = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    estimators = sorted(c.data.params["estimator"] for c in children)
    assert estimators == ["hist_gradient_boosting", "logistic_regression"]
    assert sum(c.data.tags["search_selected"] == "true" for c in children) == 1
    selected = next(c for c in children if c.data.tags["search_selected"] == "true")
    assert selected.data.params["estimator"] == run.data.params["estimator"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/precision_recall.png",
        "evaluation/roc.png",
        "evaluation/calibration.png",
        "evaluation/confusion_matrix.png",
        "evaluation/feature_importance.png",  # logistic regression: its coefficients
    } <= artifacts

    _, storage, _ = demo._lake(env)
    name = spec.dataset.name
    with storage.local_copy(lake.working_data_key(name, demo.LOANS_TRAIN_DAY)) as path:
        working = pd.read_parquet(path)
    assert working["outcome"].isin(["repaid", "default"]).all()  # text labels kept as they are
    assert working["months_since_last_delinquency"].isna().mean() > 0.3  # legitimate nulls
    assert working["annual_income"].isna().any()
    assert "timestamp" not in working.columns and str(working["issued_at"].dt.tz) == "UTC"
    day_start = pd.Timestamp(demo.LOANS_TRAIN_DAY, tz="UTC")
    assert working["issued_at"].between(day_start, day_start + pd.Timedelta(days=1)).all()
    with storage.local_copy(lake.scored_prefix(name, demo.LOANS_SCORE_DAY) + "scores.parquet") as p:
        scored = pd.read_parquet(p)
    assert len(scored) == result["scored"]["rows"] > 0
    assert scored["score"].between(0, 1).all()
    assert {"loan_id", "issued_at", "member_id", "score"} <= set(scored.columns)
