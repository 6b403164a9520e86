"""Binary classification (e.g. fraud, credit default): a scikit-learn pipeline on a time
split, gated on PR-AUC and recall at a false-positive-rate target, scored row by row."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_core.knobs import HYPERPARAMETERS, ClassificationScoreParams, GateThresholds, TrainParams
from mlops_core.tasks.base import EVIDENCE_PARAM_HELP, ModelChoice, TaskType

if TYPE_CHECKING:
    from mlops_core.outputs import OutputManifest


class BinaryClassification(TaskType):
    name: ClassVar[str] = "binary_classification"
    dataset_kind: ClassVar[str] = "events"
    train_params: ClassVar[type] = TrainParams
    gate_thresholds: ClassVar[type] = GateThresholds
    score_params: ClassVar[type] = ClassificationScoreParams
    estimators: ClassVar[dict[str, tuple[str, ...]]] = HYPERPARAMETERS
    training_knobs: ClassVar[tuple[str, ...]] = ("window_days", "estimator")
    scoring_knobs: ClassVar[tuple[str, ...]] = ("batch_rows", "shadow")
    supports_monitoring: ClassVar[bool] = True
    supports_shadow: ClassVar[bool] = True
    supports_search: ClassVar[bool] = True
    param_help: ClassVar[dict[str, dict[str, Any]]] = {
        "window_days": {"minimum": 1, "maximum": 365, "description": "Days of labelled data."},
        "min_pr_auc": {"minimum": 0, "maximum": 1, "description": "Gate: PR-AUC floor."},
        "min_recall_at_fpr": {
            "minimum": 0,
            "maximum": 1,
            "description": "Gate: recall floor at the FPR target.",
        },
        "fpr_target": {
            "exclusiveMinimum": 0,
            "maximum": 0.5,
            "description": "False-positive rate at which recall is measured.",
        },
        "min_positives": {
            "minimum": 1,
            "description": "Gate: holdout positives needed to decide (fewer: insufficient).",
        },
        **EVIDENCE_PARAM_HELP,
        "batch_rows": {
            "minimum": 1_000,
            "maximum": 5_000_000,
            "description": "Rows per scoring batch (bounds memory).",
        },
        "shadow": {
            "description": "Also score a gate-passed challenger into scored_shadow/ "
            "(skipped when there is none)."
        },
    }
    output_label = "scores"

    def train(self, storage, spec, day: dt.date, *, settings, params, run_tags):
        from mlops_core import steps

        return steps.train(
            storage,
            spec.dataset,
            day,
            settings=settings,
            params=params,
            experiment=spec.experiment,
            run_tags=run_tags,
            search=spec.search,
            model_name=spec.model_name,
        )

    def gate(self, settings, spec, model_name: str, version: str, thresholds):
        from mlops_core import steps

        return steps.gate(settings, spec.dataset, model_name, str(version), thresholds)

    def score(self, storage, spec, day: dt.date, *, settings, model: ModelChoice, params, zone):
        from mlops_core import steps

        return steps.score(
            storage,
            spec.dataset,
            day,
            settings=settings,
            model_name=model.model_name,
            alias=model.alias,
            selection=model.selection,
            batch_rows=int(params.batch_rows),
            zone=zone,
        )

    def describe_scoring(self, manifest: OutputManifest) -> str:
        return f"Scored {manifest.day}: " + super().describe_scoring(manifest)
