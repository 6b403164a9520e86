"""The synthetic transactions are deterministic and carry the intended fraud patterns: named
rules that can be switched off, compromised cards with bursts, graded drift."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mlops_core.drift import DriftThresholds, feature_drift
from mlops_core.sample_data import (
    DRIFT_LARGE,
    DRIFT_LEVELS,
    DRIFT_MEDIUM,
    DRIFT_SMALL,
    FRAUD_RULES,
    YOUNG_ACCOUNT_DAYS,
    burst_flags,
    drift_strength,
    generate_transactions,
    rule_hits,
)
from mlops_core.schema import load_schema

DAY = dt.date(2026, 11, 3)


def test_deterministic_per_seed_and_date() -> None:
    pd.testing.assert_frame_equal(
        generate_transactions(DAY, n_rows=500), generate_transactions(DAY, n_rows=500)
    )
    other_day = generate_transactions(DAY + dt.timedelta(days=1), n_rows=500)
    assert not other_day["amount"].equals(generate_transactions(DAY, n_rows=500)["amount"])
    assert not generate_transactions(DAY, n_rows=500, seed=8)["amount"].equals(
        generate_transactions(DAY, n_rows=500)["amount"]
    )


def test_shape_matches_the_bundled_schema() -> None:
    frame = generate_transactions(DAY, n_rows=2_000)
    schema = load_schema("fraud")
    assert set(schema.required_columns(with_label=True)) == set(frame.columns)
    assert frame["transaction_id"].is_unique
    start = pd.Timestamp(DAY, tz="UTC")
    assert frame["timestamp"].between(start, start + pd.Timedelta(days=1), inclusive="left").all()
    assert (frame["amount"] > 0).all()


def test_fraud_rate_and_patterns() -> None:
    frame = pd.concat(
        [generate_transactions(DAY + dt.timedelta(days=i), n_rows=25_000) for i in range(2)]
    )
    rate = frame["is_fraud"].mean()
    assert 0.003 < rate < 0.02
    new_device = frame.loc[frame["device"] == "new_device", "is_fraud"].mean()
    assert new_device > 4 * frame.loc[frame["device"] != "new_device", "is_fraud"].mean()
    online = frame.loc[frame["channel"] == "online", "is_fraud"].mean()
    assert online > 2 * frame.loc[frame["channel"] == "pos", "is_fraud"].mean()
    # Fraud amounts are larger than legitimate ones within the same category.
    fraud_med = frame[frame.is_fraud == 1].groupby("merchant_category")["amount"].median()
    legit_med = frame[frame.is_fraud == 0].groupby("merchant_category")["amount"].median()
    assert (fraud_med > legit_med.loc[fraud_med.index]).mean() > 0.7


def test_drift_changes_the_category_mix() -> None:
    base = generate_transactions(DAY, n_rows=20_000)["merchant_category"].value_counts(
        normalize=True
    )
    drifted = generate_transactions(DAY, n_rows=20_000, drift=1.0)[
        "merchant_category"
    ].value_counts(normalize=True)
    assert drifted["electronics"] > base["electronics"] + 0.1


# ------------------------------------------------------- named fraud rules and bursts


@pytest.fixture(scope="module")
def without_bursts() -> pd.DataFrame:
    return _days(rules={"burst": 0.0})


def _days(n: int = 2, rows: int = 50_000, **kwargs) -> pd.DataFrame:
    return pd.concat(
        [
            generate_transactions(DAY + dt.timedelta(days=i), n_rows=rows, **kwargs)
            for i in range(n)
        ],
        ignore_index=True,
    )


def test_young_accounts_exist_and_commit_more_fraud() -> None:
    """The young-account rule fires: the tenure mix has new accounts every day (accounts are
    replaced when they close), and they are several times as fraudulent."""
    frame = _days()
    young = frame["customer_tenure_days"] < YOUNG_ACCOUNT_DAYS
    assert 0.02 < young.mean() < 0.12
    assert frame.loc[young, "is_fraud"].mean() > 2 * frame.loc[~young, "is_fraud"].mean()
    # The mix does not age: the same share of young accounts a year later.
    later = generate_transactions(DAY + dt.timedelta(days=365), n_rows=50_000)
    assert abs((later["customer_tenure_days"] < YOUNG_ACCOUNT_DAYS).mean() - young.mean()) < 0.01


@pytest.mark.parametrize("rule", [r.name for r in FRAUD_RULES])
def test_each_rule_contributes_and_can_be_switched_off(rule, without_bursts) -> None:
    """Without bursts, fraud is the rules' logit: rows meeting a rule are more fraudulent than
    the rest, and switching the rule off removes most of the fraud among them."""
    hits = rule_hits(without_bursts)[rule]
    fraud = without_bursts["is_fraud"]
    assert fraud[hits].mean() > 2.5 * fraud[~hits].mean()
    off = _days(rules={"burst": 0.0, rule: 0.0})
    off_hits = rule_hits(off)[rule]
    assert fraud[hits].sum() > 2 * off["is_fraud"][off_hits].sum()


def test_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fraud rules"):
        generate_transactions(DAY, n_rows=10, rules={"moon_phase": 1.0})


def test_compromised_cards_make_bursts_of_fraud() -> None:
    """Fraud is not independent per row: a compromised card's frauds come minutes apart from
    one customer, mostly card-not-present from a new device; without bursts those sequences
    are gone and the prevalence falls to the rules' share. (At the demo's 5,000 rows a day:
    at ten times that, heavy shoppers make three purchases within an hour too.)"""
    frame = _days(n=20, rows=5_000)
    fraud = frame[frame["is_fraud"] == 1].sort_values(["customer_id", "timestamp"])
    per_customer = fraud.groupby("customer_id")["timestamp"].agg(["count", "min", "max"])
    bursts = per_customer[(per_customer["count"] >= 3)]
    assert len(bursts) >= 10
    assert ((bursts["max"] - bursts["min"]) < pd.Timedelta(hours=3)).mean() > 0.8
    in_burst = frame["customer_id"].isin(bursts.index) & (frame["is_fraud"] == 1)
    assert (frame.loc[in_burst, "channel"] != "pos").mean() > 0.7
    assert (frame.loc[in_burst, "device"] == "new_device").mean() > 0.4
    flagged = burst_flags(frame)
    assert frame.loc[flagged, "is_fraud"].mean() > 8 * frame.loc[~flagged, "is_fraud"].mean()
    quiet = _days(n=20, rows=5_000, rules={"burst": 0.0})
    assert quiet["is_fraud"].mean() < 0.8 * frame["is_fraud"].mean()
    assert quiet.loc[burst_flags(quiet), "is_fraud"].mean() < 0.05


def test_bursts_stay_inside_the_day() -> None:
    for offset in range(5):
        frame = generate_transactions(DAY + dt.timedelta(days=offset), n_rows=20_000)
        start = pd.Timestamp(DAY + dt.timedelta(days=offset), tz="UTC")
        assert frame["timestamp"].between(start, start + pd.Timedelta(days=1), "left").all()
        assert frame["timestamp"].is_monotonic_increasing
        assert len(frame) == 20_000 and frame["transaction_id"].is_unique


def test_same_inputs_give_identical_bytes() -> None:
    a = generate_transactions(DAY, n_rows=3_000, drift="medium").to_csv(index=False)
    b = generate_transactions(DAY, n_rows=3_000, drift=DRIFT_MEDIUM).to_csv(index=False)
    assert a == b
    assert generate_transactions(DAY, n_rows=3_000).to_csv(index=False) != a


# ------------------------------------------------------------------------ graded drift


def test_drift_levels_by_name_and_number() -> None:
    assert drift_strength("medium") == DRIFT_LEVELS["medium"] == DRIFT_MEDIUM
    assert drift_strength(" Large ") == DRIFT_LARGE
    assert drift_strength(0.5) == 0.5 and drift_strength("0.5") == 0.5
    assert drift_strength(None) == 0.0 == drift_strength("none")
    assert DRIFT_SMALL < DRIFT_MEDIUM < DRIFT_LARGE
    for bad in ("huge", -1.0):
        with pytest.raises(ValueError, match="drift"):
            drift_strength(bad)


def test_drift_levels_give_the_documented_psi() -> None:
    """At 5,000 rows against a 35,000-row reference week (what monitoring compares): small
    stays below the warn level (0.1), medium lies between warn and alert (0.25) on amount and
    merchant_category, large is beyond alert; the other features do not move."""
    reference = pd.concat(
        [generate_transactions(dt.date(2026, 11, d), n_rows=5_000) for d in range(1, 8)],
        ignore_index=True,
    )
    thresholds = DriftThresholds(null_draws=200)
    numeric, categorical = ["amount", "customer_tenure_days"], ["merchant_category", "country"]
    psi = {}
    for name in ("none", "small", "medium", "large"):
        day = generate_transactions(dt.date(2026, 11, 12), n_rows=5_000, drift=name)
        psi[name] = {
            f.feature: f.psi
            for f in feature_drift(
                reference, day, numeric, categorical + ["channel", "device"], thresholds
            )
        }
    moved = ("amount", "merchant_category")
    assert all(psi["none"][f] < 0.02 and psi["small"][f] < 0.1 for f in moved)
    assert all(0.1 <= psi["medium"][f] < 0.25 for f in moved)
    assert all(psi["large"][f] >= 0.25 for f in moved)
    for still in ("customer_tenure_days", "country", "channel", "device"):
        assert psi["large"][still] < 0.02
