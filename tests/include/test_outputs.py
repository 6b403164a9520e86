"""The one scoring-output publisher: manifest written last, a replaced output archived first,
identical reruns archive nothing, task-type details never shadow the common fields."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from mlops_core import lake, outputs
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

SCHEMA = load_schema("fraud")
DAY = dt.date(2024, 2, 29)


class RecordingStorage(LocalStorage):
    """A local lake that records the order of writes."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.writes: list[str] = []

    def write_bytes(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        super().write_bytes(key, data)

    def upload_file(self, local_path: Path, key: str) -> None:
        self.writes.append(key)
        super().upload_file(local_path, key)


def _manifest(path: Path, version: str, **details) -> outputs.OutputManifest:
    return outputs.OutputManifest(
        dataset=SCHEMA.name,
        day=DAY.isoformat(),
        output_key=lake.scored_prefix(SCHEMA.name, DAY) + "scores.parquet",
        output_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        rows_in=3,
        rows_out=3,
        inputs={lake.working_data_key(SCHEMA.name, DAY): "ab" * 32},
        model_name="m",
        model_version=version,
        model_rule="alias:champion",
        columns=["id", "score"],
        details=details,
    )


@pytest.fixture
def storage(tmp_path: Path) -> RecordingStorage:
    return RecordingStorage(str(tmp_path / "lake"))


def test_manifest_is_written_after_the_output(storage, tmp_path) -> None:
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"first")
    manifest = _manifest(out, "1", unseen_categories={})
    assert outputs.publish(storage, SCHEMA, DAY, lake.SCORED, out, manifest) is None
    assert storage.writes == [
        manifest.output_key,
        manifest_key := outputs.manifest_key(SCHEMA.name, DAY, lake.SCORED),
    ]
    stored = json.loads(storage.read_bytes(manifest_key))
    assert stored == manifest.to_dict() == outputs.read(storage, SCHEMA.name, DAY)
    assert stored["unseen_categories"] == {} and "details" not in stored


def test_replacement_is_archived_and_an_identical_rerun_is_not(storage, tmp_path) -> None:
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"first")
    first = _manifest(out, "1")
    outputs.publish(storage, SCHEMA, DAY, lake.SCORED, out, first)
    assert outputs.publish(storage, SCHEMA, DAY, lake.SCORED, out, first) is None
    assert storage.list("archive/") == []

    out.write_bytes(b"second")
    where = outputs.publish(storage, SCHEMA, DAY, lake.SCORED, out, _manifest(out, "2"))
    assert where == lake.archive_prefix(lake.SCORED, SCHEMA.name, DAY, first.output_sha256[:16])
    assert storage.read_bytes(where + "scores.parquet") == b"first"
    assert json.loads(storage.read_bytes(where + lake.MANIFEST))["model_version"] == "1"
    assert storage.read_bytes(first.output_key) == b"second"


def test_details_may_not_shadow_common_fields(tmp_path) -> None:
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"x")
    with pytest.raises(ValueError, match="rows_out"):
        _manifest(out, "1", rows_out=5)


def test_output_outside_its_zone_is_refused(storage, tmp_path) -> None:
    out = tmp_path / "scores.parquet"
    out.write_bytes(b"x")
    manifest = _manifest(out, "1")
    with pytest.raises(ValueError, match="is not under"):
        outputs.publish(storage, SCHEMA, DAY, lake.SHADOW, out, manifest)
    assert storage.writes == []
