"""The fraud DAGs on the production shape: Airflow on PostgreSQL + CeleryExecutor + Redis,
MLflow server on PostgreSQL with S3 artifacts, the lake on S3 (moto server). Triggered through
the REST API as the UI does; the deferrable sensor is resumed by the triggerer."""

from __future__ import annotations

import datetime as dt
import json
import time

import boto3
import pytest

from mlops_core import lake, steps
from mlops_core.schema import load_schema
from mlops_core.storage import S3Storage
from tests.integration.cluster import AirflowCluster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

HISTORY = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(7)]
LATE_DAY = dt.date(2026, 11, 8)
BACKFILL = [dt.date(2026, 11, 9) + dt.timedelta(days=i) for i in range(7)]


def _lake(cluster: AirflowCluster) -> S3Storage:
    return S3Storage(cluster.bucket, "lake", endpoint_url=cluster.s3_endpoint)


def _mlflow(cluster: AirflowCluster):
    from mlflow import MlflowClient

    uri = cluster.env["MLFLOW_TRACKING_URI"]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def trained(cluster: AirflowCluster) -> dict:
    """Land a week of history on S3 and run fraud_training through the REST API with Params."""
    storage, schema = _lake(cluster), load_schema("fraud")
    for day in HISTORY:
        steps.land_sample_partition(storage, schema, day, rows=3_000)
    cluster.wait_for_dag("fraud_training")
    run_id = cluster.trigger(
        "fraud_training",
        "2026-11-07T00:00:00Z",
        conf={"day": "2026-11-07", "window_days": 7, "min_pr_auc": 0.15, "max_regression": 0.02},
    )
    state = cluster.wait_run("fraud_training", run_id, timeout=900)
    assert state == "success", cluster.task_states("fraud_training", run_id)
    return {"run_id": run_id}


def test_training_promotes_champion_through_mlflow_server(
    cluster: AirflowCluster, trained: dict
) -> None:
    client = _mlflow(cluster)
    champion = client.get_model_version_by_alias("fraud_model", "champion")
    assert str(champion.version) == "1"
    assert "fraud_training" in champion.tags["promoted_by"]
    assert champion.tags["gate_decision"] == "promote"
    # Params from the trigger form reached the gate: the verdict records the floor we sent.
    run = client.get_run(champion.run_id)
    assert run.data.tags["data_partitions"] == ",".join(d.isoformat() for d in HISTORY)
    local = client.download_artifacts(champion.run_id, "gate/verdict.json", str(cluster.workdir))
    verdict = json.loads(open(local).read())
    assert verdict["thresholds"]["min_pr_auc"] == 0.15
    # Model artifacts went through the MLflow server to S3, not to a local directory.
    keys = boto3.client("s3", endpoint_url=cluster.s3_endpoint).list_objects_v2(
        Bucket=cluster.bucket, Prefix="mlflow/"
    )
    assert any(obj["Key"].endswith(".skops") for obj in keys.get("Contents", []))


def test_deferred_sensor_resumes_when_marker_lands_on_s3(
    cluster: AirflowCluster, trained: dict
) -> None:
    storage, schema = _lake(cluster), load_schema("fraud")
    cluster.wait_for_dag("fraud_scoring")
    run_id = cluster.trigger("fraud_scoring", f"{LATE_DAY.isoformat()}T00:00:00Z")

    deadline = time.monotonic() + 240
    while cluster.task_states("fraud_scoring", run_id).get("wait_for_partition") != "deferred":
        assert time.monotonic() < deadline, cluster.task_states("fraud_scoring", run_id)
        assert cluster.run_state("fraud_scoring", run_id) not in {"success", "failed"}
        time.sleep(2)

    steps.land_sample_partition(storage, schema, LATE_DAY, rows=3_000)  # writes _SUCCESS last
    assert cluster.wait_run("fraud_scoring", run_id, timeout=600) == "success"
    manifest = json.loads(
        storage.read_bytes(lake.scored_prefix(schema.name, LATE_DAY) + lake.MANIFEST)
    )
    assert manifest["rows_in"] == manifest["rows_out"] == 3_000
    assert manifest["model_version"] == "1" and manifest["model_rule"] == "alias:champion"
    assert storage.exists(manifest["output_key"])


def _backfill_runs(cluster: AirflowCluster) -> list[dict]:
    runs = cluster.api(
        "GET", "/dags/fraud_scoring/dagRuns", params={"run_type": "backfill", "limit": 100}
    )
    return runs["dag_runs"]


def _wait_backfill_completed(cluster: AirflowCluster, timeout: float = 900) -> list[dict]:
    """Wait until Airflow marks every backfill of fraud_scoring completed; return its runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfills = cluster.api("GET", "/backfills", params={"dag_id": "fraud_scoring"})[
            "backfills"
        ]
        if backfills and all(b["completed_at"] for b in backfills):
            return _backfill_runs(cluster)
        time.sleep(5)
    states = [(r["logical_date"], r["state"]) for r in _backfill_runs(cluster)]
    raise TimeoutError(f"backfill not completed after {timeout}s: {states}; logs {cluster.logs}")


def test_backfill_on_real_scheduler_is_idempotent(cluster: AirflowCluster, trained: dict) -> None:
    storage, schema = _lake(cluster), load_schema("fraud")
    for day in BACKFILL:
        steps.land_sample_partition(storage, schema, day, rows=2_000)
    cluster.wait_for_dag("fraud_scoring")
    first, last = BACKFILL[0].isoformat(), BACKFILL[-1].isoformat()
    cluster.airflow_cli(
        "backfill",
        "create",
        "--dag-id",
        "fraud_scoring",
        "--from-date",
        first,
        "--to-date",
        last,
        "--max-active-runs",
        "3",
    )
    runs = _wait_backfill_completed(cluster)
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in BACKFILL]
    assert {r["state"] for r in runs} == {"success"}

    def outputs() -> dict[str, tuple[str, int]]:
        found = {}
        for day in BACKFILL:
            manifest = json.loads(
                storage.read_bytes(lake.scored_prefix(schema.name, day) + lake.MANIFEST)
            )
            assert manifest["rows_in"] == manifest["rows_out"] == 2_000
            found[day.isoformat()] = (
                manifest["output_sha256"],
                len(storage.list(lake.scored_prefix(schema.name, day))),
            )
        return found

    before = outputs()
    # Reprocess the completed range, choosing each day's model from the promotion ledger.
    cluster.airflow_cli(
        "backfill",
        "create",
        "--dag-id",
        "fraud_scoring",
        "--from-date",
        first,
        "--to-date",
        last,
        "--max-active-runs",
        "3",
        "--reprocess-behavior",
        "completed",
        "--dag-run-conf",
        json.dumps({"model_selection": "as_of"}),
    )
    runs = _wait_backfill_completed(cluster)
    assert {r["state"] for r in runs} == {"success"}
    assert outputs() == before  # same bytes, same number of objects: nothing duplicated
    for day in BACKFILL:
        manifest = json.loads(
            storage.read_bytes(lake.scored_prefix(schema.name, day) + lake.MANIFEST)
        )
        assert (
            manifest["model_rule"] == f"as_of:{day.isoformat()}"
            and manifest["model_version"] == "1"
        )
