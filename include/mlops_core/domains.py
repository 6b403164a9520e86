"""Categorical domains: the values each categorical column took in a model's training data.

Training records them in the lake; validation of scoring data and scoring itself report values
outside them per column (count and the most frequent ones), so a renamed or re-cased category
is visible instead of silently scored as "unknown".
"""

from __future__ import annotations

import json

import pandas as pd

from mlops_core import lake
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

LATEST = "latest"


def categorical_domains(frame: pd.DataFrame, schema: DatasetSchema) -> dict[str, list[str]]:
    return {
        col: sorted(str(v) for v in frame[col].dropna().unique())
        for col in schema.categorical
        if col in frame.columns
    }


def write_domains(
    storage: Storage, schema: DatasetSchema, run_id: str, domains: dict[str, list[str]]
) -> str:
    payload = json.dumps({"run_id": run_id, "domains": domains}, indent=1, sort_keys=True).encode()
    key = lake.domains_key(schema.name, run_id)
    storage.write_bytes(key, payload)
    storage.write_bytes(lake.domains_key(schema.name, LATEST), payload)
    return key


def read_domains(
    storage: Storage, schema: DatasetSchema, run_id: str = LATEST
) -> dict[str, list[str]] | None:
    key = lake.domains_key(schema.name, run_id)
    if not schema.categorical or not storage.exists(key):
        return None
    return json.loads(storage.read_bytes(key))["domains"]
