"""One manifest and one publisher for every scoring output, whatever the task type.

A scoring step writes its output to a local temp file, builds an :class:`OutputManifest` and
calls :func:`publish`: the output it replaces (other bytes) is archived first, the new file is
uploaded, and the manifest is written last, so a reader that finds a manifest finds the file
it describes. The same inputs and model give the same manifest bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlops_core import delivery, lake, registry
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputManifest:
    """What a scoring run wrote, from which inputs, with which model.

    ``inputs`` maps every lake key read to its SHA-256 (the day's validated partition; for
    ranking, each history partition). ``details`` holds what only one task type reports (for
    classification the categories the model never saw; for ranking K and how many users got
    model or popularity lists); :meth:`to_dict` lays them beside the common fields.
    """

    dataset: str
    day: str
    output_key: str
    output_sha256: str
    rows_in: int
    rows_out: int
    inputs: dict[str, str]
    model_name: str
    model_version: str
    model_rule: str
    columns: list[str]
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clash = sorted(set(self.details) & {f for f in self.__dataclass_fields__})
        if clash:
            raise ValueError(f"manifest details may not reuse common field names: {clash}")

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def to_dict(self) -> dict[str, Any]:
        common = asdict(self)
        details = common.pop("details")
        return {**common, **details}


def manifest_key(dataset: str, day: dt.date, zone: str) -> str:
    return lake.scored_prefix(dataset, day, zone) + lake.MANIFEST


def read(storage: Storage, dataset: str, day: dt.date, zone: str = lake.SCORED) -> dict | None:
    """The published manifest of ``zone/<dataset>/dt=<day>/``, or None when there is none."""
    key = manifest_key(dataset, day, zone)
    return json.loads(storage.read_bytes(key)) if storage.exists(key) else None


def publish(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    zone: str,
    path: Path,
    manifest: OutputManifest,
) -> str | None:
    """Upload ``path`` to ``manifest.output_key`` and write the manifest last.

    Returns where the replaced output was archived, or None when nothing was replaced.
    """
    prefix = lake.scored_prefix(schema.name, day, zone)
    if not manifest.output_key.startswith(prefix):
        raise ValueError(f"output {manifest.output_key} is not under {prefix}")
    archived = archive_replaced(storage, schema, day, zone, manifest)
    storage.upload_file(path, manifest.output_key)
    storage.write_bytes(prefix + lake.MANIFEST, registry.dumps(manifest.to_dict()).encode())
    return archived


def archive_replaced(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    zone: str,
    manifest: OutputManifest,
) -> str | None:
    """Before an output is overwritten with different bytes (a newer validated input or
    another model), copy the current one and its manifest to the archive zone."""
    prefix = lake.scored_prefix(schema.name, day, zone)
    key = prefix + lake.MANIFEST
    if not storage.exists(key):
        return None
    old = json.loads(storage.read_bytes(key))
    if old.get("output_sha256") == manifest.output_sha256:
        return None
    old_output = old.get("output_key", manifest.output_key)
    names = sorted({old_output[len(prefix) :], manifest.output_key[len(prefix) :], lake.MANIFEST})
    where = delivery.archive_current(storage, zone, schema.name, day, prefix, names)
    log.warning(
        "%s dt=%s: output %s replaced (model version %s -> %s, new bytes); previous kept at %s",
        schema.name,
        day,
        prefix,
        old.get("model_version"),
        manifest.model_version,
        where,
    )
    return where
