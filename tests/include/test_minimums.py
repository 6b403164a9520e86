"""Minimums per partition and per training window, each critical or warning: a sparse real
day need not be quarantined, and a thin window says exactly what it lacks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from mlops_core import steps
from mlops_core.config import Settings
from mlops_core.errors import DataValidationError, SchemaError, TrainingError
from mlops_core.generators import land_frame
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import DatasetSchema, Minimums, load_schema
from mlops_core.storage import LocalStorage
from mlops_core.train import load_training_set

DAY = dt.date(2026, 11, 5)
FRAUD = load_schema("fraud")  # min_rows 100, critical


def _lake(tmp_path):
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    return settings, LocalStorage(settings.storage_url)


def _land_and_validate(settings, storage, schema, day, rows):
    land_frame(storage, schema, day, generate_transactions(day, n_rows=rows), fmt="csv")
    steps.extract(storage, schema, day, "b1")
    return steps.validate(storage, schema, day, settings=settings, batch_id="b1", with_label=True)


def test_a_sparse_day_fails_a_critical_partition_minimum(tmp_path) -> None:
    settings, storage = _lake(tmp_path)

    with pytest.raises(DataValidationError, match="expect_table_row_count_to_be_between"):
        _land_and_validate(settings, storage, FRAUD, DAY, rows=40)


def test_a_warning_partition_minimum_keeps_the_sparse_day_with_counts(tmp_path) -> None:
    settings, storage = _lake(tmp_path)
    schema = dataclasses.replace(FRAUD, partition_minimums=Minimums(rows=100, severity="warning"))

    report = _land_and_validate(settings, storage, schema, DAY, rows=40)

    assert report.success
    warning = next(
        w for w in report.warnings if w.expectation == "expect_table_row_count_to_be_between"
    )
    assert "40" in warning.describe()


def test_window_minimums_critical_and_warning(tmp_path, caplog) -> None:
    settings, storage = _lake(tmp_path)
    days = [DAY - dt.timedelta(days=i) for i in range(3)]
    for day in days:
        _land_and_validate(settings, storage, FRAUD, day, rows=300)
    critical = dataclasses.replace(
        FRAUD,
        window_minimums=Minimums(rows=5_000, distinct={"customer_id": 10}, positives=500),
    )

    with pytest.raises(TrainingError) as err:
        load_training_set(storage, critical, DAY, 3)
    message = str(err.value)
    assert "900 rows, 5000 needed" in message
    assert "positive labels, 500 needed" in message
    assert "distinct customer_id" not in message  # that minimum is met

    warning = dataclasses.replace(
        critical, window_minimums=dataclasses.replace(critical.window_minimums, severity="warning")
    )
    with caplog.at_level(logging.WARNING, logger="mlops_core.windows"):
        window = load_training_set(storage, warning, DAY, 3)
    assert len(window.frame) == 900
    assert "900 rows, 5000 needed" in caplog.text


@pytest.mark.parametrize(
    ("minimums", "expected"),
    [
        ({"day": {"rows": 1}}, "minimums.day: unknown level"),
        ({"partition": {"rows": -1}}, "minimums.partition.rows: expected an integer >= 0"),
        ({"partition": {"positives": 3}}, "positives are counted per training window only"),
        ({"window": {"severity": "fatal"}}, "minimums.window.severity: expected one of"),
        ({"window": {"distinct": {"nobody": 3}}}, "'nobody' is not a declared column"),
        ({"window": {"rows": 5, "extra": 1}}, "minimums.window.extra: unknown key"),
    ],
)
def test_minimums_are_validated(minimums, expected) -> None:
    data = {**FRAUD.to_dict(), "minimums": minimums}
    with pytest.raises(SchemaError, match=expected):
        DatasetSchema.from_dict(data, source="spec.yaml")
