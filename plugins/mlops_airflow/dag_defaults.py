"""Defaults shared by every generated DAG: retries, timeouts, incidents and the runbook."""

from __future__ import annotations

import datetime as dt
import os

from mlops_airflow.notifications import IncidentNotifier

# How often data-arrival sensors (and their triggers) look for the _SUCCESS marker.
SENSOR_POKE_SECONDS = int(os.environ.get("MLOPS_SENSOR_POKE_SECONDS", "120"))


def default_args(**overrides):
    """Retries with exponential backoff, a task timeout, and an incident per failure."""
    args = {
        "owner": "ml-platform",
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=1),
        "retry_exponential_backoff": True,
        "max_retry_delay": dt.timedelta(minutes=15),
        "execution_timeout": dt.timedelta(minutes=30),
        "on_failure_callback": [IncidentNotifier()],
    }
    args.update(overrides)
    return args


RUNBOOK_COMMON = """
## Runbook

Every failure writes an incident line to `<MLOPS_DATA_ROOT>/incidents.jsonl` (and to the
webhook in `MLOPS_INCIDENT_WEBHOOK_URL` when set) naming the section below.

### input-missing
The day's landing partition (`landing/<dataset>/dt=YYYY-MM-DD/` with `_SUCCESS`) is not there.
Check the producer's delivery; once the files and marker are landed, clear the failed task.

### corrupt-input
A landing file could not be parsed (encoding, truncated Parquet, files of one partition that
disagree on a column's type, a file that is neither CSV nor Parquet). The batch was moved to
`quarantine/<dataset>/dt=.../<run>__try<n>/` with `validation.json`. Re-export the file, land it
again with `_SUCCESS`, clear the task.

### unsafe-input
A landed file could not be read safely: a link pointing outside the lake (it is recorded in the
quarantine's `validation.json` and unlinked; its target is never read or touched), or a file the
pipeline's user may not read (left in place, named in the error). Re-deliver real files with
readable permissions, then clear the task.

### ambiguous-delivery
A re-delivered file changes a file of the day's validated version while other files of that
version are no longer in landing, so which rows it replaces cannot be decided. The validated
version in `working/` is unchanged; the new files are in quarantine. Re-deliver the complete
partition (every file) with `_SUCCESS`, then clear the task.

### scoring-input
The partition passed validation but the model refused it (a type or value the fitted pipeline
cannot take). Nothing was written; a copy of the partition and the model's error are in
quarantine (`validation.json`), and the validated version stays in `working/`. Compare the
partition's column types with the training data (`reference/<dataset>/categorical_domains/`),
fix the producer or the schema, clear the task.

### data-validation-failed
Great Expectations (and the extraction's own checks: time zones, exact labels, text categories,
categories never seen in training) rejected the batch. The error lists each failing check with
counts, sample values and sample rows; the raw batch is in quarantine with `validation.json`;
Data Docs are under `<MLOPS_DATA_ROOT>/reports/data_docs/`. The day's previously validated
version in `working/` (if any) is byte-identical, nothing downstream ran, the champion model is
unchanged. Fix the producer, land a corrected batch, clear the task.

### training-failed
The training window has too few positive labels or no label column. Widen `window_days` or
check label delivery for the recent partitions.

### gate-rejected
The challenger was shown (by a paired bootstrap interval, not a point estimate) to miss a floor
or a baseline's lift, or to be worse than the champion by more than the spec's
`relative_margin`; or the verdict is `insufficient`: too few positives / evaluated users, or a
holdout too small to reveal the drop the policy cares about (the verdict says how many more are
needed). The verdict (JSON and Markdown, with intervals and counts) is under
`<MLOPS_DATA_ROOT>/reports/gates/<model>/v<version>/` and in the MLflow run's `gate/` artifacts.
The champion is unchanged. For `insufficient`, pool more matured days (longer `window_days`
or holdout); otherwise investigate the data/features. Do not loosen the gate to force a
promotion without review.

### self-evaluation
The champion's training cutoff is not before the challenger's evaluation window: the gate
would score the champion on rows it was trained on (typically a training run for a day older
than the champion's, via the `day` Param or a re-landed old day). Nothing was promoted and the
champion is unchanged; the task is not retried. Train for a day after the champion's cutoff
(in the error), or roll back the champion first if the older model is what you want.

### registry / no-champion
MLflow is unreachable, or no version has alias `champion` yet (run the training DAG first).
Retries with backoff apply; promotion is all-or-nothing (the alias moves in one call), and a
retry after a failure completes a recorded promotion exactly once.

### registry-conflict
Another promotion won the race, the champion changed after this version was gated, or the
promotion ledger (`<lake>/registry/<model>/ledger/`) holds an entry that was not applied yet.
The champion is whatever the registry and the ledger agree on; re-run the training DAG (its
gate compares against the new champion), or retry the unfinished promotion named in the error.

### schema-invalid
The use case's spec (`include/specs/<name>.yaml`, or a team's file under `MLOPS_SPECS_DIR`) or
a dataset schema file is malformed or inconsistent; the error names the file and lists every
problem as `file: key.path: problem`. An invalid spec builds no DAGs of its own; the DAG
`spec_invalid__<file>` shows the error instead. Nothing was read from or written to the lake
and the task is not retried.
Fix the schema file, then clear the task.

### day-out-of-range
The run asked for a partition day before `MLOPS_EARLIEST_DATE` (default 1900-01-01). Nothing
was read or written. Set `MLOPS_EARLIEST_DATE` earlier to process older history, or trigger the
run for a later day. (The DAGs have no start date: a run for any day since the earliest one
executes its tasks; none is skipped silently.)

### storage-unavailable
The S3 endpoint did not answer after bounded retries with backoff (`MLOPS_S3_MAX_ATTEMPTS`,
`MLOPS_S3_CONNECT_TIMEOUT`, `MLOPS_S3_READ_TIMEOUT`). Check the endpoint and credentials; the
task retries on its own schedule and nothing was half-written (outputs are renamed or PUT whole).
"""
