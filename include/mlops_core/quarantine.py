"""Quarantine: move a bad landing batch out of the way, with the reason beside it."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from mlops_core import lake
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage, copy_key


def quarantine_batch(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    batch_id: str,
    report: dict[str, Any],
) -> str:
    """Move the day's landing files to ``quarantine/<dataset>/dt=<day>/<batch_id>/``.

    The files are copied first and the report written beside them; only then are the landing
    copies deleted, so a crash in between leaves duplicates, never a loss.

    Returns:
        The quarantine location (a URI a person can open).
    """
    src_prefix = lake.landing_prefix(schema.name, day)
    dst_prefix = lake.quarantine_prefix(schema.name, day, batch_id)
    keys = storage.list(src_prefix)
    for key in keys:
        copy_key(storage, key, storage, dst_prefix + key[len(src_prefix) :])
    storage.write_bytes(
        dst_prefix + "validation.json",
        json.dumps(report, indent=2, sort_keys=True, default=str).encode(),
    )
    for key in keys:
        storage.delete(key)
    return storage.uri(dst_prefix)
