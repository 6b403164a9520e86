"""Demo data generators by name (a spec's ``sample_data.generator``) and the lander that
writes a generated day into the landing zone the way a producer would (files, then
``_SUCCESS``).

A team with its own data needs none of this: its producer lands files and the marker. The
generators exist so that every use case runs end to end on a fresh machine.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_core import lake

if TYPE_CHECKING:  # pandas is imported by the generators themselves, on use
    import pandas as pd

    from mlops_core.schema import DatasetSchema
    from mlops_core.storage import Storage


def _card_transactions(day: dt.date, *, seed: int, rows: int, drift: float) -> pd.DataFrame:
    from mlops_core.sample_data import generate_transactions

    return generate_transactions(day, seed=seed, n_rows=rows, drift=drift)


def _implicit_feedback(day: dt.date, *, seed: int, rows: int, drift: float) -> pd.DataFrame:
    """``rows`` is the number of user sessions (each yields several interactions)."""
    from mlops_core.recsys.data import generate_interactions

    return generate_interactions(day, seed=seed, sessions=rows)


def _loans(day: dt.date, *, seed: int, rows: int, drift: float) -> pd.DataFrame:
    from mlops_core.generators.loans import generate_loans

    return generate_loans(day, seed=seed, n_rows=rows, drift=drift)


GENERATORS: dict[str, Callable[..., Any]] = {
    "card_transactions": _card_transactions,
    "implicit_feedback": _implicit_feedback,
    "loans": _loans,
}


def generate(name: str, day: dt.date, *, seed: int, rows: int, drift: float = 0.0):
    """A day of synthetic data from generator ``name`` (deterministic per seed and day)."""
    if name not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; choose one of {', '.join(GENERATORS)}")
    return GENERATORS[name](day, seed=seed, rows=rows, drift=drift)


def land_frame(
    storage: Storage, schema: DatasetSchema, day: dt.date, frame: pd.DataFrame, *, fmt: str
) -> str:
    """Write ``frame`` as the day's only landing file, then the ``_SUCCESS`` marker.

    CSV timestamps are written as a producer would: ISO 8601 in UTC with ``Z`` when the
    values carry a zone, plain local ``YYYY-MM-DD HH:MM:SS`` when they are naive (the spec's
    ``timestamp_timezone`` says which zone).
    """
    prefix = lake.landing_prefix(schema.name, day)
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False, compression="zstd")
        key, data = prefix + "part-000.parquet", buf.getvalue()
    else:
        out = frame.copy()
        for column in (schema.timestamp_column, schema.label_time_column):
            if not column or column not in out.columns:
                continue
            ts = out[column]
            if getattr(ts.dt, "tz", None) is not None:
                out[column] = ts.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            else:
                out[column] = ts.dt.strftime("%Y-%m-%d %H:%M:%S")
        key, data = prefix + "part-000.csv", out.to_csv(index=False).encode()
    storage.write_bytes(key, data)
    storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    return key


def land_sample(
    storage: Storage,
    spec: Any,
    day: dt.date,
    *,
    rows: int | None = None,
    seed: int | None = None,
    drift: float | None = None,
    fmt: str | None = None,
) -> dict[str, Any]:
    """Generate and land a day for ``spec`` (a ``UseCaseSpec`` with ``sample_data``);
    arguments left as None take the spec's values (drift: from ``drift_from`` on)."""
    sample = spec.sample_data
    if sample is None:
        raise ValueError(f"use case {spec.name} has no sample_data section: land real files")
    if drift is None:
        starts = sample.drift_from and dt.date.fromisoformat(sample.drift_from)
        drift = sample.drift if starts and day >= starts else 0.0
    frame = generate(
        sample.generator,
        day,
        seed=sample.seed if seed is None else seed,
        rows=sample.rows if rows is None else rows,
        drift=drift,
    )
    key = land_frame(storage, spec.dataset, day, frame, fmt=fmt or sample.format)
    result: dict[str, Any] = {"key": key, "rows": len(frame), "drift": drift}
    label = spec.dataset.label_column
    if label and label in frame.columns:
        result["positive_rate"] = float(spec.dataset.target(frame[label]).mean())
    return result
