"""Where things live in the lake. One function per zone keeps paths consistent everywhere."""

from __future__ import annotations

import datetime as dt

SUCCESS_MARKER = "_SUCCESS"
MANIFEST = "_MANIFEST.json"
VALIDATED_MARKER = "_VALIDATED.json"
# Points at the extracted candidate of a partition that waits for validation.
PENDING = "_PENDING.json"


def partition(day: dt.date | str) -> str:
    return f"dt={day if isinstance(day, str) else day.isoformat()}"


def landing_prefix(dataset: str, day: dt.date | str) -> str:
    return f"landing/{dataset}/{partition(day)}/"


def working_prefix(dataset: str, day: dt.date | str) -> str:
    return f"working/{dataset}/{partition(day)}/"


def working_data_key(dataset: str, day: dt.date | str) -> str:
    return working_prefix(dataset, day) + "data.parquet"


def staging_prefix(dataset: str, day: dt.date | str) -> str:
    """Extracted candidates wait here until validation accepts (and publishes) or rejects them;
    ``working/`` only ever holds validated data."""
    return f"staging/{dataset}/{partition(day)}/"


def archive_prefix(zone: str, dataset: str, day: dt.date | str, version: str) -> str:
    """Superseded versions of a validated working partition or of a scored output: a newer
    validated delivery replaces the current version only after copying it here."""
    return f"archive/{zone}/{dataset}/{partition(day)}/{version}/"


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


def domains_key(dataset: str, name: str) -> str:
    """Categorical values seen in training: ``<run_id>.json`` per training run, ``latest.json``
    for the most recent one (the reference for scoring validation)."""
    return f"reference/{dataset}/categorical_domains/{name}.json"
