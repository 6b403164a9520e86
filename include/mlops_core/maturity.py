"""Label maturity: which rows' labels are final by a given time.

A dataset whose schema names a ``label_time_column`` says, per row, when its label became
final (a fraud's chargeback arrives days after the transaction). Training for day D reads
only rows whose label is final by the end of D; monitoring reads each partition's rows whose
label was final within ``label_delay_days`` of the partition's end, so every monitored day has
the same label completeness and days compare like with like. Rows left out are counted and
logged, never treated as negatives. Without a label time column every label is final on
arrival.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import pandas as pd

from mlops_core.schema import DatasetSchema

log = logging.getLogger(__name__)


def end_of_day(day: dt.date) -> pd.Timestamp:
    """The first instant after ``day`` (UTC): a label final by then counts for ``day``."""
    return pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)


def cutoff_timestamp(value: str | None) -> pd.Timestamp | None:
    """A training run's ``cutoff`` param (its first holdout timestamp) as a UTC timestamp;
    None when the run has none."""
    if not value:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp


@dataclass(frozen=True)
class MaturedLabels:
    """The rows whose labels are final by ``as_of``, and how many were left out."""

    frame: pd.DataFrame
    excluded: int
    as_of: str

    def to_dict(self) -> dict[str, object]:
        return {
            "rows": len(self.frame),
            "unmatured_rows_excluded": self.excluded,
            "as_of": self.as_of,
        }


def matured_rows(
    frame: pd.DataFrame, schema: DatasetSchema, as_of: pd.Timestamp | pd.Series
) -> MaturedLabels:
    """The rows of ``frame`` whose label time is at or before ``as_of`` (one instant, or one
    per row) and the count of the others; the whole frame when the schema has no label
    time column or the frame does not carry it."""
    column = schema.label_time_column
    if not column or column not in frame.columns:
        return MaturedLabels(frame, 0, str(as_of) if isinstance(as_of, pd.Timestamp) else "")
    arrived = pd.to_datetime(frame[column], utc=True)
    final = (arrived < as_of).to_numpy() & arrived.notna().to_numpy()
    kept = frame[final]
    shown = str(as_of) if isinstance(as_of, pd.Timestamp) else "per partition"
    return MaturedLabels(kept, int(len(frame) - len(kept)), shown)


def matured_for_training(frame: pd.DataFrame, schema: DatasetSchema, day: dt.date) -> MaturedLabels:
    """The rows a training run for ``day`` may learn from: labels final by the end of
    ``day``. Logs a warning with the count of rows whose labels are still pending."""
    result = matured_rows(frame, schema, end_of_day(day))
    if result.excluded:
        log.warning(
            "%s: %d of %d rows of the window ending %s have labels that are not final by %s "
            "(%s); they are left out of training and evaluation, not counted as negatives",
            schema.name,
            result.excluded,
            len(frame),
            day,
            result.as_of,
            schema.label_time_column,
        )
    return result


def matured_within(frame: pd.DataFrame, schema: DatasetSchema, delay_days: int) -> MaturedLabels:
    """The rows whose label was final within ``delay_days`` after the end of their own
    partition day (the day of their timestamp): monitoring's like-for-like rule."""
    if not schema.label_time_column or schema.label_time_column not in frame.columns:
        return MaturedLabels(frame, 0, "")
    stamps = pd.to_datetime(frame[schema.timestamp_column], utc=True)
    horizon = stamps.dt.floor("D") + pd.Timedelta(days=1 + delay_days)
    return matured_rows(frame, schema, horizon)
