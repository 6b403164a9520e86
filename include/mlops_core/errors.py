"""Typed failures. Each message says what broke, where the data went and what to do next."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class; `runbook` names the DAG doc_md section an on-call person should read."""

    runbook = "general"


class InputMissingError(PipelineError):
    runbook = "input-missing"


class CorruptInputError(PipelineError):
    runbook = "corrupt-input"


class DataValidationError(PipelineError):
    runbook = "data-validation-failed"

    def __init__(self, message: str, *, quarantine_path: str | None = None) -> None:
        super().__init__(message)
        self.quarantine_path = quarantine_path


class TrainingError(PipelineError):
    runbook = "training-failed"


class GateRejectedError(PipelineError):
    runbook = "gate-rejected"


class RegistryError(PipelineError):
    runbook = "registry"


class NoChampionError(RegistryError):
    runbook = "no-champion"


class RegistryConflictError(RegistryError):
    runbook = "registry-conflict"


class StorageUnavailableError(PipelineError):
    runbook = "storage-unavailable"


class SchemaError(PipelineError):
    """A dataset schema file is malformed or inconsistent; refused before any data is read."""

    runbook = "schema-invalid"
