"""MLflow registry promotion and batch scoring against a real (SQLite-backed) MLflow store."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from mlops_core import lake, ledger, registry, sample_data, steps
from mlops_core.config import Settings
from mlops_core.errors import (
    GateRejectedError,
    NoChampionError,
    RegistryConflictError,
    RegistryError,
    SelfEvaluationError,
)
from mlops_core.evaluate import GateThresholds
from mlops_core.schema import load_schema
from mlops_core.score import score_file
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams

SCHEMA = load_schema("fraud")
END = dt.date(2026, 11, 6)
AT = dt.datetime(2026, 11, 7, tzinfo=dt.UTC)
# The test lake is small (~28 holdout positives): the evidence floor is lowered to match.
GATE = GateThresholds(min_pr_auc=0.1, min_recall_at_fpr=0.1, min_positives=20)
# Labels mature late: the holdout pools matured days up to the gate's minimum.
POOLED = TrainParams(window_days=6, max_holdout_fraction=0.6, min_positives=20)
MODEL = "fraud_model_test"


class Untrusted:
    """Not on the trusted list: loading an artifact containing it must be refused."""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The lake and training run shared by this module's tests (training is the slow part).

    Tests never share registry state through it: each registers the run under a model name
    of its own (``model_name``), so versions, aliases, ledger and gate reports start empty.
    """
    root = tmp_path_factory.mktemp("registry")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    for offset in range(6):
        day = END - dt.timedelta(days=offset)
        sample_data.land_sample_partition(storage, SCHEMA, day, rows=3_000)
    days = steps.extract_window(storage, SCHEMA, END, 6, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    trained = steps.train(storage, SCHEMA, END, settings=settings, params=POOLED, experiment="t")
    return settings, storage, trained


@pytest.fixture
def model_name(request) -> str:
    """A registered-model name no other test uses."""
    return f"{MODEL}_{request.node.name.removeprefix('test_')}"


@pytest.fixture
def champion(world, model_name) -> str:
    """Version 1 of ``model_name``, gated (no champion to beat) and promoted by ``tester`` at
    AT before the test starts."""
    settings, storage, trained = world
    ref = steps.register(settings, model_name, trained["model_uri"], trained["run_id"])
    thresholds = GATE
    steps.gate(settings, SCHEMA, model_name, ref["version"], thresholds)
    record = steps.promote(settings, storage, model_name, ref["version"], actor="tester", at=AT)
    assert record["promoted"]
    return ref["version"]


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


def test_no_champion_means_scoring_refuses(world, model_name) -> None:
    settings, storage, _ = world
    with pytest.raises(NoChampionError, match="no 'champion' alias"):
        steps.score(storage, SCHEMA, END, settings=settings, model_name=model_name)


def test_register_gate_promote_then_reject(world, model_name) -> None:
    settings, storage, trained = world
    uri = settings.mlflow_tracking_uri
    ref = steps.register(settings, model_name, trained["model_uri"], trained["run_id"])
    assert (
        steps.register(settings, model_name, trained["model_uri"], trained["run_id"]) == ref
    )  # retry-safe
    # Registered only: no alias moves before the gate has passed.
    assert ref["version"] == "1" and registry.resolve(uri, model_name, "challenger") is None

    with pytest.raises(GateRejectedError):
        steps.promote(settings, storage, model_name, "1", actor="t", at=AT)  # no verdict yet
    verdict = steps.gate(settings, SCHEMA, model_name, "1", GATE)
    assert verdict.passed and verdict.champion is None
    record = steps.promote(settings, storage, model_name, "1", actor="tester", at=AT)
    assert record["promoted"] is True and record["previous_version"] is None
    tags = registry.version_tags(uri, registry.require(uri, model_name))
    assert tags["promoted_by"] == "tester" and tags["previous_champion"] == "none"
    assert (
        steps.promote(settings, storage, model_name, "1", actor="tester", at=AT)["promoted"]
        is False
    )  # idempotent
    assert (settings.reports_dir / "gates" / model_name / "v1" / "verdict.md").exists()

    # A second version of the same run, gated against the champion with an impossible floor.
    v2 = registry.create_version(uri, model_name, trained["model_uri"], trained["run_id"])
    with pytest.raises(GateRejectedError, match="champion \\(1\\) is unchanged"):
        steps.gate(settings, SCHEMA, model_name, v2, dataclasses.replace(GATE, min_pr_auc=0.99))
    assert registry.require(uri, model_name).version == "1"
    rejected = registry.client(uri).get_model_version(model_name, v2)
    assert rejected.tags["gate_decision"] == "reject"
    with pytest.raises(GateRejectedError):
        steps.promote(settings, storage, model_name, v2, actor="t", at=AT)
    assert registry.require(uri, model_name).version == "1"


def test_scoring_matches_predict_proba_and_is_byte_stable(
    world, model_name, champion, tmp_path: Path
) -> None:
    settings, storage, _ = world
    ref = registry.require(settings.mlflow_tracking_uri, model_name)
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


def test_steps_score_writes_output_then_manifest(world, model_name, champion) -> None:
    settings, storage, _ = world
    manifest = steps.score(
        storage, SCHEMA, END, settings=settings, model_name=model_name, batch_rows=1_000
    )
    stored = json.loads(storage.read_bytes(lake.scored_prefix(SCHEMA.name, END) + lake.MANIFEST))
    assert stored == manifest.to_dict()
    assert stored["rows_in"] == stored["rows_out"] == 3_000
    assert stored["model_version"] == "1" and stored["model_rule"] == "alias:champion"
    again = steps.score(
        storage, SCHEMA, END, settings=settings, model_name=model_name, batch_rows=1_000
    )
    assert again.output_sha256 == manifest.output_sha256


def _gated_version(settings, trained, model_name, thresholds=None) -> str:
    """A new version of ``model_name`` from the trained run, with a passing gate verdict."""
    version = registry.create_version(
        settings.mlflow_tracking_uri, model_name, trained["model_uri"], trained["run_id"]
    )
    steps.gate(
        settings,
        SCHEMA,
        model_name,
        version,
        thresholds
        or GateThresholds(
            min_pr_auc=0.05,
            min_recall_at_fpr=0.05,
            relative_margin=1.0,
            min_positives=1,
            max_detectable_drop=100.0,
        ),
    )
    return version


def test_ledger_records_promotion_and_serves_as_of(world, model_name, champion) -> None:
    settings, storage, _ = world
    entries = ledger.read_ledger(storage, model_name)
    assert [(e.seq, e.from_version, e.to_version, e.kind) for e in entries] == [
        (1, None, "1", "promotion")
    ]
    assert entries[0].effective_from == AT.date().isoformat() and entries[0].actor == "tester"
    with pytest.raises(NoChampionError, match="no version of"):
        ledger.champion_as_of(storage, model_name, AT.date() - dt.timedelta(days=1))
    day = AT.date()
    sample_data.land_sample_partition(storage, SCHEMA, day, rows=500)
    steps.extract(storage, SCHEMA, day, "b")
    steps.validate(storage, SCHEMA, day, settings=settings, batch_id="b", with_label=False)
    manifest = steps.score(
        storage, SCHEMA, day, settings=settings, model_name=model_name, selection="as_of"
    )
    assert manifest.model_rule == f"as_of:{day.isoformat()}" and manifest.model_version == "1"


def test_concurrent_promotions_exactly_one_wins(world, model_name, champion) -> None:
    settings, storage, trained = world
    candidates = [
        _gated_version(settings, trained, model_name),
        _gated_version(settings, trained, model_name),
    ]
    before = len(ledger.read_ledger(storage, model_name))
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def promote(version: str) -> None:
        barrier.wait()
        try:
            outcomes[version] = steps.promote(
                settings, storage, model_name, version, actor=f"p{version}", at=AT
            )
        except RegistryConflictError as exc:
            outcomes[version] = exc

    threads = [threading.Thread(target=promote, args=(v,)) for v in candidates]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    winners = [v for v, o in outcomes.items() if isinstance(o, dict) and o["promoted"]]
    losers = [v for v, o in outcomes.items() if isinstance(o, RegistryConflictError)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert registry.require(settings.mlflow_tracking_uri, model_name).version == winners[0]
    entries = ledger.read_ledger(storage, model_name)
    assert len(entries) == before + 1
    assert (
        entries[-1].to_version == winners[0] and entries[-1].from_version == entries[-2].to_version
    )
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))


@pytest.mark.fault
def test_crash_between_ledger_and_alias_is_finished_by_retry(
    world, model_name, champion, monkeypatch
) -> None:
    settings, storage, trained = world
    uri = settings.mlflow_tracking_uri
    version = _gated_version(settings, trained, model_name)
    before = len(ledger.read_ledger(storage, model_name))
    real = registry.promote

    def crash(*args, **kwargs):
        raise ConnectionError("tracking server went away")

    monkeypatch.setattr(registry, "promote", crash)
    with pytest.raises(RegistryError, match="alias was not moved"):
        steps.promote(settings, storage, model_name, version, actor="a", at=AT)
    assert registry.require(uri, model_name).version == champion
    assert len(ledger.read_ledger(storage, model_name)) == before + 1  # the intent is recorded
    monkeypatch.setattr(registry, "promote", real)
    assert (
        steps.promote(settings, storage, model_name, version, actor="a", at=AT)["promoted"] is True
    )
    assert registry.require(uri, model_name).version == version
    assert len(ledger.read_ledger(storage, model_name)) == before + 1  # exactly once


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.fault
def test_mlflow_unreachable_during_promotion_then_recovers(
    world, model_name, champion, monkeypatch, tmp_path
) -> None:
    settings, storage, trained = world
    version = _gated_version(settings, trained, model_name)
    before = len(ledger.read_ledger(storage, model_name))
    port = _free_port()
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    remote = dataclasses.replace(settings, mlflow_tracking_uri=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(RegistryError, match=f"MLflow at http://127.0.0.1:{port} failed"):
        steps.promote(remote, storage, model_name, version, actor="a", at=AT)
    assert time.monotonic() - started < 60  # bounded, not hanging
    assert registry.require(settings.mlflow_tracking_uri, model_name).version == champion
    assert len(ledger.read_ledger(storage, model_name)) == before  # nothing half-done

    # Recovery: a tracking server comes up on that address over the same store.
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            settings.mlflow_tracking_uri,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=open(tmp_path / "mlflow.log", "w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, (
                tmp_path / "mlflow.log"
            ).read_text()[-2000:]
            time.sleep(1)
        first = steps.promote(remote, storage, model_name, version, actor="a", at=AT)
        again = steps.promote(remote, storage, model_name, version, actor="a", at=AT)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert first["promoted"] is True and again["promoted"] is False
    assert registry.require(settings.mlflow_tracking_uri, model_name).version == version
    assert len(ledger.read_ledger(storage, model_name)) == before + 1


_SCORE_CHILD = """
import datetime as dt, sys
from mlops_core import steps
from mlops_core.config import Settings
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage
settings = Settings.from_env({"MLOPS_DATA_ROOT": sys.argv[1]})
steps.score(LocalStorage(settings.storage_url), load_schema("fraud"), dt.date.fromisoformat(sys.argv[2]),
            settings=settings, model_name=sys.argv[3], batch_rows=50_000)
"""


@pytest.mark.fault
def test_worker_killed_mid_scoring_leaves_no_partial_output(
    world, model_name, champion, tmp_path
) -> None:
    from mlops_core.extract import ExtractResult, write_parquet
    from mlops_core.sample_data import generate_transactions

    settings, storage, _ = world
    day = dt.date(2026, 11, 20)
    target = storage.path(lake.working_data_key(SCHEMA.name, day))
    target.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(
        generate_transactions(day, n_rows=600_000),
        storage.path(lake.working_data_key(SCHEMA.name, day)),
    )
    # Published as a validated version (running the 600k-row suite here adds nothing).
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    prefix = lake.working_prefix(SCHEMA.name, day)
    storage.write_bytes(prefix + lake.VALIDATED_MARKER, b'{"with_label": false}')
    storage.write_bytes(
        prefix + lake.MANIFEST,
        json.dumps(
            ExtractResult(
                SCHEMA.name, day.isoformat(), prefix + "data.parquet", 600_000, {}, digest
            ).to_dict()
        ).encode(),
    )
    out_key = lake.scored_prefix(SCHEMA.name, day) + "scores.parquet"
    manifest_key = lake.scored_prefix(SCHEMA.name, day) + lake.MANIFEST
    scratch = tmp_path / "worker-tmp"
    scratch.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", _SCORE_CHILD, str(settings.data_root), day.isoformat(), model_name],
        env={**os.environ, "TMPDIR": str(scratch)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while not list(scratch.glob("mlops-score-*/.tmp-scores.parquet.*")):
        assert child.poll() is None, "the scoring process ended before it started writing"
        assert time.monotonic() < deadline, "scoring never started writing"
        time.sleep(0.05)
    time.sleep(0.5)  # mid-way through the batches
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not storage.exists(out_key) and not storage.exists(manifest_key)
    assert [k for k in storage.list(lake.scored_prefix(SCHEMA.name, day))] == []

    retried = steps.score(
        storage, SCHEMA, day, settings=settings, model_name=model_name, batch_rows=50_000
    )
    assert retried.rows_in == retried.rows_out == 600_000
    assert storage.exists(out_key) and storage.exists(manifest_key)
    again = steps.score(
        storage, SCHEMA, day, settings=settings, model_name=model_name, batch_rows=50_000
    )
    assert again.output_sha256 == retried.output_sha256


@pytest.fixture
def tampered_models(world, champion) -> Iterator[list[Path]]:
    """Every skops model file in the store overwritten with an untrusted object, after the
    champion was promoted; the originals are put back for the module's other tests."""
    import skops.io

    settings, _, _ = world
    files = sorted((settings.data_root / "mlflow" / "artifacts").rglob("*.skops"))
    assert files, "no stored skops artifact found"
    originals = {path: path.read_bytes() for path in files}
    for path in files:
        path.write_bytes(skops.io.dumps(Untrusted()))
    yield files
    for path, data in originals.items():
        path.write_bytes(data)


@pytest.mark.fault
def test_tampered_artifact_is_refused_and_champion_untouched(
    world, model_name, champion, tampered_models
) -> None:
    settings, storage, _ = world
    uri = settings.mlflow_tracking_uri
    ref = registry.require(uri, model_name)
    with pytest.raises(RegistryError, match="refusing to load"):
        registry.load_model(uri, ref)
    with pytest.raises(RegistryError):
        steps.score(storage, SCHEMA, END, settings=settings, model_name=model_name)
    assert registry.require(uri, model_name).version == ref.version == champion


def test_gate_refuses_to_judge_the_champion_on_its_own_training_rows(
    world, model_name, champion
) -> None:
    """A training run for an older day: its holdout lies inside the champion's training
    window. The old gate scored the champion on those rows (PR-AUC 0.999)."""
    settings, storage, _ = world
    older = steps.train(
        storage,
        SCHEMA,
        END - dt.timedelta(days=2),
        settings=settings,
        params=TrainParams(window_days=3, min_positive_labels=5),
        experiment="t",
    )
    ref = steps.register(settings, model_name, older["model_uri"], older["run_id"])
    with pytest.raises(SelfEvaluationError, match="its own training rows") as info:
        steps.gate(settings, SCHEMA, model_name, ref["version"], GATE)
    assert info.value.check == "champion_cutoff_before_evaluation" and not info.value.retryable
    assert "#self-evaluation" in str(info.value)
    assert registry.require(settings.mlflow_tracking_uri, model_name).version == champion
