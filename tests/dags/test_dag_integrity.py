"""DAG files load, carry runbooks, tags, retries and timeouts, and stay light to parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _error_runbooks() -> list[str]:
    """The runbook section of every typed error: each must have a heading in the DAG docs."""
    from mlops_core.errors import PipelineError

    found, todo = set(), [PipelineError]
    while todo:
        cls = todo.pop()
        found.add(cls.runbook)
        todo.extend(cls.__subclasses__())
    return sorted(found - {"general"})


RUNBOOK_SECTIONS = [
    "input-missing",
    "corrupt-input",
    "data-validation-failed",
    "training-failed",
    "gate-rejected",
    "no-champion",
    "registry-conflict",
    "storage-unavailable",
    "schema-invalid",
]
EXPECTED = {
    "fraud_training",
    "fraud_scoring",
    "fraud_sample_landing",
    "model_monitoring",
    "rollback_champion",
    "interactions_sample_landing",
    "recommender_training",
    "recommender_scoring",
}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert EXPECTED <= set(dagbag.dag_ids)


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_hygiene(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag.tags, "tags help people find the DAG in the UI"
    assert "Runbook" in dag.doc_md
    for section in RUNBOOK_SECTIONS + _error_runbooks():
        assert f"### {section}" in dag.doc_md or f"/ {section}" in dag.doc_md, (
            f"runbook section {section} missing"
        )
    assert dag.catchup is False
    assert dag.start_date is None  # historical days run; resolve_day bounds them
    for task in dag.tasks:
        if task.task_id == "evaluation_gate":
            assert task.retries == 0  # a rejection is deterministic: retrying cannot change it
        else:
            assert task.retries >= 2, task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.on_failure_callback, task.task_id


def test_training_order_and_schedules(dagbag) -> None:
    dag = dagbag.dags["fraud_training"]
    order = [
        "wait_for_partition",
        "extract",
        "validate",
        "train",
        "register",
        "evaluation_gate",
        "promote",
    ]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert dag.get_task(downstream).upstream_task_ids == {upstream}
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert {a.name for a in timetable.asset_condition.objects} == {
        "fraud_transactions_landed",
        "fraud_model_retrain_requested",
    }
    assert type(timetable.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.max_active_runs == 1
    assert dagbag.dags["fraud_scoring"].max_active_runs <= 8


@pytest.mark.parametrize(
    ("dag_id", "params", "ok"),
    [
        ("fraud_training", {"day": "2026-11-07", "window_days": 5}, True),
        ("fraud_training", {"day": "2026-13-45"}, False),
        ("fraud_training", {"window_days": 0}, False),
        ("fraud_training", {"min_pr_auc": 1.5}, False),
        ("fraud_scoring", {"model_selection": "as_of"}, True),
        ("fraud_scoring", {"model_selection": "latest"}, False),
        ("fraud_scoring", {"batch_rows": 10}, False),
        ("rollback_champion", {"target": "previous"}, True),
        ("rollback_champion", {"target": "3"}, True),
        ("rollback_champion", {"target": "latest; drop table"}, False),
        ("model_monitoring", {"psi_alert": -1}, False),
        ("recommender_training", {"factors": 64, "holdout_days": 2}, True),
        ("recommender_training", {"factors": 1}, False),
        ("recommender_training", {"min_lift_over_popularity": -0.5}, False),
        ("recommender_training", {"estimator": "als"}, True),
        ("recommender_training", {"estimator": "bpr"}, False),
        ("recommender_scoring", {"k": 20, "model_selection": "as_of"}, True),
        ("recommender_scoring", {"k": 0}, False),
        ("recommender_scoring", {"users_per_chunk": 10}, False),
    ],
)
def test_params_validate_trigger_input(dagbag, dag_id: str, params: dict, ok: bool) -> None:
    from airflow.sdk.definitions.param import ParamsDict

    merged = ParamsDict(dagbag.dags[dag_id].params)
    if ok:
        for key, value in params.items():
            merged[key] = value
        merged.validate()
    else:
        with pytest.raises(Exception):  # noqa: B017 - ParamValidationError or ValueError by version
            for key, value in params.items():
                merged[key] = value
            merged.validate()


def test_recommender_wiring(dagbag) -> None:
    training = dagbag.dags["recommender_training"]
    order = ["wait_for_partition", "extract", "validate", "train", "register"]
    order += ["evaluation_gate", "promote"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert training.get_task(downstream).upstream_task_ids == {upstream}
    assert training.timetable.asset_condition.name == "interactions_landed"
    assert training.timetable.timetable.expression == "0 3 * * 1"  # weekly
    assert [o.name for o in training.get_task("promote").outlets] == ["recommender_model_champion"]
    scoring = dagbag.dags["recommender_scoring"]
    assert scoring.timetable.asset_condition.name == "recommender_model_champion"
    assert (
        scoring.timetable.timetable.expression == "0 0 * * *"
    )  # daily, midnight: backfill dates = partition days
    assert scoring.get_task("recommend").upstream_task_ids == {"validate"}
    assert 1 < scoring.max_active_runs <= 8
    for dag in (training, scoring):
        assert all(t.dataset_schema == "interactions" for t in dag.tasks)


HEAVY = ["pandas", "sklearn", "mlflow", "great_expectations", "numpy", "boto3", "pyarrow"]
HEAVY += ["numba", "scipy"]


@pytest.mark.parametrize("dag_file", sorted(p.name for p in (REPO / "dags").glob("*.py")))
def test_dag_files_import_nothing_heavy(dag_file: str) -> None:
    """Parsing must stay cheap: no heavy library, directly or through plugins."""
    code = (
        "import json, runpy, sys\n"
        f"before = set(sys.modules)\nrunpy.run_path({str(REPO / 'dags' / dag_file)!r})\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules and m not in before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
