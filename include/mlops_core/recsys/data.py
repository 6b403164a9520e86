"""Interaction data: a synthetic implicit-feedback generator and a loader for ratings files.

The generator models what makes recommendation data hard: item popularity follows a power
law, users have one or two taste clusters, and activity comes in sessions over the day. The
catalogue and users depend only on the seed; a day's events depend only on (seed, date).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_core import lake
from mlops_core.errors import CorruptInputError
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

# Event strengths of the generator (view, add to cart, purchase) and their frequencies.
EVENT_RATINGS = np.array([1.0, 3.0, 5.0])
EVENT_PROBS = np.array([0.75, 0.17, 0.08])


@dataclass(frozen=True)
class Universe:
    """Users, items and tastes: fixed for a seed."""

    n_users: int = 3_000
    n_items: int = 1_500
    n_clusters: int = 15
    popularity_exponent: float = 1.1
    in_cluster_share: float = 0.8


def _universe_arrays(seed: int, u: Universe) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 0x5EC])
    item_cluster = rng.integers(0, u.n_clusters, u.n_items)
    # Power-law popularity: item ranks are a random permutation, weight = rank^-exponent.
    ranks = rng.permutation(u.n_items) + 1
    weight = ranks.astype(float) ** -u.popularity_exponent
    first = rng.integers(0, u.n_clusters, u.n_users)
    second = np.where(rng.random(u.n_users) < 0.4, rng.integers(0, u.n_clusters, u.n_users), first)
    activity = rng.lognormal(0.0, 0.8, u.n_users)
    return {
        "item_cluster": item_cluster,
        "weight": weight,
        "first": first,
        "second": second,
        "activity": activity / activity.sum(),
    }


def user_ids(n: int) -> np.ndarray:
    return np.array([f"u{i:07d}" for i in range(n)], dtype=object)


def item_ids(n: int) -> np.ndarray:
    return np.array([f"i{i:06d}" for i in range(n)], dtype=object)


def generate_interactions(
    day: dt.date,
    *,
    seed: int = 11,
    sessions: int = 2_500,
    universe: Universe | None = None,
) -> pd.DataFrame:
    """One day of implicit feedback: user_id, item_id, rating (event strength), timestamp.

    Sorted by (timestamp, user, item); (user, item, timestamp) is unique.
    """
    u = universe or Universe()
    arr = _universe_arrays(seed, u)
    rng = np.random.default_rng([seed, day.toordinal()])
    session_users = rng.choice(u.n_users, size=sessions, p=arr["activity"])
    lengths = rng.geometric(0.2, sessions)
    users = np.repeat(session_users, lengths)
    n = len(users)
    starts = rng.uniform(0, 86_000, sessions)
    offsets = np.concatenate([np.cumsum(rng.exponential(45.0, m)) for m in lengths])
    seconds = np.minimum(np.repeat(starts, lengths) + offsets, 86_399.999)
    taste = np.where(rng.random(n) < 0.5, arr["first"][users], arr["second"][users])
    in_cluster = rng.random(n) < u.in_cluster_share
    items = np.empty(n, dtype=np.int64)
    # Per cluster: items of the cluster, drawn by popularity; out of cluster: global popularity.
    glob_p = arr["weight"] / arr["weight"].sum()
    out_idx = np.flatnonzero(~in_cluster)
    items[out_idx] = rng.choice(u.n_items, size=len(out_idx), p=glob_p)
    for cluster in range(u.n_clusters):
        rows = np.flatnonzero(in_cluster & (taste == cluster))
        if not len(rows):
            continue
        members = np.flatnonzero(arr["item_cluster"] == cluster)
        p = arr["weight"][members] / arr["weight"][members].sum()
        items[rows] = members[rng.choice(len(members), size=len(rows), p=p)]
    ratings = rng.choice(EVENT_RATINGS, size=n, p=EVENT_PROBS)
    start = pd.Timestamp(day, tz="UTC")
    frame = pd.DataFrame(
        {
            "user_id": user_ids(u.n_users)[users],
            "item_id": item_ids(u.n_items)[items],
            "rating": ratings,
            "timestamp": start + pd.to_timedelta(np.round(seconds, 3), unit="s"),
        }
    )
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame = frame.drop_duplicates(["user_id", "item_id", "timestamp"])
    return frame.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(
        drop=True
    )


# ---- ratings files ---------------------------------------------------------------------

_HEADER_NAMES = {
    "user_id": {"user_id", "userid", "user", "uid", "visitorid", "customer_id"},
    "item_id": {"item_id", "itemid", "item", "movieid", "movie_id", "iid", "product_id", "isbn"},
    "rating": {"rating", "score", "event_strength", "value", "weight"},
    "timestamp": {"timestamp", "ts", "time", "datetime", "date", "event_time"},
}


def sniff_separator(first_line: str) -> str:
    """``::`` (MovieLens 1M/10M), tab (MovieLens 100K), comma (ml-latest), or whitespace."""
    if "::" in first_line:
        return "::"
    if "\t" in first_line:
        return "\t"
    if "," in first_line:
        return ","
    if ";" in first_line:
        return ";"
    return r"\s+"


def read_ratings_file(
    path: str | Path, *, sep: str | None = None, header: bool | None = None
) -> pd.DataFrame:
    """Read a ``user item rating timestamp`` file into the interactions columns.

    Separators ``::``, tab, comma, semicolon or whitespace are detected from the first line;
    so is a header (its names are mapped: ``userId``, ``movieId``, ...; a ``:type`` suffix
    as in ``user_id:token`` is ignored). Without a header the
    columns are positional. Timestamps may be Unix seconds (or milliseconds) or ISO 8601.

    Raises:
        CorruptInputError: the file cannot be parsed into these four columns.
    """
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # MovieLens 1M ships Latin-1 titles beside its ratings
    first = text.split("\n", 1)[0].strip()
    sep = sep or sniff_separator(first)
    fields = re.split(sep if sep != "::" else "::", first) if first else []
    if header is None:
        header = len(fields) >= 3 and not _is_number(fields[2].strip().strip('"'))
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            header=0 if header else None,
            engine="python" if len(sep) > 1 else "c",
            dtype=str,
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise CorruptInputError(f"cannot parse ratings file {path}: {exc}") from exc
    if header:
        rename = {}
        for col in frame.columns:
            key = header_name(col)
            for target, names in _HEADER_NAMES.items():
                if key in names and target not in rename.values():
                    rename[col] = target
        frame = frame.rename(columns=rename)
    else:
        frame.columns = ["user_id", "item_id", "rating", "timestamp", *frame.columns[4:]]
    missing = [c for c in ("user_id", "item_id", "rating", "timestamp") if c not in frame.columns]
    if missing:
        raise CorruptInputError(
            f"ratings file {path} has no column for {missing} (columns: {list(frame.columns)}); "
            "name them in the header (accepted: "
            + "; ".join(f"{t}: {', '.join(sorted(n))}" for t, n in _HEADER_NAMES.items())
            + "), with or without a ':type' suffix, or give a headerless file in the order "
            "user item rating timestamp"
        )
    out = frame[["user_id", "item_id", "rating", "timestamp"]].copy()
    out["rating"] = pd.to_numeric(out["rating"], errors="coerce")
    out["timestamp"] = parse_timestamps(out["timestamp"])
    return out


def header_name(column: object) -> str:
    """A header cell as a lookup key: trimmed, lower case, without a ``:type`` suffix.

    Atomic files of public recommender benchmarks type their columns in the header
    (``user_id:token``, ``rating:float``); the suffix says nothing about the column's role.
    """
    key = str(column).strip().strip('"').lower()
    name, colon, _ = key.rpartition(":")
    return name if colon and name else key


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse_timestamps(values: pd.Series) -> pd.Series:
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and len(values):
        unit = "ms" if numeric.max() > 1e11 else "s"
        return pd.to_datetime(numeric, unit=unit, utc=True)
    return pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")


def land_interactions(
    storage: Storage, schema: DatasetSchema, frame: pd.DataFrame, *, fmt: str = "parquet"
) -> list[str]:
    """Split interactions by UTC day into landing partitions (data file, then ``_SUCCESS``).

    Rows without a parseable timestamp cannot be placed in a partition; they are refused
    with their count rather than dropped silently. Returns the days landed.
    """
    ts = schema.timestamp_column
    bad = frame[ts].isna()
    if bad.any():
        raise CorruptInputError(
            f"{int(bad.sum())} interactions have no parseable timestamp (first rows: "
            f"{frame[bad].head(3).to_dict('records')}); fix the file before landing it"
        )
    days = []
    for day, part in frame.groupby(frame[ts].dt.tz_convert("UTC").dt.date, sort=True):
        prefix = lake.landing_prefix(schema.name, day)
        part = part.sort_values([ts, "user_id", "item_id"], kind="stable")
        if fmt == "parquet":
            buf = io.BytesIO()
            part.to_parquet(buf, index=False, compression="zstd")
            key, data = prefix + "part-000.parquet", buf.getvalue()
        else:
            out = part.copy()
            out[ts] = out[ts].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            key, data = prefix + "part-000.csv", out.to_csv(index=False).encode()
        storage.write_bytes(key, data)
        storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
        days.append(day.isoformat())
    return days
