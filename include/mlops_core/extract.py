"""Extraction: one complete landing partition (CSV or Parquet, local or S3) -> a data frame.

A partition is read only when its ``_SUCCESS`` marker is there. Files and folders whose name
starts with ``_`` or ``.`` (markers, ``_temporary/``, ``.spark-staging-*``, checksums) are
ignored; extensions match case-insensitively; any other file is an UnsupportedInputError that
names it. CSV may carry a UTF-8 or UTF-16 byte-order mark (spreadsheet exports).

Nothing is changed silently. Each value the extraction rewrites is counted (whitespace-only
strings become null; categorical case and whitespace are normalised only where the schema
says so; naive timestamps are localised only with the schema's time zone), and each problem
the validation suite cannot see in a parsed frame (naive timestamps, labels that are not
exactly one of ``label_values``, categoricals that are not strings, whitespace around
categories) comes back as a finding that validation reports like a failed expectation.
"""

from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_core import lake
from mlops_core.errors import CorruptInputError, UnsupportedInputError
from mlops_core.schema import DatasetSchema
from mlops_core.validate import CRITICAL, WARNING, CheckResult

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SAMPLE = 5
# An ISO-8601 value that carries its offset: ...Z, ...+01:00, ...-0500, ...+01
_HAS_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


@dataclass(frozen=True)
class LandingListing:
    """What a landing partition holds, sorted by role."""

    prefix: str
    data: list[str]
    ignored: list[str]
    unsupported: list[str]
    complete: bool

    def relative(self, key: str) -> str:
        return key[len(self.prefix) :]


@dataclass(frozen=True)
class ExtractResult:
    """A partition version: a candidate in staging or the validated current one in working.

    ``source_files`` maps landing keys to the sha256 of the bytes read; ``findings`` are
    problems validation must report; ``normalised`` counts the values extraction rewrote.
    """

    dataset: str
    day: str
    working_key: str
    rows: int
    source_files: dict[str, str]
    data_sha256: str
    version: str = ""
    status: str = "current"
    mode: str = "full"
    based_on: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    normalised: dict[str, int] = field(default_factory=dict)
    ignored_files: list[str] = field(default_factory=list)
    previous_versions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractResult:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _hidden(relative: str) -> bool:
    return any(part.startswith(("_", ".")) for part in Path(relative).parts)


def list_landing(storage, schema: DatasetSchema, day: dt.date) -> LandingListing:
    """Sort the day's landing keys into data files, ignored entries and unsupported files."""
    prefix = lake.landing_prefix(schema.name, day)
    data, ignored, unsupported = [], [], []
    for key in storage.list(prefix):
        relative = key[len(prefix) :]
        lower = relative.lower()
        if _hidden(relative):
            ignored.append(key)
        elif lower.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
            data.append(key)
        else:
            unsupported.append(key)
    return LandingListing(
        prefix=prefix,
        data=data,
        ignored=ignored,
        unsupported=unsupported,
        complete=storage.exists(prefix + lake.SUCCESS_MARKER),
    )


def landing_files(storage, schema: DatasetSchema, day: dt.date) -> list[str]:
    """Data files of the day's landing partition (markers, hidden and staging entries out)."""
    return list_landing(storage, schema, day).data


def check_supported(listing: LandingListing) -> None:
    if listing.unsupported:
        raise UnsupportedInputError(
            f"unsupported file(s) in {listing.prefix}: "
            + ", ".join(listing.relative(k) for k in listing.unsupported)
            + ". A partition holds CSV (.csv, .csv.gz) or Parquet (.parquet, .pq) files; "
            "names starting with '_' or '.' are ignored. Remove or rename the file, then "
            "re-land the partition.",
            check="supported_file_types",
            files=listing.unsupported,
        )


def _decode_csv(name: str, data: bytes) -> str:
    if name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    return data.decode("utf-8")


def text_columns(schema: DatasetSchema) -> list[str]:
    """Columns read as text from CSV: ids, pass-through, categoricals, label, timestamp."""
    cols = [schema.id_column, *schema.passthrough, *schema.categorical, schema.timestamp_column]
    cols += [schema.label_column, schema.label_time_column]
    return [c for c in dict.fromkeys(cols) if c]


def read_landing_file(name: str, data: bytes, schema: DatasetSchema) -> pd.DataFrame:
    """Parse one landing file; raise CorruptInputError for bytes that are not what they say."""
    try:
        if name.lower().endswith(PARQUET_SUFFIXES):
            return pq.read_table(io.BytesIO(data)).to_pandas()
        text = _decode_csv(name, data)
        if not text.strip():
            return pd.DataFrame()
        return pd.read_csv(io.StringIO(text), dtype={c: "str" for c in text_columns(schema)})
    except (UnicodeDecodeError, pa.ArrowInvalid, pd.errors.ParserError, OSError, EOFError) as exc:
        raise CorruptInputError(
            f"cannot parse landing file {name}: {type(exc).__name__}: {str(exc)[:300]}",
            check="parse",
            files=[name],
        ) from exc


def _kind(series: pd.Series) -> str:
    if series.isna().all():
        return "empty"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamp"
    values = series.dropna()
    if values.map(type).nunique() > 1:
        return "mixed"
    return "text" if isinstance(values.iloc[0], str) else type(values.iloc[0]).__name__


def combine_files(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Concatenate the files of one partition; columns whose types disagree between files are
    a CorruptInputError naming the column, the files and their types (nothing is coerced)."""
    if len(frames) == 1:
        return next(iter(frames.values()))
    clashes = []
    columns = dict.fromkeys(c for f in frames.values() for c in f.columns)
    for column in columns:
        kinds = {name: _kind(f[column]) for name, f in frames.items() if column in f.columns}
        seen = {k for k in kinds.values() if k != "empty"}
        if len(seen) > 1:
            clashes.append(f"{column}: " + ", ".join(f"{n} has {k}" for n, k in kinds.items()))
    if clashes:
        raise CorruptInputError(
            "the files of one partition disagree on column types:\n  "
            + "\n  ".join(clashes)
            + "\nRe-export the files with one type per column, then re-land the partition.",
            check="column_types_agree_across_files",
            files=list(frames),
        )
    return pd.concat(list(frames.values()), ignore_index=True)


def _finding(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    check: str,
    column: str,
    mask: pd.Series,
    detail: str,
    severity: str = CRITICAL,
) -> dict[str, Any]:
    rows = frame.loc[mask]
    cols = [c for c in dict.fromkeys((schema.id_column, column)) if c and c in frame.columns]
    sample = rows[cols].head(_SAMPLE).astype(object).where(rows[cols].head(_SAMPLE).notna(), None)
    result = CheckResult(
        expectation=check,
        column=column,
        severity=severity,
        unexpected_count=int(mask.sum()),
        sample_values=[str(v) for v in rows[column].head(_SAMPLE).tolist()],
        sample_rows=json.loads(json.dumps(sample.to_dict(orient="records"), default=str)),
        detail=detail,
    )
    return asdict(result)


def _string_values(series: pd.Series) -> pd.Series:
    return series.astype("str").where(series.notna())


def normalise(frame: pd.DataFrame, schema: DatasetSchema) -> tuple[pd.DataFrame, dict, list]:
    """Apply the schema's explicit normalisations and find what validation must report.

    Returns:
        (frame, counts of rewritten values by ``column:what``, findings as CheckResult dicts)
    """
    counts: dict[str, int] = {}
    findings: list[dict[str, Any]] = []
    frame = frame.copy()
    text = [c for c in (schema.id_column, *schema.passthrough) if c and c in frame.columns]
    options = {c.name: c for c in schema.categoricals}
    for col in [*text, *(c for c in options if c in frame.columns)]:
        series = frame[col]
        if col in options and not (
            pd.api.types.is_string_dtype(series.dtype) or series.dtype == object
        ):
            if series.notna().any():
                findings.append(
                    _finding(
                        frame,
                        schema,
                        "expect_categorical_values_to_be_text",
                        col,
                        series.notna(),
                        f"categorical column is {series.dtype}; categories must be text "
                        "(integer-coded categories cannot be scored as categories: write them "
                        "as strings, e.g. '5411')",
                    )
                )
            continue
        values = _string_values(series)
        blank = values.notna() & (values.str.strip() == "")
        if blank.any():
            counts[f"{col}:whitespace_only_to_null"] = int(blank.sum())
            values = values.mask(blank)
        if col in options:
            opt = options[col]
            before = values
            if opt.strip:
                values = values.str.strip()
            if opt.normalize == "lower":
                values = values.str.lower()
            elif opt.normalize == "upper":
                values = values.str.upper()
            changed = before.notna() & (before != values)
            if changed.any():
                counts[f"{col}:normalised"] = int(changed.sum())
            padded = values.notna() & (values != values.str.strip())
            if padded.any():
                findings.append(
                    _finding(
                        frame,
                        schema,
                        "expect_categorical_values_without_surrounding_whitespace",
                        col,
                        padded,
                        "values carry leading/trailing whitespace and are kept as delivered; "
                        "set strip: true on the column to strip them",
                        WARNING,
                    )
                )
        frame[col] = values.astype(object)
    frame, ts_findings = _timestamps(frame, schema, counts)
    findings += ts_findings
    if schema.label_time_column:
        frame, ts_findings = _timestamps(frame, schema, counts, schema.label_time_column)
        findings += ts_findings
    frame, label_findings = _labels(frame, schema)
    findings += label_findings
    return frame, counts, findings


def _timestamps(
    frame: pd.DataFrame, schema: DatasetSchema, counts: dict, column: str | None = None
) -> tuple:
    """Parse a timestamp column (the event time unless ``column`` names another, e.g. the
    label time) to UTC. Values without an offset are localised from the schema's
    ``timestamp_timezone``, or reported (and left null) when it names none; unparseable
    values become null for the not-null expectation to name."""
    col, zone = column or schema.timestamp_column, schema.timestamp_timezone
    if col not in frame.columns:
        return frame, []
    series = frame[col]
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        frame[col] = series.dt.tz_convert("UTC")
        return frame, []
    findings = []
    if pd.api.types.is_datetime64_dtype(series.dtype):
        out = pd.Series(pd.NaT, index=frame.index, dtype=f"{series.dtype}").dt.tz_localize("UTC")
        naive, naive_values = series.notna(), series
    elif pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        frame[col] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        if series.notna().any():
            findings.append(
                _finding(
                    frame.assign(**{col: series}),
                    schema,
                    "expect_timestamps_to_be_iso8601",
                    col,
                    series.notna(),
                    f"timestamp column is {series.dtype} (epoch numbers are ambiguous: seconds "
                    "or milliseconds?); deliver ISO-8601 text with an offset",
                )
            )
        return frame, findings
    else:
        text = _string_values(series).str.strip()
        has_offset = text.str.contains(_HAS_OFFSET, regex=True, na=False)
        out = pd.to_datetime(text.where(has_offset), utc=True, errors="coerce", format="ISO8601")
        naive_values = pd.to_datetime(
            text.where(text.notna() & ~has_offset), errors="coerce", format="ISO8601"
        )
        naive = naive_values.notna()
    if naive.any():
        if zone:
            localised = naive_values[naive].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
            out = out.astype(f"datetime64[{localised.dt.unit}, UTC]")
            out.loc[naive] = localised.dt.tz_convert("UTC")
            counts[f"{col}:localised_from_{zone}"] = int(naive.sum())
        else:
            findings.append(
                _finding(
                    frame,
                    schema,
                    "expect_timestamps_to_carry_time_zone",
                    col,
                    naive,
                    "timestamps without an offset are ambiguous; deliver them with an offset "
                    "(e.g. 2026-11-05T10:00:00Z) or name their zone in the schema's "
                    "timestamp_timezone",
                )
            )
    frame[col] = out
    return frame, findings


def _labels(frame: pd.DataFrame, schema: DatasetSchema) -> tuple[pd.DataFrame, list]:
    """Labels must equal one of ``label_values`` exactly: no bool, float or text coercion."""
    col = schema.label_column
    if not col or col not in frame.columns:
        return frame, []
    series = frame[col]
    allowed = list(schema.label_values)
    numeric = all(isinstance(v, int) and not isinstance(v, bool) for v in allowed)
    present = series.notna()
    if pd.api.types.is_bool_dtype(series.dtype) or (
        numeric and pd.api.types.is_float_dtype(series.dtype) and present.any()
    ):
        detail = (
            f"label column is {series.dtype}; labels must be exactly one of {allowed} "
            f"(write {'integers' if numeric else 'the label text'}, not {series.dtype})"
        )
        return frame, [
            _finding(frame, schema, "expect_labels_to_equal_label_values", col, present, detail)
        ]
    if pd.api.types.is_integer_dtype(series.dtype):
        return frame, []
    text = _string_values(series)
    mapping = {str(v): v for v in allowed}
    if numeric:  # integer text outside the set stays a number: the in-set expectation names it
        exact_int = text.str.fullmatch(r"-?\d+", na=False)
        mapping.update({t: int(t) for t in text[exact_int].unique() if t not in mapping})
    bad = present & ~text.isin(list(mapping))
    findings = []
    if bad.any():
        findings.append(
            _finding(
                frame,
                schema,
                "expect_labels_to_equal_label_values",
                col,
                bad,
                f"labels must be exactly one of {allowed} (no case, boolean or number coercion)",
            )
        )
    mapped = text.map(mapping)
    if numeric:
        frame[col] = mapped.astype("Int64") if (bad | ~present).any() else mapped.astype("int64")
    else:
        frame[col] = mapped.astype(object)
    return frame, findings


def read_partition(
    storage, schema: DatasetSchema, keys: list[str]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read and combine ``keys``; returns the frame and the sha256 of each file's bytes."""
    import hashlib

    frames, sources = {}, {}
    for key in keys:
        data = storage.read_bytes(key)
        sources[key] = hashlib.sha256(data).hexdigest()
        frames[key] = read_landing_file(key, data, schema)
    return combine_files(frames), sources


def write_parquet(frame: pd.DataFrame, path: Path, row_group_size: int = 256_000) -> None:
    """Deterministic Parquet: same frame, same bytes. Types Parquet cannot hold are a typed
    CorruptInputError naming the column."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise CorruptInputError(
            f"the partition cannot be stored as Parquet: {type(exc).__name__}: {str(exc)[:300]}. "
            "A column mixes types (numbers and text); re-export it with one type.",
            check="column_types_consistent",
        ) from exc
    pq.write_table(table, path, compression="zstd", row_group_size=row_group_size)
