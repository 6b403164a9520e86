"""The shadow comparison decides with a sequential test that stays valid over daily looks,
reports its evidence and the sample it still needs, and restarts with a new version."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import log_ndtr

from mlops_core import lake, registry
from mlops_core.errors import SchemaError
from mlops_core.monitoring import (
    PerformanceThresholds,
    judge_shadow,
    shadow_prefix,
    shadow_sequence,
)
from mlops_core.schema import load_schema
from mlops_core.shadow import (
    INCONCLUSIVE,
    INSUFFICIENT,
    KEEP,
    PROMOTE,
    ShadowPolicy,
    boundary,
    compare,
    required_se,
)
from mlops_core.storage import LocalStorage

POLICY = ShadowPolicy(min_rows=5_000, min_positives=40, n_boot=200)
# Calibrated on mlops_core.sample_data.generate_transactions (bench/run.py measures it):
# 5,000 rows a day at ~0.8% fraud, and a bootstrap se of the PR-AUC difference of two
# gradient-boosting models of ~0.42 / sqrt(positives pooled).
ROWS_PER_DAY, FRAUD_RATE, SE_PER_POSITIVE = 5_000, 0.008, 0.42


def _data(n: int = 20_000, rate: float = 0.01, seed: int = 1):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < rate).astype(int)
    strong = y * rng.normal(2.5, 1, n) + rng.normal(0, 1, n)  # separates classes well
    weak = y * rng.normal(0.8, 1, n) + rng.normal(0, 1, n)
    return y, strong, weak


# ----------------------------------------------------------------- one look


def test_clearly_better_challenger_is_promoted() -> None:
    y, strong, weak = _data()
    verdict = compare(y, champion=weak, challenger=strong, policy=POLICY)
    assert verdict.decision == PROMOTE and verdict.ci_low > 0
    assert verdict.challenger_pr_auc > verdict.champion_pr_auc
    assert verdict.z > verdict.boundary and "always-valid 95% bounds" in verdict.reason


def test_clearly_worse_challenger_keeps_champion() -> None:
    y, strong, weak = _data()
    verdict = compare(y, champion=strong, challenger=weak, policy=POLICY)
    assert verdict.decision == KEEP and verdict.ci_high < 0 and "champion better" in verdict.reason


def test_equal_models_are_inconclusive() -> None:
    y, strong, _ = _data()
    noise = np.random.default_rng(5).normal(0, 1e-6, len(y))
    verdict = compare(y, champion=strong, challenger=strong + noise, policy=POLICY)
    assert verdict.decision == INCONCLUSIVE and verdict.ci_low <= 0 <= verdict.ci_high


def test_identical_scores_say_so() -> None:
    y, strong, _ = _data()
    verdict = compare(y, champion=strong, challenger=strong, policy=POLICY)
    assert verdict.decision == INCONCLUSIVE and "identically" in verdict.reason


def test_small_samples_are_insufficient() -> None:
    y, strong, weak = _data(n=3_000)
    verdict = compare(y, champion=weak, challenger=strong, policy=POLICY)
    assert verdict.decision == INSUFFICIENT and "need >= 5000 rows" in verdict.reason
    assert verdict.rows_still_needed == 2_000
    y, strong, weak = _data(n=20_000, rate=0.001)
    assert compare(y, weak, strong, POLICY).decision == INSUFFICIENT  # too few positives


def test_the_verdict_reports_look_counts_bounds_boundary_and_sample_still_needed() -> None:
    y, strong, _ = _data(n=10_000, rate=0.006)
    rng = np.random.default_rng(3)
    slightly = strong + rng.normal(0, 0.3, len(y))  # a little worse, not clearly
    verdict = compare(y, champion=slightly, challenger=strong, policy=POLICY, look=3).to_dict()
    assert verdict["decision"] == INCONCLUSIVE, verdict["reason"]
    assert (verdict["look"], verdict["max_looks"], verdict["rows"]) == (3, 30, 10_000)
    assert verdict["positives"] == int(y.sum())
    d, se, b = verdict["diff"], verdict["se"], verdict["boundary"]
    assert verdict["ci_low"] == pytest.approx(d - b * se) and verdict["z"] == pytest.approx(d / se)
    # The power calculation: information grows with the positives, se with 1/sqrt of them.
    target = required_se(POLICY.min_effect, POLICY.confidence, POLICY.power)
    expected = math.ceil(verdict["positives"] * (se / target) ** 2)
    assert verdict["positives_needed"] == expected
    assert verdict["positives_still_needed"] == expected - verdict["positives"] > 0
    assert verdict["rows_still_needed"] == verdict["rows_needed"] - 10_000
    per_look = 10_000 / 3
    assert verdict["looks_still_needed"] == math.ceil(verdict["rows_still_needed"] / per_look)
    assert f"{verdict['positives_still_needed']} more positives" in verdict["reason"]
    close = strong + rng.normal(0, 0.15, len(y))  # nearly equal: this sample has the power
    enough = compare(y, champion=close, challenger=strong, policy=POLICY, look=3)
    assert enough.decision == INCONCLUSIVE and enough.positives_still_needed == 0
    assert "which this sample has" in enough.reason
    decided = compare(y, champion=_data()[2][:10_000], challenger=strong, policy=POLICY)
    assert decided.decision == PROMOTE and decided.positives_still_needed == 0


def test_past_the_horizon_the_champion_is_kept() -> None:
    y, strong, weak = _data()
    policy = ShadowPolicy(min_rows=5_000, min_positives=40, n_boot=200, max_looks=10)
    verdict = compare(y, champion=weak, challenger=strong, policy=policy, look=11)
    assert verdict.decision == KEEP and "horizon of 10 looks passed" in verdict.reason


def test_policy_refuses_settings_that_cannot_decide() -> None:
    with pytest.raises(SchemaError, match="min_effect"):
        ShadowPolicy(min_effect=0.0)
    with pytest.raises(SchemaError, match="max_looks 0"):
        ShadowPolicy(max_looks=0)


# ----------------------------------------------------------------- the sequential test


def test_boundary_is_where_the_mixture_likelihood_ratio_reaches_one_over_alpha() -> None:
    se = np.array([0.001, 0.01, 0.02, 0.05, 0.2])
    z = boundary(se, 0.05, 0.95)
    r = (0.05 / se) ** 2
    u = z / np.sqrt(1 + 1 / r)
    log_mixture = np.log(2) - 0.5 * np.log1p(r) + u**2 / 2 + log_ndtr(u)
    np.testing.assert_allclose(log_mixture, np.log(20), atol=1e-8)
    assert (z > 1.645).all()  # above the one-look bar: the price of looking every day


def _paths(rng, replicates: int, looks: int, delta: float, positives_per_day: int):
    """Normal approximation of the pooled difference over daily looks: information
    ``positives / SE_PER_POSITIVE**2`` grows with the matured positives of each day, and the
    score ``S = estimate * information`` is Brownian motion with drift ``delta``."""
    rate = positives_per_day / ROWS_PER_DAY
    positives = rng.binomial(ROWS_PER_DAY, rate, (replicates, looks)).cumsum(axis=1)
    info = positives / SE_PER_POSITIVE**2
    step = np.diff(info, axis=1, prepend=0.0)
    score = np.cumsum(delta * step + np.sqrt(step) * rng.standard_normal(step.shape), axis=1)
    se = 1 / np.sqrt(info)
    return score / info, se, positives


def _promoted(estimate, se, positives, policy: ShadowPolicy) -> np.ndarray:
    """The look of the first promotion per sequence (0: never), as :func:`compare` rules."""
    judged = positives >= policy.min_positives  # rows are 125 per positive: never binding
    hit = judged & (estimate - boundary(se, policy.min_effect, policy.confidence) * se > 0)
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)


@pytest.mark.parametrize("positives_per_day", [40, 10, 400])
def test_equal_challenger_is_promoted_at_most_5_percent_over_30_daily_looks(
    positives_per_day: int,
) -> None:
    rng = np.random.default_rng(positives_per_day)
    policy = ShadowPolicy()
    replicates = 20_000  # the share's standard error is <= 0.0016
    estimate, se, positives = _paths(rng, replicates, 30, 0.0, positives_per_day)
    share = (_promoted(estimate, se, positives, policy) > 0).mean()
    assert share + 3 * math.sqrt(share * (1 - share) / replicates) <= 0.05, share
    # The same paths judged by a fixed 95% interval every day: the problem this solves.
    judged = positives >= policy.min_positives
    naive = (judged & (estimate / se > 1.96)).any(axis=1).mean()
    assert naive > 0.10, naive


def test_a_gain_of_min_effect_is_promoted_with_the_planned_power_by_the_planned_sample() -> None:
    rng = np.random.default_rng(11)
    policy = ShadowPolicy()
    estimate, se, positives = _paths(rng, 4_000, 30, policy.min_effect, 40)
    first = _promoted(estimate, se, positives, policy)
    needed = (SE_PER_POSITIVE / required_se(policy.min_effect, policy.confidence, 0.8)) ** 2
    planned_look = math.ceil(needed / 40)  # ~23 days of 40 positives
    assert planned_look <= 30
    by_plan = ((first > 0) & (first <= planned_look)).mean()
    assert by_plan >= 0.8, by_plan  # the power calculation is conservative
    assert np.median(first[first > 0]) <= 15


def test_bootstrap_se_matches_the_spread_of_the_difference() -> None:
    """The normal approximation the test rests on: with exchangeable models (one signal,
    independent noise of the same size), (difference / bootstrap se) is ~N(0, 1)."""
    rng = np.random.default_rng(2)
    z = []
    for _ in range(40):
        n = 10_000
        y = (rng.random(n) < 0.02).astype(int)
        signal = y * 1.5 + rng.normal(0, 1, n)
        a, b = signal + rng.normal(0, 0.7, n), signal + rng.normal(0, 0.7, n)
        z.append(compare(y, a, b, POLICY).z)
    assert abs(np.mean(z)) < 0.5 and 0.7 < np.std(z, ddof=1) < 1.35, (np.mean(z), np.std(z))


def test_better_challenger_is_promoted_within_six_daily_looks() -> None:
    """Real bootstrap looks on pooled days: a challenger ~0.1 PR-AUC better than the
    champion (5,000 rows and ~50 positives a day) is promoted by look 6, never earlier than
    the minimum sample allows."""
    rng = np.random.default_rng(4)
    policy = ShadowPolicy()
    pooled: list[np.ndarray] = []
    first = None
    for look in range(1, 11):
        y = (rng.random(5_000) < 0.01).astype(int)
        noise = rng.normal(0, 1, 5_000)
        pooled.append(np.c_[y, y * 2.0 + noise, y * 2.6 + noise + rng.normal(0, 0.5, 5_000)])
        rows = np.concatenate(pooled)
        verdict = compare(rows[:, 0], rows[:, 1], rows[:, 2], policy, look=look)
        assert verdict.decision in (INSUFFICIENT, INCONCLUSIVE, PROMOTE), verdict.reason
        if verdict.decision == PROMOTE:
            first = look
            break
    assert first is not None and 2 <= first <= 6, verdict.reason
    assert verdict.challenger_pr_auc - verdict.champion_pr_auc > 0.05


# ----------------------------------------------------------------- the sequence in the lake

SCHEMA = load_schema("fraud")
START = dt.date(2026, 12, 1)


def _publish(storage: LocalStorage, key_prefix: str, frame: pd.DataFrame, marker: str) -> None:
    path = storage.path(key_prefix + ("data.parquet" if marker else "scores.parquet"))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    if marker:
        storage.write_bytes(key_prefix + marker, b"{}")
    else:
        version = str(frame["model_version"].iloc[0])
        storage.write_bytes(
            key_prefix + lake.MANIFEST, json.dumps({"model_version": version}).encode()
        )


def _live_day(storage: LocalStorage, day: dt.date, champion: int, challenger: int, seed: int):
    """A matured day: labels validated, champion scores, the challenger's shadow scores
    (clearly better)."""
    rng = np.random.default_rng(seed)
    n = 4_000
    y = (rng.random(n) < 0.02).astype(int)
    ids = [f"{day}-{i}" for i in range(n)]
    labels = pd.DataFrame({SCHEMA.id_column: ids, SCHEMA.label_column: y})
    _publish(storage, lake.working_prefix(SCHEMA.name, day), labels, lake.VALIDATED_MARKER)
    for zone, version, lift in ((lake.SCORED, champion, 0.8), (lake.SHADOW, challenger, 2.5)):
        scores = pd.DataFrame(
            {
                SCHEMA.id_column: ids,
                "score": y * lift + rng.normal(0, 1, n),
                "model_version": version,
            }
        )
        _publish(storage, lake.scored_prefix(SCHEMA.name, day, zone), scores, "")


def _judge(storage, day: dt.date, champion: int, challenger: int, write: bool = True) -> dict:
    result = judge_shadow(
        storage,
        SCHEMA,
        day,
        model_name="fraud_model",
        champion_version=champion,
        challenger_version=challenger,
        perf=PerformanceThresholds(label_delay_days=1),
        policy=ShadowPolicy(min_rows=1_000, min_positives=20, n_boot=200, min_effect=0.5),
    )
    if write:  # as shadow_evaluation stores it
        key = shadow_prefix("fraud_model") + f"dt={day.isoformat()}.json"
        storage.write_bytes(key, registry.dumps(result).encode())
    return result


def test_evidence_is_per_challenger_version_and_a_new_version_restarts(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    days = [START + dt.timedelta(days=i) for i in range(5)]
    for i, day in enumerate(days):
        _live_day(storage, day, champion=1, challenger=2 if i < 3 else 3, seed=i)
    # Day 3's judgement sees the two matured days of challenger v2.
    first = _judge(storage, days[2], 1, 2)
    assert first["days"] == [d.isoformat() for d in days[:2]] and first["sequence"]["looks"] == 2
    assert first["verdict"]["look"] == 2 and first["verdict"]["rows"] == 8_000
    assert first["sequence"]["restarted"] is None
    # Challenger v3 took over on day 4: its sequence holds only its own day.
    later = _judge(storage, days[4], 1, 3)
    assert later["days"] == [days[3].isoformat()] and later["verdict"]["look"] == 1
    assert later["verdict"]["rows"] == 4_000
    restarted = later["sequence"]["restarted"]
    assert "restarted at look 1" in restarted and "challenger v2" in restarted
    assert restarted in later["reason"]
    # A new champion version restarts the sequence as well: no scores of it, no evidence.
    other = _judge(storage, days[4] + dt.timedelta(days=1), 5, 3, write=False)
    assert other["status"] == INSUFFICIENT and other["verdict"]["rows"] == 0
    assert "champion v1" in other["sequence"]["restarted"]


def test_a_rerun_of_the_day_decides_the_same(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    days = [START + dt.timedelta(days=i) for i in range(4)]
    for i, day in enumerate(days):
        _live_day(storage, day, champion=1, challenger=2, seed=10 + i)
    _judge(storage, days[1], 1, 2)
    once = registry.dumps(_judge(storage, days[3], 1, 2))
    _judge(storage, days[2], 1, 2)  # a backfill of an earlier day in between
    again = registry.dumps(_judge(storage, days[3], 1, 2))
    assert once == again and json.loads(once)["status"] == PROMOTE


def test_the_sequence_stops_reading_at_the_horizon(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    days = [START + dt.timedelta(days=i) for i in range(4)]
    for i, day in enumerate(days):
        _live_day(storage, day, champion=1, challenger=2, seed=20 + i)
    data, seen = shadow_sequence(
        storage, SCHEMA, days[-1], champion_version=1, challenger_version=2, max_looks=2
    )
    assert len(seen) == 4 and len(data) == 8_000  # four looks, the first two read
