"""Typed failures. Each message says what broke, where the data went and what to do next.

``retryable`` separates infrastructure failures (a service down, a partition not landed yet),
which the task retries with backoff, from deterministic input, model and configuration
failures, which fail at once: retrying cannot fix them.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class; ``runbook`` names the DAG doc_md section an on-call person should read.

    ``check`` names the failed check, ``files`` the inputs involved, ``rows`` a sample of the
    offending rows and ``quarantine_path`` where the rejected bytes now are, so incidents carry
    them without parsing the message.
    """

    runbook = "general"
    retryable = False

    def __init__(
        self,
        message: str = "",
        *,
        quarantine_path: str | None = None,
        check: str | None = None,
        files: list[str] | None = None,
        rows: list[dict] | None = None,
    ) -> None:
        super().__init__(message)
        self.quarantine_path = quarantine_path
        self.check = check
        self.files = list(files or [])
        self.rows = list(rows or [])


class InputMissingError(PipelineError):
    """The partition has not landed (completely) yet: retried."""

    runbook = "input-missing"
    retryable = True


class CorruptInputError(PipelineError):
    """A landed file cannot be read as data (encoding, truncation, mixed types across files)."""

    runbook = "corrupt-input"


class UnsupportedInputError(CorruptInputError):
    """A file in a partition is neither CSV nor Parquet."""


class UnsafeInputError(CorruptInputError):
    """A landed link points outside the lake, or a file cannot be read (permissions)."""

    runbook = "unsafe-input"


class AmbiguousDeliveryError(CorruptInputError):
    """A re-delivery changes files of the current version while others are gone from landing:
    which rows it replaces cannot be decided."""

    runbook = "ambiguous-delivery"


class DataValidationError(PipelineError):
    runbook = "data-validation-failed"


class ScoringInputError(PipelineError):
    """Validated data the model cannot score (types or values the fitted pipeline refuses)."""

    runbook = "scoring-input"


class TrainingError(PipelineError):
    runbook = "training-failed"


class GateRejectedError(PipelineError):
    runbook = "gate-rejected"


class SelfEvaluationError(PipelineError):
    """The gate would score the champion on rows it was trained on: its training cutoff is not
    before the challenger's evaluation window. Deterministic, so not retried."""

    runbook = "self-evaluation"


class RegistryError(PipelineError):
    runbook = "registry"
    retryable = True


class NoChampionError(RegistryError):
    runbook = "no-champion"


class RegistryConflictError(RegistryError):
    runbook = "registry-conflict"


class StorageUnavailableError(PipelineError):
    runbook = "storage-unavailable"
    retryable = True


class SchemaError(PipelineError):
    """A dataset schema file is malformed or inconsistent; refused before any data is read."""

    runbook = "schema-invalid"


class DayOutOfRangeError(PipelineError):
    """A run asked for a partition day before the configured earliest day."""

    runbook = "day-out-of-range"
