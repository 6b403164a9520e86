"""Both fraud DAGs on a real Airflow 3 (SQLite metadata DB, `airflow dags test`) with a local
MLflow store: once on a local lake, once on an S3 lake served by a moto server."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import demo  # noqa: E402
from airflow_env import airflow_env, migrate  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


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


def _run_scenario(env: dict[str, str]) -> dict:
    migrate(env)
    runs: list[dict] = []
    result = demo.fraud_scenario(env, rows=3_000, runs=runs)
    assert [r["state"] for r in runs] == [r["expected"] for r in runs]
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


def test_fraud_dags_local_lake(tmp_path: Path) -> None:
    env = airflow_env(tmp_path, base=_clean_env({}))
    result = _run_scenario(env)

    assert result["gate"]["decision"] == "promote"
    assert _registry_champion(env) == result["champion_version"] == "1"
    assert result["rerun_identical_bytes"] is True
    assert result["bad_batch"]["champion_unchanged"] is True
    _check_lake(env, result)
    # GX Data Docs were built for the runs.
    assert (tmp_path / "reports" / "data_docs" / "fraud_transactions" / "index.html").exists()


def test_fraud_dags_s3_lake(tmp_path: Path, moto_s3_endpoint: str, s3_bucket: str) -> None:
    env = airflow_env(
        tmp_path,
        base=_clean_env(
            {
                "MLOPS_STORAGE_URL": f"s3://{s3_bucket}/lake",
                "MLOPS_S3_ENDPOINT_URL": moto_s3_endpoint,
            }
        ),
    )
    result = _run_scenario(env)

    assert _registry_champion(env) == result["champion_version"]
    assert all(
        p["output"].startswith(f"s3://{s3_bucket}/lake/scored/")
        for p in result["scored_partitions"]
    )
    assert result["rerun_identical_bytes"] is True
    _check_lake(env, result)
    assert not (tmp_path / "lake").exists()  # nothing fell back to the local lake
