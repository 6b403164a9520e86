"""Evaluation gate on evidence: floors, baselines and challenger-vs-champion judged with paired
bootstrap intervals on the same holdout, with the counts behind them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from mlops_core import evidence
from mlops_core.knobs import GateEvidence, GateThresholds

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
    # Counts, bootstrap intervals and comparisons behind the decision (decide_on_evidence).
    evidence: dict[str, Any] = field(default_factory=dict)

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
            + self._evidence_markdown()
            + f"\n\n## Reasons\n{reasons}\n"
            + baselines
        )

    def _evidence_markdown(self) -> str:
        ev = self.evidence
        if not ev.get("intervals"):
            return ""
        models = list(ev["intervals"])
        metrics = list(ev["intervals"][models[0]])
        head = "| metric | " + " | ".join(models) + " |\n|---|" + "---|" * len(models)
        body = "\n".join(
            f"| {m} | "
            + " | ".join(
                "{estimate:.4f} [{low:.4f}, {high:.4f}]".format(**ev["intervals"][n][m])
                for n in models
            )
            + " |"
            for m in metrics
        )
        return (
            f"\n\n## Evidence\n{ev['count']} {ev['unit']}"
            + (f" in {ev['rows']} rows" if "rows" in ev else "")
            + (f" of {ev['groups']} groups, resampled whole" if "groups" in ev else "")
            + f" (the gate needs >= {ev['need']}); {ev['n_boot']} paired bootstrap resamples; "
            f"{ev['per_test_confidence']:.1%} intervals per metric, each one-sided decision "
            f"erring at most {(1 - ev['confidence']) / len(metrics):.1%} "
            f"({ev['confidence']:.0%} family-wise).\n\n{head}\n{body}"
        )


def decide_on_evidence(
    bootstrap: Callable[[], evidence.PairedSamples],
    metrics: tuple[str, ...],
    rules: GateEvidence,
    *,
    count: int,
    need: int,
    unit: str,
    floors: dict[str, float],
    baselines: dict[str, float],
    champion: bool,
) -> tuple[str, list[str], dict[str, Any]]:
    """The gate's decision, its reasons and the evidence behind them.

    ``bootstrap()`` gives the samples (drawn only once there is enough data) of the model
    ``challenger``, optionally ``champion`` and any baseline in ``baselines`` (name -> the
    relative lift the challenger must not be shown to miss). Floors and lifts reject only on
    evidence (the interval lies wholly below); the champion comparison follows
    ``rules.comparison``.
    """
    level = evidence.one_sided_level(rules.confidence, len(metrics))
    reasons: list[str] = []
    record: dict[str, Any] = {
        "unit": unit,
        "count": count,
        "need": need,
        "confidence": rules.confidence,
        "per_test_confidence": level,
        "comparisons": [],
    }
    if count < need:
        reasons.append(
            f"not enough {unit}: {count} of {need} needed ({need - count} "
            "more) in the evaluation data; too little evidence to decide, the champion is kept. "
            "Pool more matured days (a longer training window or holdout)"
        )
        return INSUFFICIENT, reasons, record
    samples = bootstrap()
    record["n_boot"] = samples.n_boot
    record["intervals"] = {
        model: {m: samples.interval(model, m, level).to_dict() for m in metrics}
        for model in samples.estimates
    }
    rejected = False
    for metric in metrics:
        own = samples.interval("challenger", metric, level)
        floor = floors.get(metric)
        if floor is not None:
            if own.high < floor:
                rejected = True
                reasons.append(f"{metric} {own.describe()} is below the floor {floor}")
            else:
                note = "" if own.estimate >= floor else " (point estimate below it: within noise)"
                reasons.append(f"{metric} {own.describe()} meets the floor {floor}{note}")
        for name, lift in baselines.items():
            gap = evidence.interval(
                samples.estimates["challenger"][metric]
                - (1 + lift) * samples.estimates[name][metric],
                samples.samples["challenger"][metric] - (1 + lift) * samples.samples[name][metric],
                level,
            )
            short = gap.high < 0
            rejected = rejected or short
            shown = "is shown short of" if short else "is not shown short of"
            reasons.append(
                f"{metric} {own.describe()} {shown} {name} "
                f"{samples.interval(name, metric, level).describe()} plus the required "
                f"{lift:.0%} (gap {gap.estimate:+.4f} [{gap.low:+.4f}, {gap.high:+.4f}])"
            )
    if not champion:
        reasons.append("no champion yet: floors and baselines decide")
        return (REJECT if rejected else PROMOTE), reasons, record
    weakest, superior = 0.0, []
    for i, metric in enumerate(metrics):
        result = evidence.compare(
            samples,
            metric,
            challenger="challenger",
            reference="champion",
            relative_margin=rules.relative_margin,
            confidence=level,
            power=rules.power,
        )
        record["comparisons"].append(result.to_dict())
        reasons.append(result.describe("champion"))
        if result.outcome == evidence.INFERIOR:
            rejected = True
        if result.outcome == evidence.SUPERIOR:
            superior.append(metric)
        if i == 0 and rules.comparison == "superiority" and result.outcome != evidence.SUPERIOR:
            rejected = True
            reasons.append(f"superiority required: {metric} is not shown better than the champion")
        # Absence of evidence: only a comparison the interval leaves open (it straddles the
        # margin) leans on the sample's power; superior / non-inferior ones are decided. A
        # drop is shown inferior once it exceeds the margin by the detectable amount.
        if result.outcome == evidence.INCONCLUSIVE and result.reference.estimate > 0:
            shown = (result.margin + result.detectable_drop) / result.reference.estimate
            weakest = max(weakest, shown)
    if not rejected and weakest > rules.max_detectable_drop and superior:
        # A worse model is shown better on a gated metric at most at the test's one-sided
        # error, so the open comparison on the others does not need the power rule.
        reasons.append(
            f"{', '.join(superior)} shown better than the champion and nothing shown worse: "
            "the open comparison is not held back for power"
        )
    elif not rejected and weakest > rules.max_detectable_drop:
        margin = rules.relative_margin
        ratio = max(weakest - margin, 1e-9) / max(rules.max_detectable_drop - margin, 1e-9)
        more = int(np.ceil(count * ratio**2)) - count
        reasons.append(
            f"not enough evidence: an open comparison, and with {count} {unit} the gate only "
            f"shows a relative drop of {weakest:.0%} inferior ({rules.power:.0%} power), the "
            f"policy needs {rules.max_detectable_drop:.0%}; about {more} more {unit} are "
            "needed (pool more matured days). The champion is kept"
        )
        record["needed_more"] = more
        return INSUFFICIENT, reasons, record
    return (REJECT if rejected else PROMOTE), reasons, record


GATED_CLASSIFICATION = ("pr_auc", "recall_at_fpr")


def cluster_groups(frame: Any, column: str) -> np.ndarray | None:
    """Each row's group for a cluster bootstrap: ``frame[column]`` as text, or ``None`` (rows
    independent) when no column is configured.

    Raises:
        KeyError: ``column`` is configured but ``frame`` lacks it (an interval on rows would
            then pass for one on groups, silently too narrow).
    """
    if not column:
        return None
    if column not in frame.columns:
        raise KeyError(
            f"cluster column {column!r} is not among the evaluation rows' columns "
            f"({', '.join(map(str, frame.columns))}); the bootstrap cannot draw its groups"
        )
    return frame[column].astype(str).to_numpy()


def evaluate_gate(
    y: np.ndarray,
    challenger: np.ndarray,
    champion: np.ndarray | None,
    thresholds: GateThresholds,
    groups: np.ndarray | None = None,
) -> GateVerdict:
    """Decide whether the challenger may replace the champion, from both models' scores on
    the same holdout rows (``y`` its labels): paired, label-stratified bootstrap of PR-AUC and
    recall at the FPR target, of whole groups when ``groups`` gives each row's (the values of
    ``thresholds.cluster_column``). With no champion the floors alone decide."""
    y = np.asarray(y).astype(int)
    scores = {"challenger": challenger, **({"champion": champion} if champion is not None else {})}
    decision, reasons, record = decide_on_evidence(
        lambda: evidence.paired_classification(
            y,
            scores,
            fpr_target=thresholds.fpr_target,
            n_boot=thresholds.n_boot,
            seed=thresholds.bootstrap_seed,
            groups=groups,
        ),
        GATED_CLASSIFICATION,
        thresholds,
        count=int(y.sum()),
        need=thresholds.min_positives,
        unit="positives",
        floors={"pr_auc": thresholds.min_pr_auc, "recall_at_fpr": thresholds.min_recall_at_fpr},
        baselines={},
        champion=champion is not None,
    )
    record["rows"] = len(y)
    if groups is not None:
        record["groups"] = int(len(np.unique(np.asarray(groups))))
    return GateVerdict(
        decision=decision,
        reasons=reasons,
        challenger=classification_metrics(y, challenger, thresholds.fpr_target),
        champion=(
            classification_metrics(y, champion, thresholds.fpr_target)
            if champion is not None
            else None
        ),
        thresholds=asdict(thresholds),
        evidence=record,
    )
