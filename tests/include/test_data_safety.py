"""Data safety: deliveries real producers make never destroy validated data.

Each test is one class of bad (or merely unusual) delivery. For every failing class the
validated state of the lake (``working/``, ``scored/``, ``archive/``) is hashed before and
after: a rejected delivery must leave it byte-identical, its raw bytes must be in quarantine,
and its error must be typed, name the check and the file, and not be retryable. Every lake
also holds another day's validated data, archive and scores (``validated_elsewhere``), whose
hashes are checked after every test, accepted deliveries included.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from mlops_core import delivery, lake, steps
from mlops_core.config import Settings
from mlops_core.domains import write_domains
from mlops_core.errors import (
    AmbiguousDeliveryError,
    CorruptInputError,
    DataValidationError,
    InputMissingError,
    PipelineError,
    UnsafeInputError,
    UnsupportedInputError,
)
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

pytestmark = pytest.mark.bad_input

DAY = dt.date(2026, 11, 5)
OTHER_DAY = dt.date(2026, 11, 4)
SCHEMA = load_schema("fraud")
PREFIX = lake.landing_prefix(SCHEMA.name, DAY)
PROTECTED = ("working/", "scored/", "archive/", "reference/")


@pytest.fixture
def env(tmp_path, validated_elsewhere):
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = LocalStorage(settings.storage_url)
    validated_elsewhere(storage)
    return settings, storage


def _frame(day: dt.date = DAY, rows: int = 400) -> pd.DataFrame:
    return generate_transactions(day, n_rows=rows)


def _csv(frame: pd.DataFrame) -> bytes:
    out = frame.copy()
    if pd.api.types.is_datetime64_any_dtype(out["timestamp"]):
        out["timestamp"] = out["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return out.to_csv(index=False).encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def _land(storage, files: dict[str, bytes], day: dt.date = DAY, success: bool = True) -> None:
    prefix = lake.landing_prefix(SCHEMA.name, day)
    for name, data in files.items():
        storage.write_bytes(prefix + name, data)
    if success:
        storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")


def _run(settings, storage, batch: str, day: dt.date = DAY, with_label: bool = True):
    steps.extract(storage, SCHEMA, day, batch)
    return steps.validate(
        storage, SCHEMA, day, settings=settings, batch_id=batch, with_label=with_label
    )


def _validated_day(settings, storage, day: dt.date = DAY, rows: int = 400) -> bytes:
    raw = _csv(_frame(day, rows))
    _land(storage, {"part-000.csv": raw}, day)
    _run(settings, storage, f"good-{day}", day)
    return raw


def _snapshot(storage: LocalStorage) -> dict[str, str]:
    """sha256 of every file of the validated state (working, scored, archive, reference)."""
    out = {}
    for zone in PROTECTED:
        for key in storage.list(zone):
            out[key] = hashlib.sha256(storage.path(key).read_bytes()).hexdigest()
    return out


def _assert_rejected(
    exc: PipelineError, before: dict, storage, *, check: str, file: str = ""
) -> str:
    """The common outcome of a rejected delivery; returns the quarantine prefix."""
    assert not exc.retryable, type(exc)
    assert check in (exc.check or "") or check in str(exc), str(exc)
    if file:
        assert file in str(exc), str(exc)
    assert _snapshot(storage) == before, "validated data changed"
    assert exc.quarantine_path, str(exc)
    root = Path(storage.url)
    qprefix = Path(exc.quarantine_path).relative_to(root).as_posix() + "/"
    assert storage.exists(qprefix + "validation.json")
    assert exc.quarantine_path in str(exc)
    return qprefix


# --- links -------------------------------------------------------------------------------


def test_link_to_another_days_validated_data_is_quarantined_without_touching_it(env) -> None:
    settings, storage = env
    _validated_day(settings, storage, OTHER_DAY)
    target = storage.path(lake.working_data_key(SCHEMA.name, OTHER_DAY))
    before = _snapshot(storage)
    link = storage.path(PREFIX + "part-000.parquet")
    link.parent.mkdir(parents=True)
    os.symlink(target, link)
    storage.write_bytes(PREFIX + lake.SUCCESS_MARKER, b"")
    with pytest.raises(DataValidationError) as err:
        _run(settings, storage, "link")
    qprefix = _assert_rejected(
        err.value, before, storage, check="expect_column_values_to_be_between"
    )
    assert "on column 'timestamp'" in str(err.value)
    assert target.exists() and not link.is_symlink() and not link.exists()
    report = json.loads(storage.read_bytes(qprefix + "validation.json"))
    assert report["files"][0]["link_target"] == str(target)
    # The other day is still whole: its data matches its manifest.
    manifest = delivery.current(storage, SCHEMA, OTHER_DAY)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == manifest.data_sha256


def test_link_escaping_the_lake_is_refused_and_unlinked(env, tmp_path) -> None:
    settings, storage = env
    outside = tmp_path / "elsewhere.csv"
    outside.write_bytes(_csv(_frame()))
    before = _snapshot(storage)
    link = storage.path(PREFIX + "part-000.csv")
    link.parent.mkdir(parents=True)
    os.symlink(outside, link)
    storage.write_bytes(PREFIX + lake.SUCCESS_MARKER, b"")
    with pytest.raises(UnsafeInputError) as err:
        steps.extract(storage, SCHEMA, DAY, "escape")
    qprefix = _assert_rejected(
        err.value, before, storage, check="link_inside_lake", file="part-000.csv"
    )
    assert outside.exists() and not link.is_symlink()
    entry = json.loads(storage.read_bytes(qprefix + "validation.json"))["files"][0]
    assert entry["copied"] is False and entry["link_target"] == str(outside)


def test_dangling_link_is_a_typed_error(env) -> None:
    _, storage = env
    before = _snapshot(storage)
    link = storage.path(PREFIX + "part-000.csv")
    link.parent.mkdir(parents=True)
    os.symlink(storage.path("landing/nowhere.csv"), link)
    storage.write_bytes(PREFIX + lake.SUCCESS_MARKER, b"")
    with pytest.raises(UnsafeInputError, match="dangling link") as err:
        steps.extract(storage, SCHEMA, DAY, "dangling")
    _assert_rejected(err.value, before, storage, check="link_target_exists", file="part-000.csv")
    assert not link.is_symlink()


def test_key_with_dotdot_never_reaches_the_file_system(env, tmp_path) -> None:
    _, storage = env
    before = _snapshot(storage)
    with pytest.raises(UnsafeInputError, match="escapes"):
        storage.write_bytes("landing/../../outside.csv", b"x")
    assert (
        not (tmp_path / "outside.csv").exists() and not (tmp_path.parent / "outside.csv").exists()
    )
    assert _snapshot(storage) == before


# --- re-deliveries and late files ----------------------------------------------------------


def test_bad_redelivery_keeps_the_validated_partition_and_its_scores(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    storage.write_bytes(lake.scored_prefix(SCHEMA.name, DAY) + "scores.parquet", b"scores")
    before = _snapshot(storage)
    bad = _frame()
    bad.loc[3, "amount"] = -1.0
    _land(storage, {"part-000.csv": _csv(bad)})
    with pytest.raises(DataValidationError) as err:
        _run(settings, storage, "redelivery")
    _assert_rejected(err.value, before, storage, check="expect_column_values_to_be_between")
    assert "The validated version" in str(err.value) and "is unchanged" in str(err.value)
    assert delivery.current(storage, SCHEMA, DAY).rows == 400


def test_valid_redelivery_replaces_and_keeps_the_previous_version(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    old = delivery.current(storage, SCHEMA, DAY)
    old_bytes = storage.read_bytes(lake.working_data_key(SCHEMA.name, DAY))
    _land(storage, {"part-000.csv": _csv(_frame(rows=420))})
    _run(settings, storage, "v2")
    new = delivery.current(storage, SCHEMA, DAY)
    assert new.rows == 420 and new.version != old.version
    archived = new.previous_versions[-1]
    assert archived["version"] == old.version and archived["rows"] == 400
    assert storage.read_bytes(archived["archived_at"] + "data.parquet") == old_bytes


def test_late_file_after_cleanup_is_appended_not_replacing(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    for key in storage.list(PREFIX):  # the landing was cleaned up after the first delivery
        storage.delete(key)
    late = generate_transactions(DAY, n_rows=150, seed=99)
    late["transaction_id"] = late["transaction_id"].str.replace("tx-", "late-")
    _land(storage, {"part-001.csv": _csv(late)})
    result = steps.extract(storage, SCHEMA, DAY, "late")
    assert result.mode == "append" and result.rows == 550
    _run(settings, storage, "late")
    current = delivery.current(storage, SCHEMA, DAY)
    assert current.rows == 550 and current.previous_versions[-1]["rows"] == 400
    assert set(current.source_files) == {PREFIX + "part-000.csv", PREFIX + "part-001.csv"}


def test_bad_late_file_leaves_the_validated_rows(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    for key in storage.list(PREFIX):
        storage.delete(key)
    before = _snapshot(storage)
    late = generate_transactions(DAY, n_rows=150, seed=99)
    late.loc[0, "is_fraud"] = 7
    _land(storage, {"part-001.csv": _csv(late)})
    with pytest.raises(DataValidationError) as err:
        _run(settings, storage, "late-bad")
    _assert_rejected(err.value, before, storage, check="expect_column_values_to_be_in_set")
    assert delivery.current(storage, SCHEMA, DAY).rows == 400


def test_changed_file_with_siblings_gone_is_ambiguous(env) -> None:
    settings, storage = env
    a, b = _frame(rows=200), generate_transactions(DAY, n_rows=200, seed=3)
    b["transaction_id"] = b["transaction_id"].str.replace("tx-", "b-")
    _land(storage, {"part-000.csv": _csv(a), "part-001.csv": _csv(b)})
    _run(settings, storage, "two")
    storage.delete(PREFIX + "part-001.csv")
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(_frame(rows=210))})
    with pytest.raises(AmbiguousDeliveryError) as err:
        steps.extract(storage, SCHEMA, DAY, "ambiguous")
    _assert_rejected(err.value, before, storage, check="complete_redelivery", file="part-000.csv")


def test_rerun_rewrites_nothing(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    before = _snapshot(storage)
    mtimes = {k: storage.path(k).stat().st_mtime_ns for k in before}
    _run(settings, storage, "again")
    assert _snapshot(storage) == before
    assert {k: storage.path(k).stat().st_mtime_ns for k in before} == mtimes


def test_file_rewritten_during_quarantine_is_kept_in_landing(env) -> None:
    settings, storage = env
    bad = _frame()
    bad.loc[1, "amount"] = -5.0
    _land(storage, {"part-000.csv": _csv(bad)})
    steps.extract(storage, SCHEMA, DAY, "race")
    newer = _csv(_frame(rows=401))  # the producer rewrites the file after it was read
    storage.write_bytes(PREFIX + "part-000.csv", newer)
    with pytest.raises(DataValidationError) as err:
        steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="race", with_label=True)
    assert storage.read_bytes(PREFIX + "part-000.csv") == newer
    report = json.loads(
        storage.read_bytes(
            Path(err.value.quarantine_path).relative_to(storage.url).as_posix() + "/validation.json"
        )
    )
    assert report["files"][0]["removed"].startswith("kept")


# --- completeness --------------------------------------------------------------------------


def test_partition_without_success_marker_is_not_read(env) -> None:
    _, storage = env
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(_frame())}, success=False)
    with pytest.raises(InputMissingError, match="no _SUCCESS marker") as err:
        steps.extract(storage, SCHEMA, DAY, "early")
    assert err.value.retryable
    assert storage.list(PREFIX) == [PREFIX + "part-000.csv"]  # nothing moved
    assert storage.list("staging/") == [] and storage.list("quarantine/") == []
    assert _snapshot(storage) == before


def test_window_day_in_progress_keeps_its_validated_version(env) -> None:
    settings, storage = env
    _validated_day(settings, storage, OTHER_DAY)
    before = _snapshot(storage)
    in_progress = lake.landing_prefix(SCHEMA.name, OTHER_DAY)
    storage.delete(in_progress + lake.SUCCESS_MARKER)
    storage.write_bytes(in_progress + "part-001.csv", b"transaction_id,amo")  # half-written
    _land(storage, {"part-000.csv": _csv(_frame())})
    ready = steps.extract_window(storage, SCHEMA, DAY, 2, "window")
    assert ready == [OTHER_DAY.isoformat(), DAY.isoformat()]
    assert storage.exists(in_progress + "part-001.csv")  # not moved from under the producer
    assert _snapshot(storage) == before


def test_window_day_in_progress_without_validated_version_is_left_out(env) -> None:
    _, storage = env
    _land(storage, {"part-000.csv": _csv(_frame(OTHER_DAY))}, OTHER_DAY, success=False)
    _land(storage, {"part-000.csv": _csv(_frame())})
    assert steps.extract_window(storage, SCHEMA, DAY, 2, "window") == [DAY.isoformat()]


def test_staging_and_hidden_folders_are_ignored(env) -> None:
    settings, storage = env
    _land(
        storage,
        {
            "part-000.csv": _csv(_frame()),
            "_temporary/0/part-000.csv": b"garbage",
            ".spark-staging-abc/part-000.csv": b"garbage",
            ".part-000.csv.crc": b"crc",
            "_committed_123": b"",
        },
    )
    result = steps.extract(storage, SCHEMA, DAY, "spark")
    assert list(result.source_files) == [PREFIX + "part-000.csv"] and result.rows == 400
    assert _run(settings, storage, "spark").success


@pytest.mark.parametrize("name", ["PART-000.CSV", "part-000.Csv.GZ", "Part-000.PARQUET"])
def test_extensions_match_case_insensitively(env, name) -> None:
    settings, storage = env
    import gzip

    frame = _frame()
    data = _parquet(frame) if name.lower().endswith("parquet") else _csv(frame)
    if name.lower().endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    _land(storage, {name: data})
    assert _run(settings, storage, "case").success


def test_unsupported_file_is_named_and_quarantined(env) -> None:
    settings, storage = env
    _validated_day(settings, storage)
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(_frame(rows=401)), "notes.xlsx": b"PK\x03\x04"})
    with pytest.raises(UnsupportedInputError) as err:
        steps.extract(storage, SCHEMA, DAY, "xlsx")
    qprefix = _assert_rejected(
        err.value, before, storage, check="supported_file_types", file="notes.xlsx"
    )
    assert storage.exists(qprefix + "notes.xlsx")


# --- untyped library errors become typed input errors --------------------------------------


def test_files_disagreeing_on_a_column_type(env) -> None:
    settings, storage = env
    a, b = _frame(rows=200), generate_transactions(DAY, n_rows=200, seed=5)
    b["transaction_id"] = b["transaction_id"].str.replace("tx-", "b-")
    b["amount"] = b["amount"].map(lambda v: f"{v:.2f} EUR")
    before = _snapshot(storage)
    _land(storage, {"part-000.parquet": _parquet(a), "part-001.parquet": _parquet(b)})
    with pytest.raises(CorruptInputError) as err:
        steps.extract(storage, SCHEMA, DAY, "mixed")
    _assert_rejected(err.value, before, storage, check="column_types_agree_across_files")
    assert "amount" in str(err.value) and "part-001.parquet has text" in str(err.value)


def test_permission_denied_is_typed_and_left_in_place(env, monkeypatch) -> None:
    settings, storage = env
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(_frame())})
    denied = storage.path(PREFIX + "part-000.csv")
    real = Path.read_bytes

    def read_bytes(self):  # root ignores file modes, so deny this one file explicitly
        if self == denied:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(UnsafeInputError, match="permission denied") as err:
        steps.extract(storage, SCHEMA, DAY, "denied")
    qprefix = _assert_rejected(
        err.value, before, storage, check="file_readable", file="part-000.csv"
    )
    entry = json.loads(storage.read_bytes(qprefix + "validation.json"))["files"][0]
    assert entry["copied"] is False and "permission denied" in entry["reason"]
    monkeypatch.undo()
    assert denied.exists()  # an unreadable file is not deleted: it could not be copied


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE)],
)
def test_byte_order_marks_from_spreadsheets(env, encoding, prefix) -> None:
    settings, storage = env
    text = _csv(_frame()).decode()
    _land(storage, {"part-000.csv": prefix + text.encode(encoding)})
    assert _run(settings, storage, "bom").success
    frame = pd.read_parquet(storage.path(lake.working_data_key(SCHEMA.name, DAY)))
    assert "transaction_id" in frame.columns and frame["transaction_id"].notna().all()


def test_integer_coded_categoricals_fail_validation_not_scoring(env) -> None:
    settings, storage = env
    frame = _frame()
    frame["merchant_category"] = (
        frame["merchant_category"].astype("category").cat.codes.astype("int64")
    )
    before = _snapshot(storage)
    _land(storage, {"part-000.parquet": _parquet(frame)})
    with pytest.raises(DataValidationError, match="expect_categorical_values_to_be_text") as err:
        _run(settings, storage, "codes", with_label=False)
    _assert_rejected(err.value, before, storage, check="expect_categorical_values_to_be_text")
    assert delivery.current(storage, SCHEMA, DAY) is None  # never marked validated


# --- silently wrong values become visible --------------------------------------------------


def _with_reference(storage) -> None:
    domains = {c: sorted(_frame(OTHER_DAY, 2_000)[c].unique()) for c in SCHEMA.categorical}
    write_domains(storage, SCHEMA, "run-1", domains)


def test_upper_cased_categories_fail_scoring_validation(env) -> None:
    settings, storage = env
    _with_reference(storage)
    before = _snapshot(storage)
    frame = _frame()
    frame["merchant_category"] = frame["merchant_category"].str.upper()
    _land(storage, {"part-000.csv": _csv(frame)})
    with pytest.raises(DataValidationError) as err:
        _run(settings, storage, "upper", with_label=False)
    _assert_rejected(err.value, before, storage, check="expect_categorical_values_seen_in_training")
    assert "GROCERY" in str(err.value) and "100.0%" in str(err.value)


def test_case_normalisation_is_an_explicit_schema_option(env, caplog) -> None:
    settings, storage = env
    _with_reference(storage)
    schema = dataclasses.replace(
        SCHEMA,
        categoricals=tuple(
            dataclasses.replace(c, normalize="lower", strip=True)
            if c.name == "merchant_category"
            else c
            for c in SCHEMA.categoricals
        ),
    )
    frame = _frame()
    frame["merchant_category"] = " " + frame["merchant_category"].str.upper()
    _land(storage, {"part-000.csv": _csv(frame)})
    with caplog.at_level("WARNING"):
        result = steps.extract(storage, schema, DAY, "norm")
    assert result.normalised["merchant_category:normalised"] == 400
    assert "merchant_category:normalised" in caplog.text
    report = steps.validate(storage, schema, DAY, settings=settings, batch_id="n", with_label=False)
    assert report.success
    working = pd.read_parquet(storage.path(lake.working_data_key(SCHEMA.name, DAY)))
    assert set(working["merchant_category"]) <= set(
        frame["merchant_category"].str.strip().str.lower()
    )


def test_unseen_share_limit_is_a_schema_setting(env) -> None:
    settings, storage = env
    _with_reference(storage)
    frame = _frame()
    frame.loc[:7, "device"] = "smart_watch"  # 8 of 400 = 2% unseen
    _land(storage, {"part-000.csv": _csv(frame)})
    strict = dataclasses.replace(SCHEMA, max_unseen_share=0.01)
    steps.extract(storage, strict, DAY, "strict")
    before = _snapshot(storage)
    with pytest.raises(DataValidationError) as err:
        steps.validate(storage, strict, DAY, settings=settings, batch_id="strict", with_label=False)
    _assert_rejected(err.value, before, storage, check="expect_categorical_values_seen_in_training")
    assert "'device': 8 unexpected" in str(err.value) and "smart_watch" in str(err.value)
    # The same delivery under the bundled limit (5%) is scored data, with the count reported.
    assert SCHEMA.max_unseen_share == 0.05
    _land(storage, {"part-000.csv": _csv(frame)})
    report = _run(settings, storage, "default", with_label=False)
    assert report.success
    warning = next(w for w in report.warnings if w.column == "device")
    assert warning.unexpected_count == 8 and warning.sample_values == ["smart_watch"]


def test_unseen_categories_only_warn_for_training_data(env) -> None:
    settings, storage = env
    _with_reference(storage)
    frame = _frame()
    frame.loc[:9, "country"] = "ZZ"
    _land(storage, {"part-000.csv": _csv(frame)})
    report = _run(settings, storage, "train-unseen", with_label=True)
    assert report.success
    warning = next(w for w in report.warnings if w.column == "country")
    assert warning.unexpected_count == 10 and warning.sample_values == ["ZZ"]


@pytest.mark.parametrize("column", ["transaction_id", "merchant_category"])
def test_whitespace_only_values_count_as_null(env, column) -> None:
    settings, storage = env
    frame = _frame().astype({column: object})
    frame.loc[4, column] = "   "
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(frame)})
    with pytest.raises(DataValidationError, match="expect_column_values_to_not_be_null") as err:
        _run(settings, storage, "blank")
    _assert_rejected(err.value, before, storage, check="expect_column_values_to_not_be_null")
    assert f"'{column}'" in str(err.value) and "1 unexpected" in str(err.value)


def test_naive_timestamps_are_refused_without_a_time_zone(env) -> None:
    settings, storage = env
    frame = _frame()
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(frame)})
    with pytest.raises(DataValidationError, match="expect_timestamps_to_carry_time_zone") as err:
        _run(settings, storage, "naive")
    _assert_rejected(err.value, before, storage, check="expect_timestamps_to_carry_time_zone")
    assert "timestamp_timezone" in str(err.value) and "400 unexpected" in str(err.value)


def test_naive_timestamps_are_localised_from_the_schema_zone(env) -> None:
    settings, storage = env
    schema = dataclasses.replace(SCHEMA, timestamp_timezone="America/New_York")
    frame = _frame()
    frame["timestamp"] = (
        frame["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    )
    frame = frame[frame["timestamp"].str.startswith(DAY.isoformat())]
    _land(storage, {"part-000.csv": _csv(frame)})
    result = steps.extract(storage, schema, DAY, "zone")
    assert result.normalised["timestamp:localised_from_America/New_York"] == len(frame)
    assert steps.validate(storage, schema, DAY, settings=settings, batch_id="z", with_label=True)
    working = pd.read_parquet(storage.path(lake.working_data_key(SCHEMA.name, DAY)))
    expected = _frame().set_index("transaction_id")["timestamp"]
    got = working.set_index("transaction_id")["timestamp"]
    assert (got == expected.loc[got.index]).all()


def test_epoch_number_timestamps_are_refused(env) -> None:
    settings, storage = env
    frame = _frame()
    frame["timestamp"] = frame["timestamp"].astype("int64") // 10**9
    before = _snapshot(storage)
    _land(storage, {"part-000.parquet": _parquet(frame)})
    with pytest.raises(DataValidationError, match="expect_timestamps_to_be_iso8601") as err:
        _run(settings, storage, "epoch")
    _assert_rejected(err.value, before, storage, check="expect_timestamps_to_be_iso8601")


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["true", "false"], "csv"),
        (["1.0", "0.0"], "csv"),
        (["Yes", "No"], "csv"),
        ([True, False], "parquet"),
        ([1.0, 0.0], "parquet"),
    ],
)
def test_labels_must_equal_label_values_exactly(env, values, fmt) -> None:
    settings, storage = env
    frame = _frame()
    frame["is_fraud"] = [values[0] if v else values[1] for v in frame["is_fraud"]]
    data = _parquet(frame) if fmt == "parquet" else _csv(frame)
    before = _snapshot(storage)
    _land(storage, {f"part-000.{fmt}": data})
    with pytest.raises(DataValidationError, match="expect_labels_to_equal_label_values") as err:
        _run(settings, storage, "labels")
    _assert_rejected(err.value, before, storage, check="expect_labels_to_equal_label_values")
    assert "'is_fraud'" in str(err.value)


def test_nullable_column_accepts_legitimate_nulls(env) -> None:
    settings, storage = env
    schema = dataclasses.replace(
        SCHEMA,
        numeric=tuple(
            dataclasses.replace(c, nullable=c.name == "customer_tenure_days")
            for c in SCHEMA.numeric
        ),
    )
    frame = _frame()
    frame.loc[::7, "customer_tenure_days"] = None
    _land(storage, {"part-000.csv": _csv(frame)})
    steps.extract(storage, schema, DAY, "nulls")
    assert steps.validate(storage, schema, DAY, settings=settings, batch_id="n", with_label=True)
    before = _snapshot(storage)
    _land(storage, {"part-000.csv": _csv(frame.assign(amount=frame["amount"] + 0.01))})
    with pytest.raises(DataValidationError, match="customer_tenure_days") as err:
        _run(settings, storage, "not-nullable")  # the bundled schema does not allow them
    _assert_rejected(err.value, before, storage, check="expect_column_values_to_not_be_null")
    assert delivery.current(storage, SCHEMA, DAY).rows == 400  # the nullable version stays


def test_labelled_check_of_a_day_validated_for_scoring_keeps_it(env) -> None:
    settings, storage = env
    frame = _frame()
    frame.loc[2, "is_fraud"] = 9
    _land(storage, {"part-000.csv": _csv(frame)})
    _run(settings, storage, "score", with_label=False)
    before = _snapshot(storage)
    with pytest.raises(DataValidationError, match="usable for scoring") as err:
        steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="t", with_label=True)
    assert _snapshot(storage) == before and err.value.quarantine_path
