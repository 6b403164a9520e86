"""Extraction and Great Expectations validation, including the catalogue of bad inputs.

Every bad input must end in a typed error that names the failing check and offending rows,
with the raw batch kept in quarantine beside a report, and the next good batch accepted."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pandas as pd
import pytest

from mlops_core import lake, sample_data, steps
from mlops_core.config import Settings
from mlops_core.errors import (
    CorruptInputError,
    DataValidationError,
    InputMissingError,
    TrainingError,
)
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage, S3Storage
from mlops_core.train import TrainParams, train_model
from mlops_core.validate import validate_frame

DAY = dt.date(2026, 11, 5)
SCHEMA = load_schema("fraud")
PREFIX = lake.landing_prefix(SCHEMA.name, DAY)


@pytest.fixture
def env(tmp_path, validated_elsewhere):
    """A local lake that also holds another day's validated data (checked byte for byte
    after the test)."""
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = LocalStorage(settings.storage_url)
    validated_elsewhere(storage)
    return settings, storage


def _csv(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    if pd.api.types.is_datetime64_any_dtype(out["timestamp"]):
        out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out.to_csv(index=False).encode()


def _land(storage, data: bytes, name: str = "part-000.csv") -> None:
    storage.write_bytes(PREFIX + name, data)
    storage.write_bytes(PREFIX + lake.SUCCESS_MARKER, b"")


def _good(rows: int = 400) -> pd.DataFrame:
    return generate_transactions(DAY, n_rows=rows)


def test_extract_csv_and_parquet_with_manifest(env) -> None:
    settings, storage = env
    sample_data.land_sample_partition(storage, SCHEMA, DAY, rows=300, fmt="parquet")
    result = steps.extract(storage, SCHEMA, DAY, "b1")
    assert result.status == "candidate" and result.working_key.startswith("staging/")
    assert result.rows == 300 and list(result.source_files) == [PREFIX + "part-000.parquet"]
    # Nothing reaches working/ before validation accepts it.
    assert storage.list(lake.working_prefix(SCHEMA.name, DAY)) == []
    steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="b1", with_label=True)
    working = lake.working_data_key(SCHEMA.name, DAY)
    manifest = json.loads(storage.read_bytes(lake.working_prefix(SCHEMA.name, DAY) + lake.MANIFEST))
    assert manifest["status"] == "current" and manifest["version"] == result.version
    assert manifest["data_sha256"] == hashlib.sha256(storage.read_bytes(working)).hexdigest()
    assert (
        manifest["source_files"][PREFIX + "part-000.parquet"]
        == hashlib.sha256(storage.read_bytes(PREFIX + "part-000.parquet")).hexdigest()
    )
    frame = pd.read_parquet(io.BytesIO(storage.read_bytes(working)))
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    assert storage.list(lake.staging_prefix(SCHEMA.name, DAY)) == []


def test_extraction_writes_identical_bytes(tmp_path) -> None:
    digests = []
    for name in ("a", "b"):
        storage = LocalStorage(tmp_path / name)
        sample_data.land_sample_partition(storage, SCHEMA, DAY, rows=300)
        first = steps.extract(storage, SCHEMA, DAY, "x")
        assert steps.extract(storage, SCHEMA, DAY, "y") == first  # the pending candidate
        digests.append(hashlib.sha256(storage.read_bytes(first.working_key)).hexdigest())
        assert digests[-1] == first.data_sha256
    assert digests[0] == digests[1]


def test_extract_and_validate_on_s3(moto_s3_endpoint, s3_bucket, tmp_path) -> None:
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = S3Storage(s3_bucket, "lake", endpoint_url=moto_s3_endpoint)
    sample_data.land_sample_partition(storage, SCHEMA, DAY, rows=300)
    steps.extract(storage, SCHEMA, DAY, "b1")
    report = steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="b1", with_label=True)
    assert report.success and storage.exists(
        lake.working_prefix(SCHEMA.name, DAY) + lake.VALIDATED_MARKER
    )


def test_missing_partition_is_input_missing(env) -> None:
    _, storage = env
    with pytest.raises(InputMissingError, match="no _SUCCESS marker"):
        steps.extract(storage, SCHEMA, DAY, "b1")


def test_clean_partition_passes_and_extra_column_only_warns() -> None:
    frame = _good()
    frame["loyalty_tier"] = "gold"
    report = validate_frame(frame, SCHEMA, DAY)
    assert report.success
    assert [w.expectation for w in report.warnings] == ["expect_table_columns_to_match_set"]
    assert "loyalty_tier" in report.warnings[0].detail


def _mutate(kind: str) -> pd.DataFrame:
    frame = _good()
    if kind == "missing_column":
        return frame.drop(columns=["merchant_category"])
    if kind == "wrong_type":
        frame["amount"] = frame["amount"].astype(object)
        frame.loc[9, "amount"] = "abc"
    elif kind == "null_key":
        frame.loc[11, "transaction_id"] = None
    elif kind == "negative_amount":
        frame.loc[12, "amount"] = -3.5
    elif kind == "duplicate_ids":
        frame.loc[13, "transaction_id"] = frame.loc[14, "transaction_id"]
    elif kind == "timestamp_outside_partition":
        frame["timestamp"] = frame["timestamp"].astype(object)
        frame.loc[15, "timestamp"] = pd.Timestamp("2026-10-01T10:00:00Z")
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    elif kind == "bad_label":
        frame.loc[16, "is_fraud"] = 2
    elif kind == "extreme_outlier":
        frame.loc[17, "amount"] = 5e9
    elif kind == "unparseable_timestamp":
        frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype(object)
        frame.loc[18, "timestamp"] = "yesterday-ish"
    return frame


# kind -> (expectation that must fail, column, an offending value or row id that must be named)
CATALOGUE = {
    "missing_column": ("expect_table_columns_to_match_set", None, "merchant_category"),
    "wrong_type": ("expect_column_values_to_be_in_type_list", "amount", "amount"),
    "null_key": ("expect_column_values_to_not_be_null", "transaction_id", "transaction_id"),
    "negative_amount": ("expect_column_values_to_be_between", "amount", "tx-20261105-0000012"),
    "duplicate_ids": ("expect_column_values_to_be_unique", "transaction_id", "tx-20261105-0000014"),
    "timestamp_outside_partition": (
        "expect_column_values_to_be_between",
        "timestamp",
        "tx-20261105-0000015",
    ),
    "bad_label": ("expect_column_values_to_be_in_set", "is_fraud", "tx-20261105-0000016"),
    "extreme_outlier": ("expect_column_values_to_be_between", "amount", "5000000000.0"),
    "unparseable_timestamp": (
        "expect_column_values_to_not_be_null",
        "timestamp",
        "tx-20261105-0000018",
    ),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_bad_input_is_named_quarantined_and_recoverable(kind: str, env) -> None:
    settings, storage = env
    expectation, column, named = CATALOGUE[kind]
    bad = _mutate(kind)
    raw = _csv(bad)
    _land(storage, raw)
    steps.extract(storage, SCHEMA, DAY, "run1__try1")
    with pytest.raises(DataValidationError) as err:
        steps.validate(
            storage, SCHEMA, DAY, settings=settings, batch_id="run1__try1", with_label=True
        )

    message = str(err.value)
    failing = [line for line in message.splitlines() if "FAILED" in line and expectation in line]
    assert failing, message
    if column:
        assert any(f"'{column}'" in line for line in failing), message
    assert named in message
    # Nothing lost: the raw bytes are in quarantine with the report; landing and working are empty.
    where = err.value.quarantine_path
    qprefix = lake.quarantine_prefix(SCHEMA.name, DAY, "run1__try1")
    assert where == storage.uri(qprefix)
    assert storage.read_bytes(qprefix + "part-000.csv") == raw
    report = json.loads(storage.read_bytes(qprefix + "validation.json"))
    assert report["success"] is False and any(
        f["expectation"] == expectation for f in report["failures"]
    )
    assert storage.list(PREFIX) == []
    assert storage.list(lake.working_prefix(SCHEMA.name, DAY)) == []
    assert (settings.reports_dir / "data_docs" / SCHEMA.name / "index.html").exists()
    # The next good batch for the same day goes through.
    _land(storage, _csv(_good()))
    steps.extract(storage, SCHEMA, DAY, "run2__try1")
    assert steps.validate(
        storage, SCHEMA, DAY, settings=settings, batch_id="run2__try1", with_label=True
    ).success


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("kind", "data", "name"),
    [
        ("undecodable_csv", b"transaction_id,amount\n\xff\xfe\xfa,1\n", "part-000.csv"),
        ("truncated_parquet", None, "part-000.parquet"),
    ],
)
def test_corrupt_files_are_quarantined(kind, data, name, env) -> None:
    _, storage = env
    if data is None:
        buf = io.BytesIO()
        _good().to_parquet(buf, index=False)
        data = buf.getvalue()[: len(buf.getvalue()) // 2]
    _land(storage, data, name)
    with pytest.raises(CorruptInputError) as err:
        steps.extract(storage, SCHEMA, DAY, "run1__try1")
    assert f"cannot parse landing file {PREFIX}{name}" in str(err.value)
    qprefix = lake.quarantine_prefix(SCHEMA.name, DAY, "run1__try1")
    assert storage.read_bytes(qprefix + name) == data
    assert json.loads(storage.read_bytes(qprefix + "validation.json"))["check"] == "parse"
    assert storage.list(PREFIX) == []


@pytest.mark.bad_input
def test_empty_file_fails_row_count_and_columns(env) -> None:
    settings, storage = env
    _land(storage, b"")
    steps.extract(storage, SCHEMA, DAY, "b")
    with pytest.raises(DataValidationError) as err:
        steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="b", with_label=True)
    assert "expect_table_row_count_to_be_between" in str(err.value)
    assert "observed 0 rows" in str(err.value)


@pytest.mark.bad_input
def test_single_class_labels_cannot_train() -> None:
    frame = pd.concat(
        [generate_transactions(DAY + dt.timedelta(days=i), n_rows=1_000) for i in range(3)]
    )
    frame["is_fraud"] = 0
    with pytest.raises(TrainingError, match="positive labels"):
        train_model(frame, SCHEMA, TrainParams())


@pytest.mark.bad_input
def test_partition_arriving_twice(env) -> None:
    """Same bytes again: nothing is rewritten. Different bytes: a new candidate, validated
    before it replaces the current version (which stays validated until then)."""
    settings, storage = env
    raw = _csv(_good())
    _land(storage, raw)
    steps.extract(storage, SCHEMA, DAY, "a")
    steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="a", with_label=True)
    working = storage.path(lake.working_data_key(SCHEMA.name, DAY))
    mtime = working.stat().st_mtime_ns
    _land(storage, raw)
    again = steps.extract(storage, SCHEMA, DAY, "b")
    assert again.status == "current" and working.stat().st_mtime_ns == mtime
    marker = lake.working_prefix(SCHEMA.name, DAY) + lake.VALIDATED_MARKER
    assert storage.exists(marker)

    _land(storage, _csv(_good(rows=450)))
    second = steps.extract(storage, SCHEMA, DAY, "c")
    assert second.status == "candidate" and second.rows == 450
    assert storage.exists(marker) and working.stat().st_mtime_ns == mtime
    steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="c", with_label=True)
    manifest = json.loads(storage.read_bytes(lake.working_prefix(SCHEMA.name, DAY) + lake.MANIFEST))
    assert manifest["rows"] == 450 and manifest["previous_versions"][0]["rows"] == 400


def test_window_extraction_reports_every_bad_day(env) -> None:
    settings, storage = env
    days = [DAY - dt.timedelta(days=2), DAY - dt.timedelta(days=1), DAY]
    for day in days:
        sample_data.land_sample_partition(storage, SCHEMA, day, rows=300)
    bad_day = days[1]
    frame = generate_transactions(bad_day, n_rows=300)
    frame.loc[3, "amount"] = -1
    storage.write_bytes(lake.landing_prefix(SCHEMA.name, bad_day) + "part-000.csv", _csv(frame))
    ready = steps.extract_window(storage, SCHEMA, DAY, 3, "w")
    assert ready == [d.isoformat() for d in days]
    with pytest.raises(DataValidationError) as err:
        steps.validate_window(storage, SCHEMA, ready, settings=settings, batch_id="w")
    assert bad_day.isoformat() in str(err.value)
    for day in (days[0], days[2]):  # the good days were validated before the error was raised
        assert storage.exists(lake.working_prefix(SCHEMA.name, day) + lake.VALIDATED_MARKER)
