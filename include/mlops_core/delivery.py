"""A partition's life in the lake: landing -> staging candidate -> working, or quarantine.

Invariants (each has a test in tests/include/test_data_safety.py):

- ``working/<dataset>/dt=<day>/`` only ever holds validated data. A newer delivery replaces
  it only after passing validation, and only after the current version was copied to
  ``archive/working/<dataset>/dt=<day>/<version>/``; the manifest, written last, names the
  current version and lists the earlier ones.
- A rejected delivery leaves ``working/`` byte-identical. Its bytes are copied to
  ``quarantine/``; a landing file is removed only when it still holds the bytes that were
  read, and a link is unlinked, never followed.
- A partition is read only when its ``_SUCCESS`` marker is there.
- A late file (new file name, earlier files gone from landing) is appended to the current
  version as a new version; a changed file whose siblings are gone is refused
  (AmbiguousDeliveryError), because which rows it replaces cannot be known.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_core import lake
from mlops_core.errors import (
    AmbiguousDeliveryError,
    CorruptInputError,
    DataValidationError,
    InputMissingError,
    PipelineError,
    UnsafeInputError,
    UnsupportedInputError,
)
from mlops_core.extract import (
    ExtractResult,
    check_supported,
    combine_files,
    list_landing,
    normalise,
    read_landing_file,
    write_parquet,
)
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage, copy_key, sha256_file
from mlops_core.validate import ValidationReport

log = logging.getLogger(__name__)

DATA_FILE = "data.parquet"


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, indent=2, sort_keys=True, default=str).encode()


def _read_manifest(storage: Storage, key: str) -> ExtractResult | None:
    if not storage.exists(key):
        return None
    return ExtractResult.from_dict(json.loads(storage.read_bytes(key)))


def current(storage: Storage, schema: DatasetSchema, day: dt.date) -> ExtractResult | None:
    """The validated version in ``working/`` (None when the day has none)."""
    prefix = lake.working_prefix(schema.name, day)
    if not storage.exists(prefix + lake.VALIDATED_MARKER):
        return None
    return _read_manifest(storage, prefix + lake.MANIFEST)


def pending(storage: Storage, schema: DatasetSchema, day: dt.date) -> ExtractResult | None:
    """The extracted candidate waiting for validation (None when there is none)."""
    pointer = lake.staging_prefix(schema.name, day) + lake.PENDING
    if not storage.exists(pointer):
        return None
    version = json.loads(storage.read_bytes(pointer))["version"]
    return _read_manifest(
        storage, lake.staging_prefix(schema.name, day) + f"{version}/{lake.MANIFEST}"
    )


def _version(result: ExtractResult) -> str:
    return result.version or result.data_sha256[:16]


def prepare(storage: Storage, schema: DatasetSchema, day: dt.date, batch_id: str) -> ExtractResult:
    """Extract the day's complete landing partition into a staging candidate.

    Returns the current validated version when the landing holds nothing new (same files and
    bytes, or the landing was cleaned up), the pending candidate when this delivery was
    already extracted, otherwise a new candidate.

    Raises:
        InputMissingError: no complete delivery and no validated version (retried).
        UnsupportedInputError, CorruptInputError, UnsafeInputError, AmbiguousDeliveryError:
            the delivery was quarantined (not retried).
    """
    listing = list_landing(storage, schema, day)
    cur = current(storage, schema, day)
    landing_uri = storage.uri(listing.prefix)
    if not listing.complete:
        if listing.data:
            log.warning(
                "%s has %d file(s) but no %s marker: a delivery in progress, not read",
                landing_uri,
                len(listing.data),
                lake.SUCCESS_MARKER,
            )
        if cur is not None:
            return cur
        raise InputMissingError(
            f"{landing_uri} has no {lake.SUCCESS_MARKER} marker ({len(listing.data)} data "
            "file(s) present): the delivery is incomplete or has not arrived. The task retries; "
            "once the producer writes the marker it goes on."
        )
    if listing.ignored:
        log.info(
            "Ignored %d marker/hidden/staging entries in %s: %s",
            len(listing.ignored),
            landing_uri,
            [listing.relative(k) for k in listing.ignored][:10],
        )
    try:
        check_supported(listing)
    except UnsupportedInputError as exc:
        raise _quarantined(
            exc, storage, schema, day, batch_id, listing.data + listing.unsupported
        ) from exc
    if not listing.data:
        if cur is not None:
            return cur
        raise InputMissingError(
            f"no data files under {landing_uri}. Check that the producer landed the day's "
            "files; rerun the task once they exist."
        )
    try:
        landed = {key: hashlib.sha256(storage.read_bytes(key)).hexdigest() for key in listing.data}
    except UnsafeInputError as exc:
        raise _quarantined(exc, storage, schema, day, batch_id, listing.data) from exc
    if cur is not None and landed == cur.source_files:
        return cur
    pend = pending(storage, schema, day)
    if pend is not None and _same_delivery(pend, landed, cur):
        return pend
    try:
        return _extract_candidate(storage, schema, day, listing.data, landed, cur)
    except CorruptInputError as exc:
        raise _quarantined(exc, storage, schema, day, batch_id, listing.data, landed) from exc
    except PipelineError:
        raise
    except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
        typed = CorruptInputError(
            f"cannot extract {landing_uri}: {type(exc).__name__}: {str(exc)[:300]}",
            check="parse",
            files=listing.data,
        )
        raise _quarantined(typed, storage, schema, day, batch_id, listing.data, landed) from exc


def _same_delivery(pend: ExtractResult, landed: dict[str, str], cur: ExtractResult | None) -> bool:
    """Whether the pending candidate was extracted from exactly these landed bytes."""
    if pend.based_on != (_version(cur) if cur else None):
        return False
    if any(pend.source_files.get(k) != v for k, v in landed.items()):
        return False
    return pend.mode == "append" or set(pend.source_files) == set(landed)


def _extract_candidate(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    keys: list[str],
    landed: dict[str, str],
    cur: ExtractResult | None,
) -> ExtractResult:
    mode, based_on, read_keys = "full", None, list(keys)
    if cur is not None:
        missing = set(cur.source_files) - set(landed)
        changed = [k for k in landed if k in cur.source_files and landed[k] != cur.source_files[k]]
        if missing and changed:
            raise AmbiguousDeliveryError(
                f"re-delivery of {', '.join(changed)} changes files of the current version "
                f"{_version(cur)} while {', '.join(sorted(missing))} (also in that version) "
                "is no longer in landing: which rows it replaces cannot be decided. Re-deliver "
                "the complete partition (every file) with a _SUCCESS marker.",
                check="complete_redelivery",
                files=changed,
            )
        if missing:
            read_keys = sorted(set(landed) - set(cur.source_files))
            mode, based_on = "append", _version(cur)
    raw = {key: read_landing_file(key, storage.read_bytes(key), schema) for key in read_keys}
    frame, counts, findings = normalise(combine_files(raw), schema)
    sources = {k: landed[k] for k in read_keys}
    if mode == "append":
        with storage.local_copy(lake.working_data_key(schema.name, day)) as path:
            base = pd.read_parquet(path)
        frame = combine_files({f"current version {based_on}": base, "late file(s)": frame})
        sources = {**cur.source_files, **sources}
        log.warning(
            "Late file(s) %s appended to version %s of %s dt=%s: %d + %d rows",
            read_keys,
            based_on,
            schema.name,
            day,
            len(base),
            len(frame) - len(base),
        )
    for what, count in sorted(counts.items()):
        log.warning("Extraction rewrote %d values (%s) in %s dt=%s", count, what, schema.name, day)
    with tempfile.TemporaryDirectory(prefix="mlops-extract-") as tmp:
        path = Path(tmp) / DATA_FILE
        write_parquet(frame, path)
        digest = sha256_file(path)
        version = digest[:16]
        prefix = lake.staging_prefix(schema.name, day) + f"{version}/"
        storage.upload_file(path, prefix + DATA_FILE)
    result = ExtractResult(
        dataset=schema.name,
        day=day.isoformat(),
        working_key=prefix + DATA_FILE,
        rows=len(frame),
        source_files=sources,
        data_sha256=digest,
        version=version,
        status="candidate",
        mode=mode,
        based_on=based_on if mode == "append" else (_version(cur) if cur else None),
        findings=findings,
        normalised=counts,
    )
    storage.write_bytes(prefix + lake.MANIFEST, _dumps(result.to_dict()))
    storage.write_bytes(
        lake.staging_prefix(schema.name, day) + lake.PENDING, _dumps({"version": version})
    )
    return result


def _quarantined(
    exc: PipelineError,
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    batch_id: str,
    keys: list[str],
    expected: dict[str, str] | None = None,
) -> PipelineError:
    """Quarantine the delivery and return ``exc`` re-typed with where it went."""
    report = {"check": exc.check or "parse", "error": str(exc), "files": exc.files}
    where = quarantine_batch(storage, schema, day, batch_id, report, keys=keys, expected=expected)
    typed = type(exc)(
        f"{exc}\nThe raw batch was moved to {where} (validation.json beside it). Nothing "
        "downstream ran; the validated data of this day (if any) is unchanged. Fix or "
        "re-export the files, land them again with a _SUCCESS marker, and clear the task.",
        quarantine_path=where,
        check=exc.check,
        files=exc.files,
    )
    typed.__cause__ = exc
    return typed


def quarantine_batch(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    batch_id: str,
    report: dict[str, Any],
    *,
    keys: list[str],
    expected: dict[str, str] | None = None,
    move: bool = True,
) -> str:
    """Copy ``keys`` to ``quarantine/<dataset>/dt=<day>/<batch_id>/`` with the report.

    Bytes are copied first; a landing file is then removed only when ``move`` is set and it
    still holds the bytes that were read (``expected``), so a producer rewriting it meanwhile
    keeps its file. A link is unlinked itself, never followed; a link out of the lake or an
    unreadable file is described in the report instead of copied, and an unreadable file is
    left in place. ``validation.json`` is written last.

    Returns:
        The quarantine location (a URI a person can open).
    """
    src_prefix = lake.landing_prefix(schema.name, day)
    dst_prefix = lake.quarantine_prefix(schema.name, day, batch_id)
    files = []
    for key in keys:
        relative = key[len(src_prefix) :] if key.startswith(src_prefix) else Path(key).name
        entry: dict[str, Any] = {"file": key, "link_target": storage.link_target(key)}
        try:
            data = storage.read_bytes(key)
        except (UnsafeInputError, FileNotFoundError) as exc:
            entry.update(copied=False, reason=str(exc))
            if entry["link_target"] is not None and move:
                storage.delete(key)  # the link itself; its target is recorded above
                entry["removed"] = "link unlinked"
            files.append(entry)
            continue
        digest = hashlib.sha256(data).hexdigest()
        storage.write_bytes(dst_prefix + relative, data)
        entry.update(copied=True, sha256=digest, quarantined_as=dst_prefix + relative)
        if move and (expected is None or expected.get(key) in (None, digest)):
            storage.delete(key)
            entry["removed"] = "moved"
        elif move:
            entry["removed"] = "kept: the file changed since it was read"
        files.append(entry)
    if move and all(f.get("removed") for f in files):
        marker = src_prefix + lake.SUCCESS_MARKER
        if storage.exists(marker):
            storage.delete(marker)
    storage.write_bytes(dst_prefix + "validation.json", _dumps({**report, "files": files}))
    return storage.uri(dst_prefix)


def archive_current(
    storage: Storage, zone: str, dataset: str, day: dt.date, prefix: str, names: list[str]
) -> str | None:
    """Copy the files ``names`` under ``prefix`` to the archive zone, keyed by the version in
    their manifest (or the first file's checksum); the manifest is copied last."""
    present = [n for n in names if storage.exists(prefix + n)]
    if not present:
        return None
    manifest = (
        json.loads(storage.read_bytes(prefix + lake.MANIFEST)) if lake.MANIFEST in (present) else {}
    )
    version = (
        manifest.get("version")
        or (manifest.get("data_sha256") or manifest.get("output_sha256") or "")[:16]
    )
    if not version:
        version = hashlib.sha256(storage.read_bytes(prefix + present[0])).hexdigest()[:16]
    dst = lake.archive_prefix(zone, dataset, day, version)
    for name in sorted(present, key=lambda n: n == lake.MANIFEST):
        copy_key(storage, prefix + name, storage, dst + name)
    return dst


def validate_and_publish(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    docs_dir: Path,
    batch_id: str,
    with_label: bool,
    domains: dict[str, list[str]] | None = None,
) -> ValidationReport:
    """Validate the day's pending candidate and publish it to ``working/``, or quarantine it.

    Without a candidate, the current version is returned from its marker (validating it
    with labels first when it was validated for scoring only).

    Raises:
        DataValidationError: a critical check failed; the message lists each with counts and
            sample rows and where the raw batch is; ``working/`` is unchanged.
        InputMissingError: nothing was extracted for the day.
    """
    from mlops_core.validate import validate_frame

    cur, pend = current(storage, schema, day), pending(storage, schema, day)
    if pend is not None and (cur is None or _version(pend) != _version(cur)):
        with storage.local_copy(pend.working_key) as path:
            frame = pd.read_parquet(path)
        report = validate_frame(
            frame,
            schema,
            day,
            with_label=with_label,
            docs_dir=docs_dir,
            findings=pend.findings,
            domains=domains,
        )
        if report.success:
            publish(storage, schema, day, pend, report, with_label=with_label)
            return report
        where = quarantine_batch(
            storage,
            schema,
            day,
            batch_id,
            report.to_dict(),
            keys=[k for k in pend.source_files if storage.exists(k)],
            expected=pend.source_files,
        )
        _drop_pending(storage, schema, day, pend)
        kept = (
            f"The validated version {_version(cur)} of this day ({cur.rows} rows) is unchanged."
            if cur
            else "This day has no validated data."
        )
        raise DataValidationError(
            f"{report.summary()}\nThe raw batch was moved to {where} (validation.json beside "
            f"it); Data Docs: {report.data_docs}. {kept} Nothing downstream ran and the "
            "champion model is unchanged. Fix the producer, land a corrected batch, and clear "
            "this task.",
            quarantine_path=where,
            check=",".join(sorted({c.expectation for c in report.failures})),
            rows=report.failing_rows(),
            files=list(pend.source_files),
        )
    if cur is not None:
        prefix = lake.working_prefix(schema.name, day)
        done = json.loads(storage.read_bytes(prefix + lake.VALIDATED_MARKER))
        if done.get("with_label") or not with_label:
            return ValidationReport.from_dict(done)
        with storage.local_copy(lake.working_data_key(schema.name, day)) as path:
            frame = pd.read_parquet(path)
        report = validate_frame(
            frame, schema, day, with_label=True, docs_dir=docs_dir, domains=domains
        )
        if report.success:
            marker = {**report.to_dict(), "with_label": True, "version": _version(cur)}
            storage.write_bytes(prefix + lake.VALIDATED_MARKER, _dumps(marker))
            return report
        where = quarantine_batch(
            storage,
            schema,
            day,
            batch_id,
            report.to_dict(),
            keys=[lake.working_data_key(schema.name, day)],
            move=False,
        )
        raise DataValidationError(
            f"{report.summary()}\nA copy of the working partition is in {where}. The working "
            f"version {_version(cur)} stays (validated without labels, usable for scoring) "
            "but is not used for training. Deliver the labels and re-land the day.",
            quarantine_path=where,
            check=",".join(sorted({c.expectation for c in report.failures})),
            rows=report.failing_rows(),
            files=[lake.working_data_key(schema.name, day)],
        )
    raise InputMissingError(
        f"{schema.name} dt={day} has no extracted partition; run the extract task first"
    )


def publish(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    pend: ExtractResult,
    report: ValidationReport,
    *,
    with_label: bool,
) -> ExtractResult:
    """Make the validated candidate the current version; the previous one is archived first
    and the manifest (written last) lists it."""
    prefix = lake.working_prefix(schema.name, day)
    cur = current(storage, schema, day)
    previous = list(cur.previous_versions) if cur else []
    if cur is not None:
        archived = archive_current(
            storage,
            "working",
            schema.name,
            day,
            prefix,
            [DATA_FILE, lake.VALIDATED_MARKER, lake.MANIFEST],
        )
        previous.append(
            {
                "version": _version(cur),
                "rows": cur.rows,
                "data_sha256": cur.data_sha256,
                "source_files": cur.source_files,
                "archived_at": archived,
            }
        )
        log.warning(
            "%s dt=%s: validated version %s (%d rows, %s) replaces version %s (%d rows), "
            "archived at %s",
            schema.name,
            day,
            _version(pend),
            pend.rows,
            pend.mode,
            _version(cur),
            cur.rows,
            archived,
        )
    copy_key(storage, pend.working_key, storage, prefix + DATA_FILE)
    marker = {**report.to_dict(), "with_label": with_label, "version": _version(pend)}
    storage.write_bytes(prefix + lake.VALIDATED_MARKER, _dumps(marker))
    published = ExtractResult.from_dict(
        {
            **pend.to_dict(),
            "working_key": prefix + DATA_FILE,
            "status": "current",
            "previous_versions": previous,
        }
    )
    storage.write_bytes(prefix + lake.MANIFEST, _dumps(published.to_dict()))
    _drop_pending(storage, schema, day, pend)
    return published


def _drop_pending(
    storage: Storage, schema: DatasetSchema, day: dt.date, pend: ExtractResult
) -> None:
    """Remove a published or rejected candidate: it is derived data (the raw bytes are in
    working/ or quarantine/), so nothing that cannot be recreated is lost."""
    staging = lake.staging_prefix(schema.name, day)
    storage.delete(staging + lake.PENDING)
    for key in storage.list(staging + f"{_version(pend)}/"):
        storage.delete(key)
