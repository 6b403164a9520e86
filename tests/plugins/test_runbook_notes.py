"""The runbook page has an id for every section an error names, the failure note carries what
on-call needs in Airflow's 1,000 characters, and the file view stays inside the data root."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_airflow.dag_defaults import RUNBOOK_COMMON
from mlops_airflow.ui import render_runbook, runbook_url
from mlops_core import errors
from mlops_core.incidents import Incident, failure_note, runbook_ref, runbook_section


def _error_classes() -> list[type[errors.PipelineError]]:
    found, todo = [], [errors.PipelineError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_runbook_section_an_error_names_has_an_id() -> None:
    page = render_runbook(RUNBOOK_COMMON)
    ids = set(re.findall(r'id="([\w-]+)"', page))
    named = {cls.runbook for cls in _error_classes()} - {"general"}
    assert len(named) >= 10
    assert named <= ids, f"sections without an anchor: {sorted(named - ids)}"


def test_runbook_reference_round_trips_through_messages() -> None:
    message = f"[DataValidationError] ({runbook_ref('data-validation-failed')})\n3 rows failed"
    assert runbook_section(message) == "data-validation-failed"
    assert runbook_url("gate-rejected", "http://127.0.0.1:8080/") == (
        "http://127.0.0.1:8080/mlops/runbook#gate-rejected"
    )


def _incident(message: str, **kw) -> Incident:
    base = dict(
        dag_id="fraud_scoring",
        task_id="validate",
        logical_date="2026-11-11T00:00:00+00:00",
        run_id="manual__x",
        try_number=1,
        exception_type="DataValidationError",
        message=message,
        runbook_section="data-validation-failed",
        quarantine_path="/lake/quarantine/fraud_transactions/dt=2026-11-11/manual__x__try1",
        log_url=None,
        check="expect_column_values_to_be_between(amount)",
        files=("landing/fraud_transactions/dt=2026-11-11/part-000.csv",),
        rows=({"row": 5, "amount": -20.0},),
    )
    base.update(kw)
    return Incident(**base)


def test_failure_note_says_what_broke_where_the_data_went_and_what_to_read() -> None:
    note = failure_note(
        _incident(
            "[DataValidationError] (runbook: /mlops/runbook#data-validation-failed)\n"
            "fraud_transactions 2026-11-11 failed 2 checks; the batch was moved to quarantine"
        )
    )
    assert note.startswith("**DataValidationError** in `validate` (try 1)")
    assert "quarantine/fraud_transactions/dt=2026-11-11/manual__x__try1" in note
    assert "[data-validation-failed](/mlops/runbook#data-validation-failed)" in note
    assert "expect_column_values_to_be_between(amount)" in note
    assert "part-000.csv" in note


def test_a_long_message_is_cut_but_the_quarantine_and_runbook_stay() -> None:
    note = failure_note(_incident("x" * 5000))
    assert len(note) <= 1000
    assert "…" in note
    assert "Quarantine:" in note and "/mlops/runbook#data-validation-failed" in note


def test_file_view_refuses_paths_outside_the_data_root(tmp_path: Path) -> None:
    from fastapi import HTTPException

    from mlops_airflow.ui import _inside

    root = tmp_path / "root"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "verdict.json").write_text("{}")
    (tmp_path / "secret.txt").write_text("no")
    (root / "reports" / "escape").symlink_to(tmp_path / "secret.txt")
    assert _inside(root, "reports/verdict.json") == (root / "reports" / "verdict.json").resolve()
    for bad in ("../secret.txt", "reports/../../secret.txt", "reports/escape", "missing"):
        with pytest.raises(HTTPException):
            _inside(root, bad)
