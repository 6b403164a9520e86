"""DAG files load, carry runbooks, tags, retries and timeouts, and stay light to parse."""

from __future__ import annotations

import copy
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
    "self-evaluation",
    "no-champion",
    "registry-conflict",
    "storage-unavailable",
    "schema-invalid",
]
EXPECTED = {
    f"{use_case}_{role}"
    for use_case in ("fraud", "recommender", "loans")
    for role in ("training", "scoring", "rollback", "sample_landing")
} | {"fraud_monitoring", "loans_monitoring"}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED  # the recommender has no monitoring (not for ranking)


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
    assert timetable.timetable.expression == "0 2 * * *"
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
        ("fraud_training", {"estimator": "logistic_regression"}, True),
        ("fraud_training", {"estimator": "pure_svd"}, False),
        ("fraud_rollback", {"target": "previous"}, True),
        ("fraud_rollback", {"target": "3"}, True),
        ("fraud_rollback", {"target": "latest; drop table"}, False),
        ("fraud_monitoring", {"psi_alert": -1}, False),
        ("loans_training", {"fpr_target": 0.05, "estimator": "random_forest"}, True),
        ("loans_training", {"min_pr_auc": 2}, False),
        ("recommender_training", {"promotion": "shadow"}, False),
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

    # A copy: assigning into a ParamsDict changes the DAG's own Param objects.
    merged = ParamsDict(copy.deepcopy(dagbag.dags[dag_id].params))
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
    assert scoring.get_task("score").upstream_task_ids == {"validate"}
    assert [o.name for o in scoring.get_task("score").outlets] == ["interactions_scored"]
    assert 1 < scoring.max_active_runs <= 8
    for dag in (training, scoring):
        assert all(t.use_case == "recommender" for t in dag.tasks)


def test_param_defaults_come_from_the_spec(dagbag) -> None:
    """The trigger form offers the spec's values: loans' gate and estimator, not fraud's."""
    from mlops_core.spec import load_spec

    loans = load_spec("loans")
    params = dagbag.dags["loans_training"].params
    assert params["estimator"] == loans.train.estimator == "logistic_regression"
    assert params["min_pr_auc"] == loans.gate.min_pr_auc
    assert params["fpr_target"] == loans.gate.fpr_target == 0.05
    assert dagbag.dags["fraud_training"].params["min_pr_auc"] == load_spec("fraud").gate.min_pr_auc
    assert dagbag.dags["loans_scoring"].params["batch_rows"] == loans.scoring.batch_rows


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
