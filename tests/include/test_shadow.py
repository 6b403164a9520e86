"""The shadow comparison decides with a bootstrap interval and a minimum sample size."""

from __future__ import annotations

import numpy as np

from mlops_core.shadow import INCONCLUSIVE, INSUFFICIENT, KEEP, PROMOTE, ShadowPolicy, compare

POLICY = ShadowPolicy(min_rows=5_000, min_positives=40, n_boot=200)


def _data(n: int = 20_000, rate: float = 0.01, seed: int = 1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    strong = y * rng.normal(2.5, 1, n) + rng.normal(0, 1, n)  # separates classes well
    weak = y * rng.normal(0.8, 1, n) + rng.normal(0, 1, n)
    return y, strong, weak


def test_clearly_better_challenger_is_promoted() -> None:
    y, strong, weak = _data()
    verdict = compare(y, champion=weak, challenger=strong, policy=POLICY)
    assert verdict.decision == PROMOTE and verdict.ci_low > 0
    assert verdict.challenger_pr_auc > verdict.champion_pr_auc
    assert "interval" in verdict.reason


def test_clearly_worse_challenger_keeps_champion() -> None:
    y, strong, weak = _data()
    assert compare(y, champion=strong, challenger=weak, policy=POLICY).decision == KEEP


def test_equal_models_are_inconclusive() -> None:
    y, strong, _ = _data()
    noise = np.random.default_rng(5).normal(0, 1e-6, len(y))
    verdict = compare(y, champion=strong, challenger=strong + noise, policy=POLICY)
    assert verdict.decision == INCONCLUSIVE and verdict.ci_low <= 0 <= verdict.ci_high


def test_small_samples_are_insufficient() -> None:
    y, strong, weak = _data(n=3_000)
    verdict = compare(y, champion=weak, challenger=strong, policy=POLICY)
    assert verdict.decision == INSUFFICIENT and "need >= 5000 rows" in verdict.reason
    y, strong, weak = _data(n=20_000, rate=0.001)
    assert compare(y, weak, strong, POLICY).decision == INSUFFICIENT  # too few positives
