"""Where things live in the lake. One function per zone keeps paths consistent everywhere."""

from __future__ import annotations

import datetime as dt

SUCCESS_MARKER = "_SUCCESS"
MANIFEST = "_MANIFEST.json"
VALIDATED_MARKER = "_VALIDATED.json"


def partition(day: dt.date | str) -> str:
    return f"dt={day if isinstance(day, str) else day.isoformat()}"


def landing_prefix(dataset: str, day: dt.date | str) -> str:
    return f"landing/{dataset}/{partition(day)}/"


def working_prefix(dataset: str, day: dt.date | str) -> str:
    return f"working/{dataset}/{partition(day)}/"


def working_data_key(dataset: str, day: dt.date | str) -> str:
    return working_prefix(dataset, day) + "data.parquet"


def quarantine_prefix(dataset: str, day: dt.date | str, batch_id: str) -> str:
    return f"quarantine/{dataset}/{partition(day)}/{batch_id}/"


SCORED, SHADOW = "scored", "scored_shadow"


def scored_prefix(dataset: str, day: dt.date | str, zone: str = SCORED) -> str:
    """Champion outputs live in ``scored/``; shadow (challenger) outputs in ``scored_shadow/``."""
    return f"{zone}/{dataset}/{partition(day)}/"


def parse_day(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value[:10])
