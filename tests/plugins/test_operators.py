"""Operators run against a real local lake; hooks and the incident notifier do real I/O."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import threading
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import pandas as pd
import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException

from mlops_airflow import links
from mlops_airflow.hooks import DataLakeHook, MlflowHook
from mlops_airflow.notifications import IncidentNotifier
from mlops_airflow.operators import (
    BatchScoreOperator,
    EvaluationGateOperator,
    ExtractPartitionOperator,
    LandSampleDataOperator,
    MlopsBaseOperator,
    PromoteModelOperator,
    RegisterModelOperator,
    TrainModelOperator,
    ValidatePartitionOperator,
    with_overrides,
)
from mlops_core import errors, lake
from mlops_core.errors import DataValidationError
from mlops_core.storage import LocalStorage, S3Storage

DAY = dt.date(2026, 11, 7)


def _context(day: dt.date = DAY, **params) -> dict:
    logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return {
        "run_id": "manual__2026-11-07T00:00:00+00:00",
        "ti": SimpleNamespace(try_number=1, dag_id="d", task_id="t"),
        "params": params,
        "logical_date": logical,
        "dag_run": SimpleNamespace(dag_id="d", run_id="r", run_after=logical),
        "outlet_events": defaultdict(lambda: SimpleNamespace(extra=None)),
    }


@pytest.fixture
def lake_root(tmp_path, monkeypatch) -> LocalStorage:
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLOPS_STORAGE_URL", raising=False)
    return LocalStorage(tmp_path / "lake")


def test_land_extract_validate_window(lake_root: LocalStorage) -> None:
    context = _context()
    land = LandSampleDataOperator(
        use_case="fraud", task_id="land", rows=400, lake_conn_id=None, outlets=[]
    )
    for day in (DAY - dt.timedelta(days=2), DAY):  # the day in between never landed
        result = land.execute(_context(day))
        assert lake_root.exists(
            lake.landing_prefix("fraud_transactions", day) + lake.SUCCESS_MARKER
        )
        assert result["rows"] == 400 and result["day"] == day.isoformat()

    extracted = ExtractPartitionOperator(
        use_case="fraud", task_id="extract", window_days=3, lake_conn_id=None
    ).execute(context)
    assert extracted["days"] == [(DAY - dt.timedelta(days=2)).isoformat(), DAY.isoformat()]
    validated = ValidatePartitionOperator(
        use_case="fraud", task_id="validate", window_days=3, lake_conn_id=None
    ).execute(context)
    assert validated["validated"] == extracted["days"]
    for day in extracted["days"]:
        assert lake_root.exists(
            lake.working_prefix("fraud_transactions", day) + lake.VALIDATED_MARKER
        )


def test_land_sets_outlet_event_day(lake_root: LocalStorage) -> None:
    from airflow.sdk import Asset

    asset = Asset(name="landed", uri="x-mlops://lake/landing/x")
    context = _context()
    LandSampleDataOperator(
        use_case="fraud", task_id="land", rows=200, lake_conn_id=None, outlets=[asset]
    ).execute(context)
    assert context["outlet_events"][asset].extra == {"day": DAY.isoformat()}


def test_land_drift_override_reaches_the_generator(lake_root: LocalStorage) -> None:
    """The ``drift`` Param renders as text ("None" or a number); a graded level's strength
    lands the same rows as the generator called with the level's name."""
    from mlops_core.sample_data import DRIFT_MEDIUM, generate_transactions

    def landed(drift) -> pd.DataFrame:
        LandSampleDataOperator(
            use_case="fraud", task_id="land", rows=500, drift=drift, lake_conn_id=None, outlets=[]
        ).execute(_context())
        key = lake.landing_prefix("fraud_transactions", DAY) + "part-000.csv"
        return pd.read_csv(io.BytesIO(lake_root.read_bytes(key)))

    expected = generate_transactions(DAY, n_rows=500, drift="medium")
    medium = landed(str(DRIFT_MEDIUM))
    assert medium["amount"].tolist() == expected["amount"].tolist()
    calm = landed("None")
    assert calm["amount"].tolist() == generate_transactions(DAY, n_rows=500)["amount"].tolist()


def test_validation_failure_fails_without_retry_and_quarantines(lake_root: LocalStorage) -> None:
    from mlops_core.sample_data import generate_transactions

    frame = generate_transactions(DAY, n_rows=300)
    frame.loc[4, "amount"] = -1.0
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prefix = lake.landing_prefix("fraud_transactions", DAY)
    lake_root.write_bytes(prefix + "part-000.csv", frame.to_csv(index=False).encode())
    lake_root.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    ExtractPartitionOperator(use_case="fraud", task_id="extract", lake_conn_id=None).execute(
        _context()
    )

    validate = ValidatePartitionOperator(
        use_case="fraud", task_id="validate", with_label=False, lake_conn_id=None
    )
    with pytest.raises(AirflowFailException) as err:
        validate.execute(_context())
    message = str(err.value)
    assert message.startswith("[DataValidationError] (runbook: /mlops/runbook#data-validation-failed)")
    assert "expect_column_values_to_be_between on column 'amount'" in message
    assert "tx-20261107-0000004" in message
    assert isinstance(err.value.__cause__, DataValidationError)
    where = err.value.__cause__.quarantine_path
    assert where and "quarantine/fraud_transactions/dt=2026-11-07/" in where
    assert lake_root.list(prefix) == []
    quarantined = lake_root.list("quarantine/fraud_transactions/dt=2026-11-07/")
    assert any(k.endswith("part-000.csv") for k in quarantined)
    report = json.loads(
        lake_root.read_bytes(next(k for k in quarantined if k.endswith("validation.json")))
    )
    assert report["success"] is False and report["failures"][0]["column"] == "amount"
    # The failed task's extra links lead to the quarantined batch and the Data Docs page, as
    # Airflow resolves them when the task finishes (same operator object, any ti_key).
    targets = {
        link.name: link.get_link(validate, ti_key=None) for link in validate.operator_extra_links
    }
    assert targets[links.QUARANTINE] == Path(where).resolve().as_uri()
    assert Path(unquote(urlparse(targets[links.QUARANTINE]).path)).is_dir()
    docs = Path(unquote(urlparse(targets[links.DATA_DOCS]).path))
    assert docs.name == "index.html" and docs.exists()


@pytest.mark.parametrize(
    ("operator", "fields"),
    [
        (ExtractPartitionOperator, {"day", "window_days"}),
        (ValidatePartitionOperator, {"day", "window_days"}),
        (TrainModelOperator, {"day", "overrides"}),
        (RegisterModelOperator, {"model_uri", "run_id"}),
        (EvaluationGateOperator, {"version", "thresholds"}),
        (PromoteModelOperator, {"version"}),
        (BatchScoreOperator, {"day", "model_selection", "overrides"}),
        (LandSampleDataOperator, {"day", "rows", "seed", "drift"}),
    ],
)
def test_templated_fields_cover_what_dags_template(operator, fields) -> None:
    assert fields <= set(operator.template_fields)


def test_lake_hook_falls_back_to_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_STORAGE_URL", str(tmp_path / "elsewhere"))
    hook = DataLakeHook(lake_conn_id="not_defined_anywhere")
    assert isinstance(hook.get_conn(), LocalStorage)
    assert hook.get_conn().root == (tmp_path / "elsewhere").resolve()
    assert hook.test_connection()[0] is True


def test_lake_hook_uses_connection_for_s3(monkeypatch, moto_s3_endpoint, s3_bucket) -> None:
    conn = {
        "conn_type": "mlops_lake",
        "extra": {"url": f"s3://{s3_bucket}/lake", "endpoint_url": moto_s3_endpoint},
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_LAKE", json.dumps(conn))
    hook = DataLakeHook()
    storage = hook.get_conn()
    assert isinstance(storage, S3Storage) and storage.bucket == s3_bucket
    ok, message = hook.test_connection()
    assert ok, message
    conn["extra"]["endpoint_url"] = "http://127.0.0.1:9"
    monkeypatch.setenv("AIRFLOW_CONN_MLOPS_LAKE", json.dumps(conn))
    ok, message = DataLakeHook().test_connection()
    assert not ok and "cannot list" in message


def test_mlflow_hook_connection_and_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert (
        MlflowHook(mlflow_conn_id="absent").tracking_uri
        == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_MLFLOW_DEFAULT",
        json.dumps({"conn_type": "mlflow", "host": "http://mlflow", "port": 5000}),
    )
    assert MlflowHook().tracking_uri == "http://mlflow:5000"


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[dict]  # set per test on a subclass, so no test sees another's requests

    def do_POST(self):  # noqa: N802 - http.server API
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_incident_notifier_writes_log_and_webhook(tmp_path, monkeypatch) -> None:
    collector = type("Collector", (_Collector,), {"received": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("MLOPS_INCIDENT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    cause = DataValidationError("3 of 19 checks failed", quarantine_path="/lake/quarantine/x")
    try:
        raise AirflowFailException(
            "[DataValidationError] (runbook: /mlops/runbook#data-validation-failed)\n..."
        ) from cause
    except AirflowFailException as exc:
        error = exc
    context = _context()
    context["exception"] = error
    context["ti"] = SimpleNamespace(
        dag_id="fraud_scoring", task_id="validate", try_number=2, log_url="http://ui/log"
    )
    try:
        IncidentNotifier().notify(context)
    finally:
        server.shutdown()
    lines = (tmp_path / "incidents.jsonl").read_text().splitlines()
    assert len(lines) == 1
    incident = json.loads(lines[0])
    assert incident["dag_id"] == "fraud_scoring" and incident["task_id"] == "validate"
    assert incident["try_number"] == 2
    assert incident["exception_type"] == "DataValidationError"
    assert incident["runbook_section"] == "data-validation-failed"
    assert incident["quarantine_path"] == "/lake/quarantine/x"
    assert incident["logical_date"] == "2026-11-07T00:00:00+00:00"
    assert collector.received == [incident]


def test_recommender_scoring_waits_for_history_in_flight(lake_root: LocalStorage) -> None:
    """Top-K reads the whole history window: a landed earlier day that another run is still
    validating must be waited for, or the output would depend on which run finished first."""
    from mlops_core.errors import InputMissingError
    from mlops_core.recsys.steps import pending_history

    earlier = DAY - dt.timedelta(days=1)
    land = LandSampleDataOperator(
        task_id="land", use_case="recommender", rows=300, lake_conn_id=None, outlets=[]
    )
    for day in (earlier, DAY):
        land.execute(_context(day))

    def extract_and_validate(day: dt.date) -> None:
        ExtractPartitionOperator(
            task_id="extract", use_case="recommender", lake_conn_id=None
        ).execute(_context(day))
        ValidatePartitionOperator(
            task_id="validate", use_case="recommender", with_label=False, lake_conn_id=None
        ).execute(_context(day))

    extract_and_validate(DAY)
    schema = land.schema
    assert pending_history(lake_root, schema, DAY, 28) == [earlier.isoformat()]
    assert pending_history(lake_root, schema, DAY, 1) == []  # outside a 1-day window

    impatient = BatchScoreOperator(
        task_id="recommend",
        use_case="recommender",
        model_name="recommender_model",
        overrides={"history_wait_seconds": 0},
        lake_conn_id=None,
    )
    with pytest.raises(InputMissingError, match=f"not validated after 0s: {earlier}"):
        impatient.execute(_context())
    assert not lake_root.list(lake.scored_prefix(schema.name, DAY))

    patient = BatchScoreOperator(
        task_id="recommend",
        use_case="recommender",
        model_name="recommender_model",
        overrides={"history_wait_seconds": 60, "history_poll_seconds": 0.05},
        lake_conn_id=None,
    )
    other_run = threading.Timer(0.3, extract_and_validate, args=(earlier,))
    other_run.start()
    params = with_overrides(patient.spec.scoring, patient.overrides)
    # returns once the other run has validated `earlier`
    patient.task.wait_for_inputs(lake_root, patient.spec, DAY, params, log=patient.log)
    other_run.join()
    assert pending_history(lake_root, schema, DAY, 28) == []


def _pipeline_errors(cls=errors.PipelineError) -> list[type]:
    return [cls, *(sub for c in cls.__subclasses__() for sub in _pipeline_errors(c))]


# Infrastructure: a partition not landed yet, the registry or the lake unreachable or racing.
INFRA_ERRORS = {
    errors.InputMissingError,
    errors.RegistryError,
    errors.NoChampionError,
    errors.RegistryConflictError,
    errors.StorageUnavailableError,
}


class _Raises(MlopsBaseOperator):
    def __init__(self, *, error: type, **kwargs) -> None:
        super().__init__(**kwargs)
        self.error = error

    def run(self, context):
        raise self.error("boom", check="c", files=["landing/x.csv"])


@pytest.mark.parametrize("error", _pipeline_errors(), ids=lambda c: c.__name__)
def test_only_infrastructure_errors_are_retried(error) -> None:
    """Every typed input, data, schema, model or gate failure fails the task at once; only
    infrastructure failures reach Airflow as themselves, so its retries with backoff apply."""
    op = _Raises(use_case="fraud", task_id="t", error=error, lake_conn_id=None, mlflow_conn_id=None)
    assert error.retryable is (error in INFRA_ERRORS)
    if error in INFRA_ERRORS:
        with pytest.raises(error):
            op.execute(_context())
    else:
        with pytest.raises(AirflowFailException, match=rf"\[{error.__name__}\]") as err:
            op.execute(_context())
        assert isinstance(err.value.__cause__, error)


@pytest.mark.parametrize(
    ("run_type", "assets", "trigger"),
    [
        ("manual", [], "manual"),
        ("backfill", [], "backfill"),
        ("scheduled", [], "scheduled"),
        ("asset_triggered", ["fraud_transactions_landed"], "landing"),
        ("asset_triggered", ["fraud_model_retrain_requested"], "retrain_request"),
        (
            "asset_triggered",
            ["fraud_model_retrain_requested", "fraud_transactions_landed"],
            "landing",
        ),
    ],
)
def test_run_trigger_names_what_started_the_run(run_type, assets, trigger) -> None:
    from mlops_airflow.operators import run_trigger

    context = _context()
    context["dag_run"].run_type = run_type
    context["triggering_asset_events"] = {Asset(a): [] for a in assets}
    assert run_trigger(context) == trigger


@pytest.mark.parametrize(
    ("run_type", "assets", "mode"),
    [
        ("manual", [], "direct"),  # by hand: the Param (spec's `promotion`)
        ("scheduled", [], "shadow"),  # the cron: the spec's `automatic_promotion`
        ("asset_triggered", ["fraud_transactions_landed"], "shadow"),
        ("asset_triggered", ["fraud_model_retrain_requested"], "direct"),  # the policy asked
    ],
)
def test_runs_nobody_triggered_by_hand_promote_by_the_automatic_policy(
    run_type, assets, mode
) -> None:
    op = PromoteModelOperator(task_id="promote", use_case="fraud", version="2", mode="direct")
    context = _context()
    context["dag_run"].run_type = run_type
    context["triggering_asset_events"] = {Asset(a): [] for a in assets}
    assert op._mode(context) == mode


def test_link_urls_follow_the_configured_bases(tmp_path) -> None:
    root = tmp_path / "data"
    report = root / "reports" / "gates" / "m" / "v2" / "verdict.md"
    assert links.location_url(str(report), root, env={}) == report.resolve().as_uri()
    served = {"MLOPS_FILES_URL": "http://127.0.0.1:8000/files/"}
    assert (
        links.location_url(str(report), root, env=served)
        == "http://127.0.0.1:8000/files/reports/gates/m/v2/verdict.md"
    )
    s3 = "s3://lake-bucket/lake/quarantine/tx/dt=2026-11-07/b1/"
    assert links.location_url(s3, root, env={}) == s3
    browser = {"MLOPS_S3_BROWSER_URL": "http://127.0.0.1:9001/browser/{bucket}/{key}"}
    assert links.location_url(s3, root, env=browser) == (
        "http://127.0.0.1:9001/browser/lake-bucket/lake/quarantine/tx/dt%3D2026-11-07/b1/"
    )
    assert links.mlflow_ui_base("sqlite:///x.db", env={}) == "http://127.0.0.1:5000"
    assert links.mlflow_ui_base("http://mlflow:5000/", env={}) == "http://mlflow:5000"
    assert links.mlflow_ui_base("x", env={"MLOPS_MLFLOW_UI_URL": "https://ml/"}) == "https://ml"
    assert links.mlflow_run_url("https://ml", "3", "abc") == "https://ml/#/experiments/3/runs/abc"
    assert links.model_version_url("https://ml", "fraud model", "2") == (
        "https://ml/#/models/fraud%20model/versions/2"
    )


def test_a_link_the_task_never_reached_has_no_url() -> None:
    op = TrainModelOperator(task_id="train", use_case="fraud")
    assert [link.get_link(op, ti_key=None) for link in op.operator_extra_links] == [""]


def test_training_dag_serialises_the_extra_links() -> None:
    """The UI reads each link's XCom by the names the serialized DAG carries."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags[
        "fraud_training"
    ]
    tasks = {
        t["__var"]["task_id"]: t["__var"] for t in DagSerialization.to_dict(dag)["dag"]["tasks"]
    }
    assert tasks["train"]["_operator_extra_links"] == {"MLflow run": "_link_MlflowRunLink"}
    assert set(tasks["evaluation_gate"]["_operator_extra_links"]) == {
        "Gate verdict",
        "Model version",
    }
    assert set(tasks["validate"]["_operator_extra_links"]) == {"Data Docs", "Quarantine"}
