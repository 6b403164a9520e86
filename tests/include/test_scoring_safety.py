"""Scoring never loses or silently corrupts output: unseen categories are counted in the
manifest, a replaced output is archived first, a model that refuses validated data is a
typed, non-retryable error, and a day without validated data is never scored."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from mlops_core import delivery, lake, registry, sample_data, steps
from mlops_core.config import Settings
from mlops_core.errors import InputMissingError, ScoringInputError
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams

pytestmark = pytest.mark.bad_input
SCHEMA = load_schema("fraud")
END = dt.date(2026, 11, 6)
DAY = dt.date(2026, 11, 7)
MODEL = "fraud_model_scoring_safety"


@pytest.fixture(scope="module")
def champion(tmp_path_factory):
    root = tmp_path_factory.mktemp("scoring-safety")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    for offset in range(3):
        sample_data.land_sample_partition(
            storage, SCHEMA, END - dt.timedelta(days=offset), rows=3_000
        )
    days = steps.extract_window(storage, SCHEMA, END, 3, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    trained = steps.train(
        storage,
        SCHEMA,
        END,
        settings=settings,
        params=TrainParams(window_days=3, max_iter=30, min_positive_labels=5),
        experiment="scoring-safety",
    )
    ref = steps.register(settings, MODEL, trained["model_uri"], trained["run_id"])
    registry.client(settings.mlflow_tracking_uri).set_registered_model_alias(
        MODEL, registry.CHAMPION, ref["version"]
    )
    return settings, storage, trained


def _snapshot(storage: LocalStorage) -> dict[str, str]:
    """sha256 of every file of the validated state (working, scored, archive, reference)."""
    return {
        key: hashlib.sha256(storage.read_bytes(key)).hexdigest()
        for zone in ("working/", "scored/", "archive/", "reference/")
        for key in storage.list(zone)
    }


def _deliver(settings, storage, frame, batch: str) -> None:
    prefix = lake.landing_prefix(SCHEMA.name, DAY)
    out = frame.copy()
    out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    storage.write_bytes(prefix + "part-000.csv", out.to_csv(index=False).encode())
    storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    steps.extract(storage, SCHEMA, DAY, batch)
    steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id=batch, with_label=False)


def test_training_records_the_categorical_domains(champion) -> None:
    _, storage, trained = champion
    key = lake.domains_key(SCHEMA.name, trained["run_id"])
    domains = json.loads(storage.read_bytes(key))["domains"]
    assert set(domains) == set(SCHEMA.categorical) and "grocery" in domains["merchant_category"]
    assert storage.read_bytes(lake.domains_key(SCHEMA.name, "latest")) == storage.read_bytes(key)


def test_unseen_categories_are_counted_and_a_replaced_output_is_archived(champion, caplog) -> None:
    settings, storage, _ = champion
    frame = generate_transactions(DAY, n_rows=1_000)
    frame.loc[:9, "device"] = "smart_watch"  # 1% unseen: under the 5% limit, so scored
    _deliver(settings, storage, frame, "s1")
    with caplog.at_level("WARNING", logger="mlops_core.steps"):
        first = steps.score(storage, SCHEMA, DAY, settings=settings, model_name=MODEL)
    unseen = {"device": {"count": 10, "values": ["smart_watch"]}}
    assert first.details["unseen_categories"] == unseen
    manifest_key = lake.scored_prefix(SCHEMA.name, DAY) + lake.MANIFEST
    assert json.loads(storage.read_bytes(manifest_key))["unseen_categories"] == unseen
    assert "'device': 10 unexpected" in caplog.text and "smart_watch" in caplog.text
    out_key = first.output_key
    first_bytes = storage.read_bytes(out_key)

    # A newer validated delivery of the day: its scores replace the old ones, which are kept.
    _deliver(settings, storage, generate_transactions(DAY, n_rows=1_100), "s2")
    assert delivery.current(storage, SCHEMA, DAY).rows == 1_100
    second = steps.score(storage, SCHEMA, DAY, settings=settings, model_name=MODEL)
    assert second.rows_out == 1_100 and second.output_sha256 != first.output_sha256
    archived = lake.archive_prefix(lake.SCORED, SCHEMA.name, DAY, first.output_sha256[:16])
    assert storage.read_bytes(archived + "scores.parquet") == first_bytes
    assert hashlib.sha256(first_bytes).hexdigest() == first.output_sha256
    assert json.loads(storage.read_bytes(archived + lake.MANIFEST))["rows_out"] == 1_000
    # The manifest names the current output, scored from the current validated version.
    current = json.loads(storage.read_bytes(manifest_key))
    assert current["output_sha256"] == second.output_sha256
    assert hashlib.sha256(storage.read_bytes(out_key)).hexdigest() == second.output_sha256
    in_key = lake.working_data_key(SCHEMA.name, DAY)
    assert current["inputs"] == {in_key: delivery.current(storage, SCHEMA, DAY).data_sha256}
    # Rescoring the same input rewrites identical bytes and archives nothing new.
    before = storage.list("archive/")
    steps.score(storage, SCHEMA, DAY, settings=settings, model_name=MODEL)
    assert storage.list("archive/") == before


def test_model_refusing_validated_data_is_typed(champion, monkeypatch) -> None:
    settings, storage, _ = champion
    _deliver(settings, storage, generate_transactions(DAY, n_rows=500), "s3")
    real = registry.load_model

    def load_model(uri, ref):
        model = real(uri, ref)
        model.steps[0] = ("features", _Refuses())
        return model

    monkeypatch.setattr(registry, "load_model", load_model)
    before = _snapshot(storage)
    with pytest.raises(ScoringInputError, match="cannot score") as err:
        steps.score(
            storage,
            SCHEMA,
            DAY,
            settings=settings,
            model_name=MODEL,
            zone="scored_shadow",
        )
    assert not err.value.retryable and err.value.check == "model_accepts_input"
    assert not storage.list(lake.scored_prefix(SCHEMA.name, DAY, "scored_shadow"))
    # Typed and quarantined (a copy with the model's refusal); the validated data stays.
    assert _snapshot(storage) == before
    version = delivery.current(storage, SCHEMA, DAY).version
    model_version = (
        registry.client(settings.mlflow_tracking_uri)
        .get_model_version_by_alias(MODEL, registry.CHAMPION)
        .version
    )
    batch = f"scored_shadow__model-v{model_version}__data-{version}"
    qprefix = lake.quarantine_prefix(SCHEMA.name, DAY, batch)
    assert err.value.quarantine_path == storage.uri(qprefix)
    working = storage.read_bytes(lake.working_data_key(SCHEMA.name, DAY))
    assert storage.read_bytes(qprefix + "data.parquet") == working
    report = json.loads(storage.read_bytes(qprefix + "validation.json"))
    assert report["check"] == "model_accepts_input" and "n/a" in report["error"]


class _Refuses:
    """A transformer that refuses its input, as a fitted pipeline does on a type it never saw."""

    def transform(self, frame):
        raise ValueError("could not convert string to float: 'n/a'")


def test_day_without_validated_data_is_not_scored(champion) -> None:
    settings, storage, _ = champion
    before = _snapshot(storage)
    with pytest.raises(InputMissingError, match="no validated data"):
        steps.score(
            storage, SCHEMA, DAY + dt.timedelta(days=5), settings=settings, model_name=MODEL
        )
    assert _snapshot(storage) == before
