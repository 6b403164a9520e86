"""Shadow comparison: does the challenger, scored next to the champion on live partitions,
beat it once the labels have matured? Decided every day on all the evidence pooled so far,
with a test whose error rate holds over every one of those daily looks.

Why a sequential test. Judging a fixed 95% interval again each day promotes an equal
challenger far more often than 5% (simulated: 8% after 7 looks, 15% after 14, 28% after
30): each look is another chance for noise to clear the bar. Of the valid designs this uses
an always-valid one (a mixture sequential probability ratio test) rather than group-sequential
alpha spending:

- Its only state is the evidence itself. The pooled PR-AUC difference ``d`` and its
  bootstrap standard error ``se`` give the information ``I = 1/se**2`` and the score
  ``S = d * I``, which behaves as Brownian motion with drift ``delta`` in ``I`` (the
  difference of two average precisions is asymptotically linear in the rows). Alpha spending
  would need the planned maximum information fixed in advance (unknown before the first
  matured days) and the information of every earlier look stored; here a rerun, a backfill,
  a skipped day or an extra manual look changes nothing about validity, and a rerun of the
  same day decides the same.
- The price is sample size: at the planned power it needs about twice the positives of one
  fixed-horizon test. Every verdict states how many positives and rows it still needs.

The test: the likelihood ratio of drift ``delta`` against 0, ``exp(delta*S - delta**2*I/2)``,
mixed over ``delta ~ half-normal(scale=min_effect)`` (gains only), is a nonnegative
(super)martingale for every ``delta <= 0``, so by Ville's inequality it ever exceeds
``1/alpha`` with probability at most ``alpha``. In closed form that is ``d/se > z_bound(se)``
(:func:`boundary`), growing slowly with the information. Inverting it gives the one-sided
always-valid bounds ``d -/+ z_bound * se``; the upper one below zero keeps the champion.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np
from scipy.special import log_ndtr

from mlops_core.evidence import paired_classification
from mlops_core.knobs import ShadowPolicy  # noqa: F401 - re-exported

PROMOTE, KEEP, INCONCLUSIVE, INSUFFICIENT = "promote", "keep", "inconclusive", "insufficient"


@dataclass(frozen=True)
class ShadowVerdict:
    """One look's decision and its evidence: PR-AUCs on the pooled rows, the difference
    (challenger - champion) with its bootstrap ``se`` and its always-valid one-sided bounds
    ``ci_low``/``ci_high`` (each at ``confidence`` over all looks), ``z`` against the
    ``boundary`` it had to pass, and the power calculation: ``positives_needed`` /
    ``rows_needed`` in total for a gain of ``min_effect`` to be promoted with ``power``, what
    of it is ``*_still_needed`` and in how many more looks at the traffic seen so far."""

    decision: str
    reason: str
    rows: int
    positives: int
    champion_pr_auc: float | None = None
    challenger_pr_auc: float | None = None
    diff: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    look: int = 1
    max_looks: int = 30
    se: float | None = None
    z: float | None = None
    boundary: float | None = None
    confidence: float = 0.95
    min_effect: float = 0.05
    power: float = 0.8
    positives_needed: int | None = None
    rows_needed: int | None = None
    positives_still_needed: int | None = None
    rows_still_needed: int | None = None
    looks_still_needed: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def boundary(se: np.ndarray | float, min_effect: float, confidence: float) -> np.ndarray:
    """The z-value (difference / se) that promotes at standard error ``se``.

    Solves ``2 / sqrt(1 + r) * exp(u**2 / 2) * Phi(u) = 1 / alpha`` for ``u``, with
    ``r = (min_effect / se)**2`` the information in units of the mixture's scale, and returns
    ``u * sqrt(1 + 1/r)`` (vectorised bisection; 1.0e-10 accuracy)."""
    se = np.asarray(se, dtype=np.float64)
    r = (min_effect / np.maximum(se, 1e-300)) ** 2
    target = math.log(1.0 / (1.0 - confidence)) + 0.5 * np.log1p(r) - math.log(2.0)
    low = np.zeros_like(target)  # g(0) = log(1/2) < target, g increasing
    high = np.sqrt(2.0 * (target + 1.0))  # g(u) >= u**2/2 - log 2 for u >= 0
    for _ in range(64):
        mid = (low + high) / 2
        above = mid**2 / 2 + log_ndtr(mid) > target
        high, low = np.where(above, mid, high), np.where(above, low, mid)
    return (low + high) / 2 * np.sqrt(1.0 + 1.0 / r)


def required_se(min_effect: float, confidence: float, power: float) -> float:
    """The standard error at which a true gain of ``min_effect`` clears :func:`boundary`
    with probability ``power`` at that look alone (earlier looks only add chances, so this
    is conservative)."""
    z_power = NormalDist().inv_cdf(power)
    low, high = math.log(min_effect) - 20, math.log(min_effect)  # se small enough .. se=effect
    for _ in range(100):
        mid = (low + high) / 2
        se = math.exp(mid)
        if min_effect / se - float(boundary(se, min_effect, confidence)) >= z_power:
            low = mid
        else:
            high = mid
    return math.exp(low)


def compare(
    y: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    policy: ShadowPolicy,
    *,
    look: int = 1,
    groups: np.ndarray | None = None,
) -> ShadowVerdict:
    """Judge look ``look`` of the sequence on the rows pooled so far (labels ``y`` and both
    models' scores, paired by row).

    ``promote`` when the always-valid lower bound of (challenger - champion) PR-AUC is above
    zero, ``keep`` when the upper bound is below zero or the sequence has run past
    ``policy.max_looks``, ``inconclusive`` otherwise, ``insufficient`` below the minimum
    rows or positives. The bootstrap is paired and label-stratified (``mlops_core.evidence``).
    """
    y = np.asarray(y).astype(bool)
    rows, positives = len(y), int(y.sum())
    common = {
        "look": look,
        "max_looks": policy.max_looks,
        "confidence": policy.confidence,
        "min_effect": policy.min_effect,
        "power": policy.power,
    }
    if rows < policy.min_rows or positives < policy.min_positives or positives == rows:
        return ShadowVerdict(
            INSUFFICIENT,
            f"look {look}: {rows} rows with {positives} positives; need >= {policy.min_rows} "
            f"rows and >= {policy.min_positives} positives",
            rows,
            positives,
            positives_still_needed=max(0, policy.min_positives - positives),
            rows_still_needed=max(0, policy.min_rows - rows),
            **common,
        )
    samples = paired_classification(
        y,
        {"champion": np.asarray(champion), "challenger": np.asarray(challenger)},
        fpr_target=0.01,
        n_boot=policy.n_boot,
        seed=policy.seed,
        groups=groups,
    )
    diff, se = samples.difference("challenger", "champion", "pr_auc", policy.confidence)
    estimate = diff.estimate
    evidence = {
        "champion_pr_auc": samples.estimates["champion"]["pr_auc"],
        "challenger_pr_auc": samples.estimates["challenger"]["pr_auc"],
        "diff": estimate,
        **common,
    }
    if se <= 0:
        return ShadowVerdict(
            INCONCLUSIVE,
            f"look {look}: the two models rank the {rows} rows identically (PR-AUC difference "
            f"{estimate:+.4f} in every resample); there is nothing to decide",
            rows,
            positives,
            se=0.0,
            **evidence,
        )
    bound = float(boundary(se, policy.min_effect, policy.confidence))
    low, high, z = estimate - bound * se, estimate + bound * se, estimate / se
    # Information grows with the positives (and rows) pooled: scale them to the needed se.
    scale = (se / required_se(policy.min_effect, policy.confidence, policy.power)) ** 2
    pos_needed, rows_needed = math.ceil(positives * scale), math.ceil(rows * scale)
    rows_short = max(0, rows_needed - rows)
    looks_short = math.ceil(rows_short / (rows / look)) if look > 0 else None
    sizes = {
        "se": se,
        "z": z,
        "boundary": bound,
        "ci_low": low,
        "ci_high": high,
        "positives_needed": pos_needed,
        "rows_needed": rows_needed,
        "positives_still_needed": max(0, pos_needed - positives),
        "rows_still_needed": rows_short,
        "looks_still_needed": looks_short,
    }
    pooled = f"look {look} of {policy.max_looks}" if look <= policy.max_looks else "at the horizon"
    evidence_text = (
        f"{pooled}, {rows} rows with {positives} positives: PR-AUC "
        f"difference {estimate:+.4f} (se {se:.4f}, z {z:+.2f} against a boundary of "
        f"{bound:.2f}), always-valid {policy.confidence:.0%} bounds [{low:+.4f}, {high:+.4f}]"
    )
    if look > policy.max_looks:
        decision = KEEP
        reason = (
            f"horizon of {policy.max_looks} looks passed without a promotion (this is look "
            f"{look}; only the first {policy.max_looks} count); champion kept. {evidence_text}"
        )
    elif low > 0:
        decision, reason = PROMOTE, f"challenger better: {evidence_text}"
    elif high < 0:
        decision, reason = KEEP, f"champion better: {evidence_text}"
    else:
        decision = INCONCLUSIVE
        reach = (
            "within the horizon"
            if looks_short is not None and look + looks_short <= policy.max_looks
            else f"NOT within the {policy.max_looks}-look horizon at this traffic"
        )
        plan = (
            f"a gain of {policy.min_effect:.3f} needs ~{pos_needed} positives ({rows_needed} "
            f"rows) for {policy.power:.0%} power"
        )
        if sizes["positives_still_needed"] or rows_short:
            plan += (
                f": {sizes['positives_still_needed']} more positives, ~{looks_short} more "
                f"looks, {reach}"
            )
        else:
            plan += ", which this sample has: a gain that large would most likely have shown"
        reason = f"no clear difference yet: {evidence_text}; {plan}"
    if decision != INCONCLUSIVE:  # decided (or over): no more evidence is needed
        sizes.update(positives_still_needed=0, rows_still_needed=0, looks_still_needed=0)
    return ShadowVerdict(decision, reason, rows, positives, **evidence, **sizes)
