"""The one window loader: the validated partitions of a dataset in ``(end - days, end]``,
read into one frame with each day's content hash, and the window's minimums.

Every task type trains on a window read here, so which days count (validated ones only),
how they are fingerprinted and how a thin window is reported are the same for all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_core import lake
from mlops_core.errors import InputMissingError, TrainingError
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class Window:
    frame: pd.DataFrame
    partitions: dict[str, str]  # day -> working data sha256

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.partitions)


def fingerprint(partitions: dict[str, str]) -> str:
    """A digest of which days, with which bytes, a window holds."""
    payload = json.dumps(partitions, sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def window_days(end_day: dt.date, days: int) -> list[dt.date]:
    return [end_day - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def read_window(
    storage: Storage,
    schema: DatasetSchema,
    end_day: dt.date,
    days: int,
    *,
    read: Callable[[Path], pd.DataFrame] = pd.read_parquet,
) -> Window:
    """Validated working partitions in ``(end_day - days, end_day]`` and their hashes.

    Days without a validation marker (never validated, or quarantined) are skipped.

    Raises:
        InputMissingError: not one validated day in the window.
    """
    frames, partitions = [], {}
    for day in window_days(end_day, days):
        prefix = lake.working_prefix(schema.name, day)
        if not storage.exists(prefix + lake.VALIDATED_MARKER):
            continue
        meta = json.loads(storage.read_bytes(prefix + lake.MANIFEST))
        with storage.local_copy(lake.working_data_key(schema.name, day)) as path:
            frames.append(read(path))
        partitions[day.isoformat()] = meta["data_sha256"]
    if not frames:
        raise InputMissingError(
            f"no validated partitions of {schema.name} in the {days} days up to {end_day}; "
            "run extraction and validation for those days first"
        )
    return Window(pd.concat(frames, ignore_index=True), partitions)


def check_window_minimums(
    frame: pd.DataFrame, schema: DatasetSchema, *, days: int, columns: dict[str, str] | None = None
) -> list[str]:
    """Hold the window to ``minimums.window``: a critical shortfall raises, a warning is
    logged with the counts and returned. ``columns`` maps dataset column names to the
    frame's (the recommender renames its columns).

    Raises:
        TrainingError: a critical window minimum is not met.
    """
    minimum = schema.window_minimums
    if minimum is None:
        return []
    names = columns or {}
    distinct = {
        col: int(frame[names.get(col, col)].nunique())
        for col in minimum.distinct
        if names.get(col, col) in frame.columns
    }
    positives: Any = None
    if schema.label_column and schema.label_column in frame.columns:
        positives = int(schema.target(frame[schema.label_column]).sum())
    short = minimum.shortfalls(len(frame), distinct, positives)
    if not short:
        return []
    message = (
        f"the {days}-day training window of {schema.name} is below its minimums: "
        + "; ".join(short)
    )
    if minimum.severity == "critical":
        raise TrainingError(
            message + ". Land more days, widen window_days, or lower minimums.window in the spec."
        )
    log.warning("%s (severity warning: training goes on)", message)
    return short
