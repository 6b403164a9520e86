"""Task types by name: the only place that maps a spec's ``task:`` to code."""

from __future__ import annotations

from mlops_core.errors import SchemaError
from mlops_core.tasks.base import ModelChoice, TaskType

__all__ = ["ModelChoice", "TaskType", "TASK_TYPES", "task_type"]

TASK_TYPES = ("binary_classification", "implicit_ranking")


def task_type(name: str) -> TaskType:
    """The task type named ``name``; imported on demand (each pulls in its model stack)."""
    if name == "binary_classification":
        from mlops_core.tasks.classification import BinaryClassification

        return BinaryClassification()
    if name == "implicit_ranking":
        from mlops_core.tasks.ranking import ImplicitRanking

        return ImplicitRanking()
    raise SchemaError(f"unknown task type {name!r}; choose one of {', '.join(TASK_TYPES)}")
