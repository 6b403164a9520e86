"""Implicit-feedback ranking (recommenders): factor models on the user x item matrix, gated
on recall@K / NDCG@K against popularity, scored as top-K unseen items for every user."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_core.errors import InputMissingError
from mlops_core.knobs import (
    RANKING_HYPERPARAMETERS,
    RankingScoreParams,
    RecGateThresholds,
    RecTrainParams,
)
from mlops_core.tasks.base import EVIDENCE_PARAM_HELP, ModelChoice, TaskType

if TYPE_CHECKING:
    from mlops_core.outputs import OutputManifest


class ImplicitRanking(TaskType):
    name: ClassVar[str] = "implicit_ranking"
    dataset_kind: ClassVar[str] = "interactions"
    train_params: ClassVar[type] = RecTrainParams
    gate_thresholds: ClassVar[type] = RecGateThresholds
    score_params: ClassVar[type] = RankingScoreParams
    estimators: ClassVar[dict[str, tuple[str, ...]]] = RANKING_HYPERPARAMETERS
    training_knobs: ClassVar[tuple[str, ...]] = (
        "window_days",
        "estimator",
        "holdout_days",
        "max_holdout_days",
        "factors",
    )
    scoring_knobs: ClassVar[tuple[str, ...]] = ("k", "history_days", "users_per_chunk")
    param_help: ClassVar[dict[str, dict[str, Any]]] = {
        "window_days": {"minimum": 2, "maximum": 365, "description": "Days of interactions."},
        "holdout_days": {
            "minimum": 1,
            "maximum": 30,
            "description": "Newest days held out (at least; extended when too few users).",
        },
        "max_holdout_days": {
            "minimum": 1,
            "maximum": 60,
            "description": "Longest holdout when extending it to reach min_users_evaluated.",
        },
        "min_users_evaluated": {
            "minimum": 1,
            "description": "Gate: evaluated users needed to decide (fewer: insufficient).",
        },
        "factors": {"minimum": 2, "maximum": 512, "description": "Latent factors."},
        "k": {"minimum": 1, "maximum": 500, "description": "K of recall/NDCG@K; items per user."},
        "min_lift_over_popularity": {
            "minimum": 0,
            "maximum": 10,
            "description": "Gate: relative margin over the popularity baseline.",
        },
        **EVIDENCE_PARAM_HELP,
        "min_coverage": {"minimum": 0, "maximum": 1, "description": "Gate: coverage floor."},
        "history_days": {
            "minimum": 1,
            "maximum": 365,
            "description": "Days of interactions that define each user's history.",
        },
        "users_per_chunk": {
            "minimum": 1_000,
            "maximum": 2_000_000,
            "description": "Users scored per chunk (bounds memory).",
        },
    }
    output_label = "recommendations"

    def train(self, storage, spec, day: dt.date, *, settings, params, run_tags):
        from mlops_core.recsys import steps

        return steps.train(
            storage,
            spec.dataset,
            day,
            settings=settings,
            params=params,
            experiment=spec.experiment,
            run_tags=run_tags,
        )

    def gate(self, settings, spec, model_name: str, version: str, thresholds):
        from mlops_core.recsys import steps

        return steps.gate(settings, model_name, str(version), thresholds)

    def wait_for_inputs(self, storage, spec, day: dt.date, params, *, log) -> None:
        """Block until every landed day of the history window is validated, so the output
        never depends on which concurrent (backfill) runs finished first."""
        from mlops_core.recsys import steps

        deadline = time.monotonic() + float(params.history_wait_seconds)
        days = int(params.history_days)
        while pending := steps.pending_history(storage, spec.dataset, day, days):
            if time.monotonic() >= deadline:
                raise InputMissingError(
                    f"history partitions of {spec.dataset.name} landed but not validated after "
                    f"{params.history_wait_seconds}s: {', '.join(pending)}. Top-K for {day} "
                    f"reads the last {days} days of histories. Run this use case's scoring "
                    "extract and validate for those days (e.g. airflow backfill create over "
                    "them), then clear this task."
                )
            log.info("Waiting for history partitions to be validated: %s", pending)
            time.sleep(float(params.history_poll_seconds))

    def score(self, storage, spec, day: dt.date, *, settings, model: ModelChoice, params, zone):
        from mlops_core.recsys import steps

        return steps.score(
            storage,
            spec.dataset,
            day,
            settings=settings,
            model_name=model.model_name,
            alias=model.alias,
            selection=model.selection,
            k=int(params.k),
            history_days=int(params.history_days),
            users_per_chunk=int(params.users_per_chunk),
            zone=zone,
        )

    def describe_scoring(self, manifest: OutputManifest) -> str:
        d = manifest.details
        return (
            f"Top-{d['k']} for {d['users']} users of {manifest.day} ({d['users_model']} from "
            f"the model, {d['users_popularity']} popularity fallback): "
            + super().describe_scoring(manifest)
        )
