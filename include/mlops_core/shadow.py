"""Shadow comparison: does the challenger, scored next to the champion on live partitions,
beat it once the labels have matured? Decided with a paired bootstrap interval on the PR-AUC
difference and a minimum sample size, not with a single number."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import average_precision_score

from mlops_core.knobs import ShadowPolicy  # noqa: F401 - re-exported

PROMOTE, KEEP, INCONCLUSIVE, INSUFFICIENT = "promote", "keep", "inconclusive", "insufficient"


@dataclass(frozen=True)
class ShadowVerdict:
    decision: str
    reason: str
    rows: int
    positives: int
    champion_pr_auc: float | None = None
    challenger_pr_auc: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def compare(
    y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, policy: ShadowPolicy
) -> ShadowVerdict:
    """Paired bootstrap over rows: both models are scored on the same resampled rows.

    ``promote`` when the whole interval of (challenger - champion) PR-AUC is above zero,
    ``keep`` when it is all below, ``inconclusive`` otherwise, ``insufficient`` when there are
    too few rows or positives to judge.
    """
    y = np.asarray(y)
    rows, positives = len(y), int(y.sum())
    if rows < policy.min_rows or positives < policy.min_positives:
        return ShadowVerdict(
            INSUFFICIENT,
            f"{rows} rows with {positives} positives; need >= {policy.min_rows} rows and "
            f">= {policy.min_positives} positives",
            rows,
            positives,
        )
    base_champion = float(average_precision_score(y, champion))
    base_challenger = float(average_precision_score(y, challenger))
    rng = np.random.default_rng(policy.seed)
    diffs = np.empty(policy.n_boot)
    for i in range(policy.n_boot):
        idx = rng.integers(0, rows, rows)
        yi = y[idx]
        if yi.min() == yi.max():
            diffs[i] = 0.0
            continue
        diffs[i] = average_precision_score(yi, challenger[idx]) - average_precision_score(
            yi, champion[idx]
        )
    tail = (1 - policy.confidence) / 2 * 100
    low, high = (float(v) for v in np.percentile(diffs, [tail, 100 - tail]))
    diff = base_challenger - base_champion
    interval = (
        f"PR-AUC difference {diff:+.4f}, {policy.confidence:.0%} interval [{low:+.4f}, {high:+.4f}]"
    )
    if low > 0:
        decision, reason = PROMOTE, f"challenger better: {interval}"
    elif high < 0:
        decision, reason = KEEP, f"champion better: {interval}"
    else:
        decision, reason = INCONCLUSIVE, f"no clear difference: {interval}"
    return ShadowVerdict(
        decision, reason, rows, positives, base_champion, base_challenger, diff, low, high
    )
