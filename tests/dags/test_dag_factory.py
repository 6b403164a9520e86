"""A new use case is one spec file: the factory builds its DAGs with no code change, and a
broken spec is shown in the UI without taking the other use cases down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

CHURN = """
name: churn
description: Which subscribers cancel next month.
task: binary_classification
dataset:
  name: subscribers
  id_column: account
  timestamp_column: snapshot_at
  label_column: churned
  label_values: ["no", "yes"]
  positive_label: "yes"
  numeric:
    - {name: tenure_months, min: 0, max: 600}
    - {name: last_login_days, min: 0, max: 3650, nullable: true}
  categorical: [plan]
model:
  estimator: random_forest
  n_estimators: 50
training:
  schedule: null
  on_new_data: true
  window_days: 30
gate:
  min_pr_auc: 0.1
  min_recall_at_fpr: 0.05
scoring:
  schedule: "30 5 * * *"
"""


def _dags_with(specs_dir: Path) -> dict:
    """DAG ids -> (task ids, schedule summary, tags) as the DAG file builds them with
    ``MLOPS_SPECS_DIR`` set, in a fresh interpreter (as the dag-processor parses)."""
    code = (
        "import json, runpy\n"
        f"ns = runpy.run_path({str(REPO / 'dags' / 'use_cases.py')!r})\n"
        "from airflow.sdk import DAG\n"
        "out = {k: {'tasks': sorted(t.task_id for t in v.tasks), 'tags': sorted(v.tags),\n"
        "           'timetable': type(v.timetable).__name__, 'doc': v.doc_md}\n"
        "       for k, v in ns.items() if isinstance(v, DAG)}\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "MLOPS_SPECS_DIR": str(specs_dir)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_new_spec_file_becomes_dags(tmp_path: Path) -> None:
    (tmp_path / "churn.yaml").write_text(CHURN)

    dags = _dags_with(tmp_path)

    assert {"churn_training", "churn_scoring", "churn_rollback"} <= set(dags)
    assert "churn_sample_landing" not in dags  # no sample_data: the team lands real files
    assert "churn_monitoring" not in dags  # no monitoring section
    assert dags["churn_training"]["tasks"] == sorted(
        ["wait_for_partition", "extract", "validate", "train", "register"]
        + ["evaluation_gate", "promote"]
    )
    # schedule: null + on_new_data: only the landed Asset triggers training
    assert dags["churn_training"]["timetable"] == "AssetTriggeredTimetable"
    assert "churn" in dags["churn_scoring"]["tags"]
    assert str(tmp_path / "churn.yaml") in dags["churn_training"]["doc"]
    assert "fraud_training" in dags  # the bundled use cases are still there


def test_an_invalid_spec_gets_a_failing_dag_and_the_others_still_load(tmp_path: Path) -> None:
    broken = CHURN.replace("min_pr_auc: 0.1", "min_pr_auc: high").replace(
        "[plan]", "[plan, churned]"
    )
    (tmp_path / "churn.yaml").write_text(broken)

    dags = _dags_with(tmp_path)

    assert "churn_training" not in dags
    doc = dags["spec_invalid__churn"]["doc"]
    assert "churn.yaml: gate.min_pr_auc: expected a number" in doc
    assert "dataset.categorical[1]" in doc and "label" in doc  # label leakage named
    assert {"fraud_training", "loans_training", "recommender_training"} <= set(dags)


def test_the_invalid_spec_dag_fails_with_the_error(tmp_path: Path) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    from mlops_airflow.dag_factory import build_all

    (tmp_path / "churn.yaml").write_text(CHURN.replace("task: binary_classification", "task: x"))
    dags = build_all({**os.environ, "MLOPS_SPECS_DIR": str(tmp_path)})
    task = dags["spec_invalid__churn"].get_task("spec_invalid")
    with pytest.raises(AirflowFailException, match="unknown task type 'x'"):
        task.python_callable(*task.op_args)
