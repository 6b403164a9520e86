"""PSI and KS against hand-computed values; the retraining policy as a decision table."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlops_core.drift import (
    ALERT,
    OK,
    WARN,
    DriftThresholds,
    drift_report,
    psi_categorical,
    psi_numeric,
    quantile_edges,
)
from mlops_core.policy import Decision, PolicyInput, RetrainPolicy, decide
from mlops_core.sample_data import generate_transactions


def _psi_by_hand(ref: list[float], cur: list[float]) -> float:
    return sum((c - r) * math.log(c / r) for r, c in zip(ref, cur, strict=True))


def test_psi_categorical_by_hand() -> None:
    reference = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    current = pd.Series(["a"] * 30 + ["b"] * 30 + ["c"] * 20 + ["z"] * 20)  # z was never seen
    expected = _psi_by_hand([0.5, 0.3, 0.2, 1e-4], [0.3, 0.3, 0.2, 0.2])
    assert psi_categorical(reference, current) == pytest.approx(expected)
    assert psi_categorical(reference, reference) == pytest.approx(0.0)


def test_psi_numeric_by_hand() -> None:
    reference = np.arange(1, 101, dtype=float)  # quartile cuts at 25.75, 50.5, 75.25
    edges = quantile_edges(reference, bins=4)
    np.testing.assert_allclose(edges, [25.75, 50.5, 75.25])
    current = np.concatenate(
        [np.full(10, 10.0), np.full(20, 40.0), np.full(30, 60.0), np.full(40, 90.0)]
    )
    expected = _psi_by_hand([0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4])
    assert psi_numeric(reference, current, bins=4) == pytest.approx(expected)
    # Values beyond the reference range fall into the open outer bins.
    assert psi_numeric(reference, np.full(100, 1e6), bins=4) == pytest.approx(
        _psi_by_hand([0.25, 0.25, 0.25, 0.25], [1e-4, 1e-4, 1e-4, 1.0])
    )


def test_ks_and_levels_on_real_drift() -> None:
    day = dt.date(2026, 11, 1)
    reference = generate_transactions(day, n_rows=8_000)
    same = generate_transactions(day + dt.timedelta(days=1), n_rows=8_000)
    drifted = generate_transactions(day + dt.timedelta(days=1), n_rows=8_000, drift=1.0)
    kwargs = dict(
        numeric=["amount"],
        categorical=["merchant_category", "channel"],
        thresholds=DriftThresholds(),
    )
    calm = drift_report("d", reference, same, **kwargs)
    assert calm.level == OK
    storm = drift_report("d", reference, drifted, **kwargs)
    by_name = {f.feature: f for f in storm.features}
    assert storm.level == ALERT
    assert by_name["amount"].level == ALERT and by_name["amount"].ks_pvalue < 1e-6
    assert by_name["merchant_category"].psi > 0.25
    assert by_name["channel"].level == OK  # the channel mix did not move


def test_prediction_drift_uses_scores() -> None:
    rng = np.random.default_rng(0)
    ref_scores = rng.beta(1, 30, 5_000)
    report = drift_report(
        "d",
        pd.DataFrame({"x": [1.0] * 10}),
        pd.DataFrame({"x": [1.0] * 10}),
        numeric=[],
        categorical=[],
        thresholds=DriftThresholds(),
        reference_scores=ref_scores,
        current_scores=rng.beta(1, 8, 5_000),
    )
    assert report.prediction.level == ALERT and report.level == ALERT


AT = dt.datetime(2026, 11, 11, 3, tzinfo=dt.UTC)
POLICY = RetrainPolicy(
    cooldown_hours=24,
    cooldown_days=1,
    min_new_labelled_rows=5_000,
    max_retrains_per_day=1,
    alert_days_required=2,
    alert_days_window=3,
)
LONG_AGO = AT - dt.timedelta(hours=60)


@pytest.mark.parametrize(
    ("state", "retrain", "reason"),
    [
        (PolicyInput(OK, AT, None, 0, 50_000, alert_days=0), False, "no breach"),
        (PolicyInput(WARN, AT, None, 0, 50_000, alert_days=0), False, "hysteresis"),
        (PolicyInput(ALERT, AT, None, 0, 50_000, alert_days=2), True, "alert on 2 of the last 3"),
        (
            PolicyInput(ALERT, AT, AT - dt.timedelta(hours=5), 0, 50_000, alert_days=2),
            False,
            "cooldown: last retrain 5.0 h ago",
        ),
        (
            PolicyInput(ALERT, AT, AT - dt.timedelta(hours=26), 0, 50_000, alert_days=2),
            False,
            "cooldown: last retrain 1 day(s) ago",
        ),
        (PolicyInput(ALERT, AT, LONG_AGO, 0, 50_000, alert_days=2), True, "alert on 2"),
        (
            PolicyInput(ALERT, AT, LONG_AGO, 1, 50_000, alert_days=2),
            False,
            "daily budget spent",
        ),
        (
            PolicyInput(ALERT, AT, None, 0, 50_000, alert_days=1),
            False,
            "persistence: 1 of the last 3 days at alert, policy needs 2",
        ),
        (
            PolicyInput(ALERT, AT, None, 0, 4_999, alert_days=3),
            False,
            "not enough new labelled data: 4999 rows",
        ),
        (
            PolicyInput(ALERT, AT, None, 0, 9_000, alert_days=3, in_holdout=7_000),
            False,
            "leaving 2000 for training",
        ),
    ],
)
def test_policy_decision_table(state: PolicyInput, retrain: bool, reason: str) -> None:
    decision = decide(POLICY, state)
    assert isinstance(decision, Decision)
    assert decision.retrain is retrain
    assert reason in decision.reason and decision.level == state.level


def test_new_labelled_rows_count_from_the_start_of_the_breach(tmp_path) -> None:
    import json

    from mlops_core import lake
    from mlops_core.monitoring import PerformanceThresholds, _policy_state, decisions_prefix
    from mlops_core.storage import LocalStorage

    storage = LocalStorage(tmp_path)
    for day in range(8, 15):  # validated, labelled partitions of 1,000 rows each
        key = lake.working_prefix("tx", f"2026-11-{day:02d}") + lake.VALIDATED_MARKER
        storage.write_bytes(key, json.dumps({"rows": 1_000}).encode())

    def decided(day: int, level: str, retrain: bool) -> None:
        record = {
            "day": f"2026-11-{day:02d}",
            "at": f"2026-11-{day:02d}T00:00:00+00:00",
            "decision": {"level": level, "retrain": retrain, "reason": "r"},
        }
        storage.write_bytes(
            decisions_prefix("m") + f"dt=2026-11-{day:02d}.json", json.dumps(record).encode()
        )

    schema = SimpleNamespace(name="tx")
    perf = PerformanceThresholds(label_delay_days=1)
    decided(11, OK, False)
    decided(12, ALERT, False)  # the breach began on the 12th
    state = _policy_state(storage, schema, "m", dt.date(2026, 11, 13), ALERT, "2026-11-07", perf)
    assert state.new_labelled_rows == 1_000  # only the 12th: matured and inside the breach
    # Without a breach the count runs from the champion's training data.
    state = _policy_state(storage, schema, "m", dt.date(2026, 11, 13), WARN, "2026-11-07", perf)
    assert state.new_labelled_rows == 5_000  # 8th..12th
    # A retrain on the 13th resets both the breach and the count.
    decided(13, ALERT, True)
    state = _policy_state(storage, schema, "m", dt.date(2026, 11, 14), ALERT, "2026-11-07", perf)
    assert state.new_labelled_rows == 0 and state.last_retrain_at.date() == dt.date(2026, 11, 13)
    assert state.retrains_today == 0
    # The retrain's window (8th..14th, 7,000 rows) puts its newest 1,400 in the holdout.
    assert (state.window_rows, state.holdout_rows) == (7_000, 1_400)
