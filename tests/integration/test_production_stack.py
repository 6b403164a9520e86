"""The fraud and recommender DAGs on the production shape: Airflow on PostgreSQL +
CeleryExecutor + Redis, MLflow server on PostgreSQL with S3 artifacts, the lake on S3 (moto
server). Triggered through the REST API as the UI does; the deferrable sensor is resumed by the
triggerer; backfills go through the real scheduler."""

from __future__ import annotations

import datetime as dt
import json
import time

import boto3
import pytest

from mlops_core import lake, sample_data, steps
from mlops_core.recsys import steps as rec_steps
from mlops_core.schema import load_schema
from mlops_core.storage import S3Storage
from tests.integration.cluster import AirflowCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(1500),
]

HISTORY = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(7)]
LATE_DAY = dt.date(2026, 11, 8)
# Four days at --max-active-runs 3: runs overlap (what idempotency must survive) at 4/7 of
# the cost of a week (the suite's 20-minute budget on two cores).
BACKFILL = [dt.date(2026, 11, 9) + dt.timedelta(days=i) for i in range(4)]
REC_TRAIN_DAY = dt.date(2026, 11, 14)
REC_WINDOW = 14
REC_BACKFILL = [dt.date(2026, 11, 15) + dt.timedelta(days=i) for i in range(4)]


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
        sample_data.land_sample_partition(storage, schema, day, rows=3_000)
    cluster.wait_for_dag("fraud_training")
    run_id = cluster.trigger(
        "fraud_training",
        "2026-11-07T00:00:00Z",
        conf={"day": "2026-11-07", "window_days": 7, "min_pr_auc": 0.15, "relative_margin": 0.5},
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
    # The Celery worker imported the task libraries before forking its pool, all of them.
    worker_log = (cluster.logs / "worker.log").read_text()
    [line] = [x for x in worker_log.splitlines() if "modules for forked tasks" in x][:1]
    done, total = line.split("Preloaded ")[1].split(" modules")[0].split(" of ")
    assert done == total and int(total) > 0, line


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

    sample_data.land_sample_partition(storage, schema, LATE_DAY, rows=3_000)  # writes _SUCCESS last
    assert cluster.wait_run("fraud_scoring", run_id, timeout=600) == "success"
    manifest = json.loads(
        storage.read_bytes(lake.scored_prefix(schema.name, LATE_DAY) + lake.MANIFEST)
    )
    assert manifest["rows_in"] == manifest["rows_out"] == 3_000
    assert manifest["model_version"] == "1" and manifest["model_rule"] == "alias:champion"
    assert storage.exists(manifest["output_key"])


def _backfill_runs(cluster: AirflowCluster, dag_id: str) -> list[dict]:
    runs = cluster.api(
        "GET", f"/dags/{dag_id}/dagRuns", params={"run_type": "backfill", "limit": 100}
    )
    return runs["dag_runs"]


def _wait_backfill_completed(
    cluster: AirflowCluster, dag_id: str = "fraud_scoring", timeout: float = 900
) -> list[dict]:
    """Wait until Airflow marks every backfill of ``dag_id`` completed; return its runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        backfills = cluster.api("GET", "/backfills", params={"dag_id": dag_id})["backfills"]
        if backfills and all(b["completed_at"] for b in backfills):
            return _backfill_runs(cluster, dag_id)
        time.sleep(5)
    states = [(r["logical_date"], r["state"]) for r in _backfill_runs(cluster, dag_id)]
    raise TimeoutError(f"backfill not completed after {timeout}s: {states}; logs {cluster.logs}")


def _backfill(cluster: AirflowCluster, dag_id: str, days: list[dt.date], *extra: str) -> None:
    first, last = days[0].isoformat(), days[-1].isoformat()
    cluster.airflow_cli(
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        first,
        "--to-date",
        last,
        "--max-active-runs",
        "3",
        *extra,
    )


def test_backfill_on_real_scheduler_is_idempotent(cluster: AirflowCluster, trained: dict) -> None:
    storage, schema = _lake(cluster), load_schema("fraud")
    for day in BACKFILL:
        sample_data.land_sample_partition(storage, schema, day, rows=2_000)
    cluster.wait_for_dag("fraud_scoring")
    _backfill(cluster, "fraud_scoring", BACKFILL)
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
    _backfill(
        cluster,
        "fraud_scoring",
        BACKFILL,
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


def test_recommender_champion_triggers_scoring_and_backfill_is_idempotent(
    cluster: AirflowCluster,
) -> None:
    """recommender_training through the REST API promotes a champion; a 4-day backfill of
    recommender_scoring runs 3 days at a time, each day's top-K reading the histories of the
    days before it, and reprocessing with the as-of model rewrites identical bytes."""
    storage, schema = _lake(cluster), load_schema("recommender")
    for day in steps.window_days(REC_TRAIN_DAY, REC_WINDOW):
        rec_steps.land_sample_partition(storage, schema, day, sessions=700)
    cluster.wait_for_dag("recommender_training")
    run_id = cluster.trigger(
        "recommender_training",
        f"{REC_TRAIN_DAY.isoformat()}T00:00:00Z",
        conf={"day": REC_TRAIN_DAY.isoformat(), "window_days": REC_WINDOW, "factors": 16},
    )
    state = cluster.wait_run("recommender_training", run_id, timeout=900)
    assert state == "success", cluster.task_states("recommender_training", run_id)
    champion = _mlflow(cluster).get_model_version_by_alias("recommender_model", "champion")
    assert str(champion.version) == "1"

    cluster.wait_for_dag("recommender_scoring")
    for day in REC_BACKFILL:
        rec_steps.land_sample_partition(storage, schema, day, sessions=700)
    _backfill(cluster, "recommender_scoring", REC_BACKFILL)
    runs = _wait_backfill_completed(cluster, "recommender_scoring")
    assert sorted(r["logical_date"][:10] for r in runs) == [d.isoformat() for d in REC_BACKFILL]
    assert {r["state"] for r in runs} == {"success"}

    def outputs() -> dict[str, tuple[str, int]]:
        found = {}
        for day in REC_BACKFILL:
            prefix = lake.scored_prefix(schema.name, day)
            manifest = json.loads(storage.read_bytes(prefix + lake.MANIFEST))
            # Each day's history is every validated day of the window up to it, regardless of
            # which backfill run finished first.
            expected = [d.isoformat() for d in steps.window_days(REC_TRAIN_DAY, REC_WINDOW)]
            expected += [d.isoformat() for d in REC_BACKFILL if d <= day]
            assert manifest["history_days"] == expected
            assert manifest["rows_out"] == manifest["users"] * manifest["k"]
            found[day.isoformat()] = (manifest["output_sha256"], len(storage.list(prefix)))
        return found

    before = outputs()
    _backfill(
        cluster,
        "recommender_scoring",
        REC_BACKFILL,
        "--reprocess-behavior",
        "completed",
        "--dag-run-conf",
        json.dumps({"model_selection": "as_of"}),
    )
    runs = _wait_backfill_completed(cluster, "recommender_scoring")
    assert {r["state"] for r in runs} == {"success"}
    assert outputs() == before  # same bytes, same objects: nothing duplicated
    for day in REC_BACKFILL:
        manifest = json.loads(
            storage.read_bytes(lake.scored_prefix(schema.name, day) + lake.MANIFEST)
        )
        assert manifest["model_rule"] == f"as_of:{day.isoformat()}"
        assert manifest["model_version"] == "1"
