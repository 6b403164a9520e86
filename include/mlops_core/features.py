"""Feature preparation shared by training and scoring, inside the fitted pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMESTAMP_COLUMN = "timestamp"


def add_time_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Replace the event timestamp with hour-of-day and weekend flags (UTC).

    A module-level function so skops can serialise it by reference and we can trust it by name.
    """
    out = frame.copy()
    ts = pd.to_datetime(out.pop(TIMESTAMP_COLUMN), utc=True)
    hour = ts.dt.hour.to_numpy()
    out["hour"] = hour
    out["is_night"] = ((hour < 6) | (hour >= 23)).astype(np.int64)
    out["is_weekend"] = (ts.dt.dayofweek.to_numpy() >= 5).astype(np.int64)
    return out
