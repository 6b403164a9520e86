"""MLflow registry promotion and batch scoring against a real (SQLite-backed) MLflow store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_core import lake, registry, steps
from mlops_core.config import Settings
from mlops_core.errors import GateRejectedError, NoChampionError, RegistryError
from mlops_core.evaluate import GateThresholds
from mlops_core.schema import load_schema
from mlops_core.score import score_file
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams

SCHEMA = load_schema("fraud")
END = dt.date(2026, 11, 6)
AT = dt.datetime(2026, 11, 7, tzinfo=dt.UTC)
MODEL = "fraud_model_test"


class Untrusted:
    """Not on the trusted list: loading an artifact containing it must be refused."""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    for offset in range(6):
        day = END - dt.timedelta(days=offset)
        steps.land_sample_partition(storage, SCHEMA, day, rows=3_000)
    days = steps.extract_window(storage, SCHEMA, END, 6, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    trained = steps.train(
        storage, SCHEMA, END, settings=settings, params=TrainParams(window_days=6), experiment="t"
    )
    return settings, storage, trained


def test_train_logs_reproducibility_tags(world) -> None:
    settings, _, trained = world
    run = registry.client(settings.mlflow_tracking_uri).get_run(trained["run_id"])
    for tag in (
        "data_fingerprint",
        "code_version",
        "lock_hash",
        "expectation_suite_hash",
        "schema_fingerprint",
    ):
        assert run.data.tags[tag] and run.data.tags[tag] != "unknown", tag
    assert run.data.metrics["pr_auc"] == pytest.approx(trained["metrics"]["pr_auc"])
    assert run.data.params["window_days"] == "6"


def test_no_champion_means_scoring_refuses(world) -> None:
    settings, storage, _ = world
    with pytest.raises(NoChampionError, match="no 'champion' alias"):
        steps.score(storage, SCHEMA, END, settings=settings, model_name=MODEL)


def test_register_gate_promote_then_reject(world) -> None:
    settings, storage, trained = world
    uri = settings.mlflow_tracking_uri
    ref = steps.register(settings, MODEL, trained["model_uri"], trained["run_id"])
    assert (
        steps.register(settings, MODEL, trained["model_uri"], trained["run_id"]) == ref
    )  # retry-safe
    assert registry.resolve(uri, MODEL, "challenger").version == ref["version"] == "1"

    with pytest.raises(GateRejectedError):
        steps.promote(settings, MODEL, "1", actor="t", at=AT)  # no verdict yet
    verdict = steps.gate(
        settings, SCHEMA, MODEL, "1", GateThresholds(min_pr_auc=0.1, min_recall_at_fpr=0.1)
    )
    assert verdict.passed and verdict.champion is None
    record = steps.promote(settings, MODEL, "1", actor="tester", at=AT)
    assert record["promoted"] is True and record["previous_version"] is None
    tags = registry.version_tags(uri, registry.require(uri, MODEL))
    assert tags["promoted_by"] == "tester" and tags["previous_champion"] == "none"
    assert (
        steps.promote(settings, MODEL, "1", actor="tester", at=AT)["promoted"] is False
    )  # idempotent
    assert (settings.reports_dir / "gates" / MODEL / "v1" / "verdict.md").exists()

    # A second version of the same run, gated against the champion with an impossible floor.
    import mlflow

    registry.client(uri)
    v2 = str(mlflow.register_model(trained["model_uri"], MODEL).version)
    with pytest.raises(GateRejectedError, match="champion \\(1\\) is unchanged"):
        steps.gate(settings, SCHEMA, MODEL, v2, GateThresholds(min_pr_auc=0.99))
    assert registry.require(uri, MODEL).version == "1"
    rejected = registry.client(uri).get_model_version(MODEL, v2)
    assert rejected.tags["gate_decision"] == "reject"
    with pytest.raises(GateRejectedError):
        steps.promote(settings, MODEL, v2, actor="t", at=AT)
    assert registry.require(uri, MODEL).version == "1"


def test_scoring_matches_predict_proba_and_is_byte_stable(world, tmp_path: Path) -> None:
    settings, storage, _ = world
    ref = registry.require(settings.mlflow_tracking_uri, MODEL)
    model = registry.load_model(settings.mlflow_tracking_uri, ref)
    src = storage.path(lake.working_data_key(SCHEMA.name, END))
    rows = score_file(
        src, tmp_path / "a.parquet", model, SCHEMA, model_version=ref.version, batch_rows=1_000
    )
    score_file(
        src, tmp_path / "b.parquet", model, SCHEMA, model_version=ref.version, batch_rows=1_000
    )
    score_file(
        src, tmp_path / "c.parquet", model, SCHEMA, model_version=ref.version, batch_rows=100_000
    )
    assert rows == (3_000, 3_000)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    inputs = pd.read_parquet(src)
    out = pd.read_parquet(tmp_path / "a.parquet")
    assert out["transaction_id"].tolist() == inputs["transaction_id"].tolist()
    expected = model.predict_proba(inputs[SCHEMA.model_input_columns])[:, 1]
    np.testing.assert_allclose(out["score"].to_numpy(), expected)
    np.testing.assert_allclose(
        pd.read_parquet(tmp_path / "c.parquet")["score"].to_numpy(), expected
    )
    assert (out["model_version"] == int(ref.version)).all()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []


def test_steps_score_writes_output_then_manifest(world) -> None:
    settings, storage, _ = world
    manifest = steps.score(
        storage, SCHEMA, END, settings=settings, model_name=MODEL, batch_rows=1_000
    )
    stored = json.loads(storage.read_bytes(lake.scored_prefix(SCHEMA.name, END) + lake.MANIFEST))
    assert stored == manifest.to_dict()
    assert stored["rows_in"] == stored["rows_out"] == 3_000
    assert stored["model_version"] == "1" and stored["model_rule"] == "alias:champion"
    again = steps.score(storage, SCHEMA, END, settings=settings, model_name=MODEL, batch_rows=1_000)
    assert again.output_sha256 == manifest.output_sha256


@pytest.mark.fault
def test_tampered_artifact_is_refused_and_champion_untouched(world) -> None:
    import skops.io

    settings, storage, _ = world
    uri = settings.mlflow_tracking_uri
    champion = registry.require(uri, MODEL)
    files = sorted((settings.data_root / "mlflow" / "artifacts").rglob("*.skops"))
    assert files, "no stored skops artifact found"
    for path in files:
        path.write_bytes(skops.io.dumps(Untrusted()))
    with pytest.raises(RegistryError, match="refusing to load"):
        registry.load_model(uri, champion)
    with pytest.raises(RegistryError):
        steps.score(storage, SCHEMA, END, settings=settings, model_name=MODEL)
    assert registry.require(uri, MODEL).version == champion.version
