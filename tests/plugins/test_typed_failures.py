"""On call at the operator level: typed input failures fail at once (no retry) and the
incident names the check, the files, the offending rows and the quarantine folder;
infrastructure waits retry."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops_airflow.notifications import IncidentNotifier
from mlops_airflow.operators import ExtractPartitionOperator, ValidatePartitionOperator
from mlops_core import lake
from mlops_core.errors import InputMissingError
from mlops_core.sample_data import generate_transactions
from mlops_core.storage import LocalStorage

pytestmark = pytest.mark.bad_input
DAY = dt.date(2026, 11, 7)
DATASET = "fraud_transactions"


def _context(error: BaseException | None = None) -> dict:
    logical = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)
    return {
        "run_id": "manual__2026-11-07T00:00:00+00:00",
        "ti": SimpleNamespace(
            try_number=1, dag_id="fraud_training", task_id="extract", log_url=None
        ),
        "params": {},
        "logical_date": logical,
        "dag_run": SimpleNamespace(dag_id="fraud_training", run_id="r", run_after=logical),
        "outlet_events": defaultdict(lambda: SimpleNamespace(extra=None)),
        "exception": error,
    }


@pytest.fixture
def lake_root(tmp_path, monkeypatch, validated_elsewhere) -> LocalStorage:
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_STORAGE_URL", raising=False)
    monkeypatch.delenv("MLOPS_INCIDENT_WEBHOOK_URL", raising=False)
    storage = LocalStorage(tmp_path / "lake")
    validated_elsewhere(storage)  # another day's validated data: byte-identical afterwards
    return storage


def test_unsupported_file_fails_without_retry_and_the_incident_names_it(lake_root, tmp_path):
    prefix = lake.landing_prefix(DATASET, DAY)
    frame = generate_transactions(DAY, n_rows=200)
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lake_root.write_bytes(prefix + "part-000.csv", frame.to_csv(index=False).encode())
    lake_root.write_bytes(prefix + "export.json", b"{}")
    lake_root.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    op = ExtractPartitionOperator(use_case="fraud", task_id="extract", lake_conn_id=None)
    with pytest.raises(AirflowFailException, match=r"\[UnsupportedInputError\]") as err:
        op.execute(_context())
    IncidentNotifier().notify(_context(err.value))
    incident = json.loads((tmp_path / "incidents.jsonl").read_text().splitlines()[-1])
    assert incident["exception_type"] == "UnsupportedInputError"
    assert incident["check"] == "supported_file_types"
    assert incident["files"] == [prefix + "export.json"]
    assert incident["runbook_section"] == "corrupt-input"
    quarantine = incident["quarantine_path"]
    assert quarantine.endswith("__try1") and "export.json" in incident["message"]
    assert json.loads(
        (tmp_path / "lake" / quarantine.split("/lake/", 1)[1] / "validation.json").read_text()
    )


def test_failed_validation_incident_names_check_file_and_rows(lake_root, tmp_path):
    prefix = lake.landing_prefix(DATASET, DAY)
    frame = generate_transactions(DAY, n_rows=200)
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frame.loc[7, "amount"] = -3.0
    bad_id = frame.loc[7, "transaction_id"]
    lake_root.write_bytes(prefix + "part-000.csv", frame.to_csv(index=False).encode())
    lake_root.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    ExtractPartitionOperator(use_case="fraud", task_id="extract", lake_conn_id=None).execute(
        _context()
    )
    op = ValidatePartitionOperator(
        use_case="fraud", task_id="validate", lake_conn_id=None, mlflow_conn_id=None
    )
    with pytest.raises(AirflowFailException, match=r"\[DataValidationError\]") as err:
        op.execute(_context())
    IncidentNotifier().notify(_context(err.value))
    incident = json.loads((tmp_path / "incidents.jsonl").read_text().splitlines()[-1])
    assert incident["check"] == "expect_column_values_to_be_between"
    assert incident["files"] == [prefix + "part-000.csv"]
    assert [r["transaction_id"] for r in incident["rows"]] == [bad_id]
    assert incident["rows"][0]["amount"] == -3.0
    assert incident["rows"][0]["check"] == "expect_column_values_to_be_between"
    assert incident["quarantine_path"].endswith("__try1")


def test_incomplete_partition_is_retried(lake_root):
    lake_root.write_bytes(lake.landing_prefix(DATASET, DAY) + "part-000.csv", b"a,b\n1,2\n")
    op = ExtractPartitionOperator(use_case="fraud", task_id="extract", lake_conn_id=None)
    with pytest.raises(InputMissingError, match="no _SUCCESS marker"):
        op.execute(_context())
