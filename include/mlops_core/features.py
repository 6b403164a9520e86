"""Feature preparation shared by training and scoring, inside the fitted pipeline."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TIMESTAMP_COLUMN = "timestamp"
TIME_FEATURES = ("hour", "is_night", "is_weekend")


def add_time_features(
    frame: pd.DataFrame,
    column: str = TIMESTAMP_COLUMN,
    features: Sequence[str] = TIME_FEATURES,
) -> pd.DataFrame:
    """Replace the event timestamp ``column`` with the requested time features (UTC):
    ``hour`` of day, ``is_night`` (23:00-06:00) and ``is_weekend``.

    A module-level function so skops can serialise it by reference and we can trust it by
    name; the column and feature names travel as plain keyword arguments.
    """
    out = frame.copy()
    ts = pd.to_datetime(out.pop(column), utc=True)
    hour = ts.dt.hour.to_numpy()
    derived = {
        "hour": hour,
        "is_night": ((hour < 6) | (hour >= 23)).astype(np.int64),
        "is_weekend": (ts.dt.dayofweek.to_numpy() >= 5).astype(np.int64),
    }
    for name in features:
        out[name] = derived[name]
    return out
