"""The task-type interface: what *train*, *gate*, *score* and *sample data* mean for one kind of
machine-learning task (binary classification, implicit-feedback ranking).

Operators and the DAG factory only ever talk to a ``TaskType``: they never branch on a use
case or a kind. A use case picks its task type by name in its spec (``task:``); the spec's
``model``, ``gate`` and ``scoring`` sections are validated against the dataclasses the task
type declares here, so a typo in a spec is refused with the file and key before any data is
touched.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mlops_core.config import Settings
    from mlops_core.evaluate import GateVerdict
    from mlops_core.outputs import OutputManifest
    from mlops_core.spec import UseCaseSpec
    from mlops_core.storage import Storage


# Trigger-form help for the gate-evidence settings both task types share (knobs.py).
EVIDENCE_PARAM_HELP: dict[str, dict[str, Any]] = {
    "comparison": {
        "enum": ["non_inferiority", "superiority"],
        "description": "Gate vs champion: non_inferiority rejects a challenger shown worse by "
        "more than relative_margin; superiority promotes only one shown better.",
    },
    "relative_margin": {
        "minimum": 0,
        "maximum": 1,
        "description": "Gate: tolerated drop vs the champion, as a share of its value.",
    },
    "confidence": {
        "minimum": 0.5,
        "maximum": 0.999,
        "description": "Gate: family-wise confidence of the bootstrap intervals.",
    },
    "n_boot": {
        "minimum": 2_000,
        "maximum": 100_000,
        "description": "Gate: paired bootstrap resamples.",
    },
    "max_detectable_drop": {
        "exclusiveMinimum": 0,
        "maximum": 1,
        "description": "Gate: insufficient evidence when the holdout cannot reveal a relative "
        "drop this large (80% power).",
    },
    "bootstrap_seed": {"description": "Gate: seed of the bootstrap (reruns decide alike)."},
}


@dataclass(frozen=True)
class ModelChoice:
    """Which registered version scores: ``alias`` (``champion``, ``challenger``), or the
    champion of the scored day from the promotion ledger (``selection="as_of"``)."""

    model_name: str
    alias: str = "champion"
    selection: str = "alias"


class TaskType(ABC):
    """One kind of ML task. Subclasses are stateless; every method takes the spec.

    Class attributes:
        name: the value of ``task:`` in a spec.
        dataset_kind: the dataset kind it reads (``events``, ``interactions``).
        train_params / gate_thresholds / score_params: frozen dataclasses whose fields are
            the keys a spec's ``model``/``training``, ``gate`` and ``scoring`` sections take.
        estimators: estimator name -> the ``train_params`` fields that are its
            hyperparameters (a hyperparameter of another estimator in a spec is an error).
        training_knobs / scoring_knobs: fields offered as DAG Params (trigger form), beside
            every gate threshold; the spec's values are their defaults.
        param_help: JSON-schema fragments (description, bounds) for those Params.
        supports_monitoring / supports_shadow / supports_search: whether drift/performance
            monitoring, shadow promotion and a model search exist for this task type.
        output_label: what one scored partition holds, for log lines and doc pages.
    """

    name: ClassVar[str]
    dataset_kind: ClassVar[str]
    train_params: ClassVar[type]
    gate_thresholds: ClassVar[type]
    score_params: ClassVar[type]
    estimators: ClassVar[dict[str, tuple[str, ...]]]
    training_knobs: ClassVar[tuple[str, ...]] = ("window_days",)
    scoring_knobs: ClassVar[tuple[str, ...]] = ()
    param_help: ClassVar[dict[str, dict[str, Any]]] = {}
    supports_monitoring: ClassVar[bool] = False
    supports_search: ClassVar[bool] = False
    supports_shadow: ClassVar[bool] = False
    output_label: ClassVar[str] = "scores"

    @abstractmethod
    def train(
        self,
        storage: Storage,
        spec: UseCaseSpec,
        day: dt.date,
        *,
        settings: Settings,
        params: Any,
        run_tags: dict[str, str],
    ) -> dict[str, Any]:
        """Fit on the validated window ending at ``day``, evaluate on its holdout and log the
        run (model, metrics, evaluation data) to MLflow; returns ``run_id``, ``model_uri``,
        ``metrics`` and ``tags`` for XCom."""

    @abstractmethod
    def gate(
        self, settings: Settings, spec: UseCaseSpec, model_name: str, version: str, thresholds: Any
    ) -> GateVerdict:
        """Judge registered ``version`` against its baselines and the champion on the same
        evaluation data, record the verdict, and raise ``GateRejectedError`` unless it
        passes."""

    def wait_for_inputs(
        self,
        storage: Storage,
        spec: UseCaseSpec,
        day: dt.date,
        params: Any,
        *,
        log: logging.Logger,
    ) -> None:
        """Block until every partition that scoring ``day`` reads is ready (default: only the
        day itself, which validation already guarantees)."""
        return None

    @abstractmethod
    def score(
        self,
        storage: Storage,
        spec: UseCaseSpec,
        day: dt.date,
        *,
        settings: Settings,
        model: ModelChoice,
        params: Any,
        zone: str,
    ) -> OutputManifest:
        """Score the day's validated partition; output and manifest (written last, by
        :func:`mlops_core.outputs.publish`) under ``<zone>/<dataset>/dt=<day>/``."""

    def describe_scoring(self, manifest: OutputManifest) -> str:
        """One log line for on-call: what was written where, with which model (task types
        put their own counts in front)."""
        return (
            f"{manifest.rows_out} rows from {manifest.rows_in} input rows in "
            f"{manifest.output_key} with {manifest.model_name} v{manifest.model_version} "
            f"({manifest.model_rule})"
        )
