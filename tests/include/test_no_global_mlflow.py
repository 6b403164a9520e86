"""No process-global MLflow state: the tracking URI travels with each call, never in the process.

A Celery worker runs task after task in one process. If one of them set
``mlflow.set_tracking_uri`` (which also writes ``MLFLOW_TRACKING_URI`` into ``os.environ``),
the next task's ``Settings.from_env()`` would read that store, get no artifact location and
let MLflow put artifacts under ``./mlruns`` of whatever directory the worker runs in.
Here two stores are used one after the other in one process, from an empty working directory,
through the same code paths the operators call.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import mlflow
import pytest

from mlops_core import monitoring, registry, sample_data, steps
from mlops_core.config import Settings
from mlops_core.drift import DriftThresholds
from mlops_core.evaluate import GateThresholds
from mlops_core.policy import RetrainPolicy
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams

SCHEMA = load_schema("fraud")
END = dt.date(2026, 11, 4)
LOOSE = GateThresholds(
    min_pr_auc=0.0,
    min_recall_at_fpr=0.0,
    relative_margin=1.0,
    min_positives=1,
    max_detectable_drop=100.0,
)
URI_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def _train_register_load_monitor(
    root: Path, model: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """Everything a day of the fraud use case does with MLflow, against the store under root.

    Settings come from the process environment, as the Airflow hooks build them, so a URI
    leaked into ``os.environ`` by an earlier call would be picked up here (and, with no
    artifact location configured for such a store, MLflow would default to ``./mlruns``).
    """
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(root))
    settings = Settings.from_env()
    storage = LocalStorage(settings.storage_url)
    train_days = [END - dt.timedelta(days=i) for i in range(5)]
    for day in train_days:
        sample_data.land_sample_partition(storage, SCHEMA, day, rows=3_000)
    ready = steps.extract_window(storage, SCHEMA, END, 5, "b")
    steps.validate_window(storage, SCHEMA, ready, settings=settings, batch_id="b")
    trained = steps.train(
        storage,
        SCHEMA,
        END,
        settings=settings,
        params=TrainParams(window_days=5, max_iter=20, min_positive_labels=5),
        experiment=f"{model}_training",
    )
    version = steps.register(settings, model, trained["model_uri"], trained["run_id"])["version"]
    steps.gate(settings, SCHEMA, model, version, LOOSE)
    at = dt.datetime.combine(END, dt.time(), tzinfo=dt.UTC)
    steps.promote(settings, storage, model, version, actor="test", at=at)
    champion = registry.require(settings.mlflow_tracking_uri, model)
    assert registry.load_model(settings.mlflow_tracking_uri, champion) is not None

    live = END + dt.timedelta(days=1)
    sample_data.land_sample_partition(storage, SCHEMA, live, rows=1_500)
    steps.extract(storage, SCHEMA, live, "s")
    steps.validate(storage, SCHEMA, live, settings=settings, batch_id="s", with_label=False)
    steps.score(storage, SCHEMA, live, settings=settings, model_name=model)
    monitoring.monitor(
        storage,
        SCHEMA,
        live,
        settings=settings,
        model_name=model,
        thresholds=DriftThresholds(),
        perf=monitoring.PerformanceThresholds(),
        policy=RetrainPolicy(),
    )
    return settings


def _runs(tracking_uri: str) -> dict[str, str]:
    """run id -> artifact URI of every run in the store."""
    mlc = registry.client(tracking_uri)
    experiments = [e.experiment_id for e in mlc.search_experiments()]
    return {r.info.run_id: r.info.artifact_uri for r in mlc.search_runs(experiments)}


def test_two_stores_in_one_process_leave_no_global_state(tmp_path, monkeypatch) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for key in URI_VARS:
        monkeypatch.delenv(key, raising=False)
    uri_before = mlflow.get_tracking_uri()
    registry_before = mlflow.get_registry_uri()

    # Two use cases in one worker process, one after the other, each with its own store.
    first = _train_register_load_monitor(tmp_path / "first", "fraud_first", monkeypatch)
    second = _train_register_load_monitor(tmp_path / "second", "fraud_second", monkeypatch)

    # Checked symptom first: on the old code (1) fails with mlruns/ in the working directory.
    # (1) Nothing was written to the working directory (no mlruns/, no mlflow.db).
    assert sorted(p.name for p in cwd.iterdir()) == []
    # (3) Each store holds its own runs (training + monitoring) and only its own model, with
    # artifacts under its own data root.
    assert first.mlflow_tracking_uri != second.mlflow_tracking_uri
    for settings, model in ((first, "fraud_first"), (second, "fraud_second")):
        runs = _runs(settings.mlflow_tracking_uri)
        assert len(runs) == 2, runs
        root = (settings.data_root / "mlflow" / "artifacts").as_uri()
        assert all(uri.startswith(root) for uri in runs.values()), runs
        versions = registry.client(settings.mlflow_tracking_uri).search_model_versions()
        assert [(v.name, str(v.version)) for v in versions] == [(model, "1")]
    assert not set(_runs(first.mlflow_tracking_uri)) & set(_runs(second.mlflow_tracking_uri))
    # (2) The process-wide MLflow configuration is what it was.
    assert mlflow.get_tracking_uri() == uri_before
    assert mlflow.get_registry_uri() == registry_before
    assert {k: os.environ.get(k) for k in URI_VARS} == dict.fromkeys(URI_VARS)
