"""Extraction: landing partition (CSV or Parquet, local or S3) -> working zone Parquet."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_core import lake
from mlops_core.errors import CorruptInputError, InputMissingError
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage, sha256_file

_DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


@dataclass(frozen=True)
class ExtractResult:
    dataset: str
    day: str
    working_key: str
    rows: int
    source_files: dict[str, str]  # landing key -> sha256 of its bytes
    data_sha256: str

    def to_dict(self) -> dict:
        return asdict(self)


def landing_files(storage: Storage, schema: DatasetSchema, day: dt.date) -> list[str]:
    """Data files in the day's landing partition (markers and temp files excluded)."""
    prefix = lake.landing_prefix(schema.name, day)
    return [
        key
        for key in storage.list(prefix)
        if key.endswith(_DATA_SUFFIXES) and not Path(key).name.startswith(("_", "."))
    ]


def read_landing_file(name: str, data: bytes, schema: DatasetSchema) -> pd.DataFrame:
    """Parse one landing file; raise CorruptInputError for bytes that are not what they say."""
    try:
        if name.endswith((".parquet", ".pq")):
            frame = pq.read_table(io.BytesIO(data)).to_pandas()
        else:
            text_cols = [c for c in (schema.id_column, *schema.passthrough) if c]
            text_cols += list(schema.categorical)
            frame = pd.read_csv(
                io.BytesIO(data),
                dtype={c: "str" for c in text_cols},
                encoding="utf-8",
                encoding_errors="strict",
                compression="gzip" if name.endswith(".gz") else None,
            )
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (UnicodeDecodeError, pa.ArrowInvalid, pd.errors.ParserError, OSError) as exc:
        raise CorruptInputError(
            f"cannot parse landing file {name}: {type(exc).__name__}: {str(exc)[:300]}"
        ) from exc
    return frame


def normalise_timestamps(frame: pd.DataFrame, schema: DatasetSchema) -> pd.DataFrame:
    """Parse the timestamp column to UTC; unparseable values become NaT for validation to flag."""
    col = schema.timestamp_column
    if col in frame.columns and not isinstance(frame[col].dtype, pd.DatetimeTZDtype):
        frame[col] = pd.to_datetime(frame[col], utc=True, errors="coerce", format="ISO8601")
    elif col in frame.columns:
        frame[col] = frame[col].dt.tz_convert("UTC")
    return frame


def write_parquet(frame: pd.DataFrame, path: Path, row_group_size: int = 256_000) -> None:
    """Deterministic Parquet: same frame, same bytes."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path, compression="zstd", row_group_size=row_group_size)


def extract_partition(storage: Storage, schema: DatasetSchema, day: dt.date) -> ExtractResult:
    """Copy one landing partition into the working zone as a single Parquet file.

    Args:
        storage: the lake.
        schema: the dataset schema (its name is the lake folder).
        day: partition date.

    Returns:
        What was written and from which source files (with their checksums).

    Raises:
        InputMissingError: the landing partition has no data files.
        CorruptInputError: a file cannot be parsed (bad encoding, truncated Parquet).
    """
    keys = landing_files(storage, schema, day)
    if not keys:
        raise InputMissingError(
            f"no data files under {storage.uri(lake.landing_prefix(schema.name, day))}. "
            "Check that the producer landed the day's files; rerun the task once they exist."
        )
    frames, sources = [], {}
    for key in keys:
        data = storage.read_bytes(key)
        sources[key] = hashlib.sha256(data).hexdigest()
        frames.append(read_landing_file(key, data, schema))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = normalise_timestamps(frame, schema)

    working_key = lake.working_data_key(schema.name, day)
    # New bytes invalidate any earlier validation of this partition.
    storage.delete(lake.working_prefix(schema.name, day) + lake.VALIDATED_MARKER)
    with tempfile.TemporaryDirectory(prefix="mlops-extract-") as tmp:
        path = Path(tmp) / "data.parquet"
        write_parquet(frame, path)
        digest = sha256_file(path)
        storage.upload_file(path, working_key)
    result = ExtractResult(
        dataset=schema.name,
        day=day.isoformat(),
        working_key=working_key,
        rows=len(frame),
        source_files=sources,
        data_sha256=digest,
    )
    storage.write_bytes(
        lake.working_prefix(schema.name, day) + lake.MANIFEST,
        json.dumps(result.to_dict(), indent=2, sort_keys=True).encode(),
    )
    return result
