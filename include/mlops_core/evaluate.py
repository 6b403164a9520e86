"""Evaluation gate: absolute thresholds plus challenger-vs-champion on the same holdout."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from mlops_core.knobs import GateThresholds  # noqa: F401 - re-exported

PROMOTE, REJECT = "promote", "reject"
# Too few cases were evaluated to decide either way; like a rejection, nothing is promoted.
INSUFFICIENT = "insufficient"


def classification_metrics(
    y: np.ndarray, scores: np.ndarray, fpr_target: float
) -> dict[str, float]:
    """PR-AUC, ROC-AUC and recall at a fixed false-positive rate."""
    fpr, tpr, _ = roc_curve(y, scores)
    within = fpr <= fpr_target
    return {
        "pr_auc": float(average_precision_score(y, scores)),
        "roc_auc": float(roc_auc_score(y, scores)),
        "recall_at_fpr": float(tpr[within].max()) if within.any() else 0.0,
        "positive_rate": float(np.mean(y)),
    }


@dataclass
class GateVerdict:
    decision: str
    reasons: list[str]
    challenger: dict[str, float]
    champion: dict[str, float] | None
    thresholds: dict[str, float]
    challenger_version: str | None = None
    champion_version: str | None = None
    # Baselines the decision also used, by name (e.g. popularity's metrics for a recommender);
    # rendered as their own tables in the markdown verdict.
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.decision == PROMOTE

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def to_markdown(self) -> str:
        rows = ["| metric | challenger | champion |", "|---|---|---|"]
        for key in sorted(self.challenger):
            champ = self.champion.get(key) if self.champion else None
            rows.append(
                f"| {key} | {self.challenger[key]:.4f} | "
                f"{'-' if champ is None else f'{champ:.4f}'} |"
            )
        reasons = "\n".join(f"- {r}" for r in self.reasons)
        thresholds = ", ".join(f"{k}={v}" for k, v in self.thresholds.items())
        baselines = "".join(
            f"\n## {name.capitalize()} baseline\n| metric | value |\n|---|---|\n"
            + "\n".join(f"| {k} | {v:.4f} |" for k, v in sorted(metrics.items()))
            + "\n"
            for name, metrics in self.context.items()
        )
        return (
            f"# Evaluation gate: {self.decision.upper()}\n\n"
            f"Challenger version {self.challenger_version}, champion version "
            f"{self.champion_version or 'none'}.\n\nThresholds: {thresholds}\n\n"
            + "\n".join(rows)
            + f"\n\n## Reasons\n{reasons}\n"
            + baselines
        )


def champion_regression(
    challenger: dict[str, float],
    champion: dict[str, float],
    metrics: tuple[str, ...],
    tolerance: float,
) -> tuple[bool, list[str]]:
    """Whether no metric falls more than ``tolerance`` below the champion's, with one reason
    per metric (same holdout for both)."""
    ok, reasons = True, []
    for metric in metrics:
        drop = champion[metric] - challenger[metric]
        if drop > tolerance:
            ok = False
            reasons.append(
                f"{metric} {challenger[metric]:.4f} is {drop:.4f} below the champion's "
                f"{champion[metric]:.4f} (tolerance {tolerance})"
            )
        else:
            reasons.append(
                f"{metric} {challenger[metric]:.4f} vs champion {champion[metric]:.4f}: "
                f"within tolerance {tolerance}"
            )
    return ok, reasons


def evaluate_gate(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    thresholds: GateThresholds,
) -> GateVerdict:
    """Decide whether the challenger may replace the champion.

    Both metric dicts must come from the same holdout. With no champion the absolute
    thresholds alone decide.
    """
    reasons: list[str] = []
    ok = True
    for metric, floor in (
        ("pr_auc", thresholds.min_pr_auc),
        ("recall_at_fpr", thresholds.min_recall_at_fpr),
    ):
        value = challenger[metric]
        if value < floor:
            ok = False
            reasons.append(f"{metric} {value:.4f} is below the floor {floor}")
        else:
            reasons.append(f"{metric} {value:.4f} meets the floor {floor}")
    if champion is None:
        reasons.append("no champion yet: absolute thresholds decide")
    else:
        kept, why = champion_regression(
            challenger, champion, ("pr_auc", "recall_at_fpr"), thresholds.max_regression
        )
        ok, reasons = ok and kept, reasons + why
    return GateVerdict(
        decision=PROMOTE if ok else REJECT,
        reasons=reasons,
        challenger=challenger,
        champion=champion,
        thresholds=asdict(thresholds),
    )
