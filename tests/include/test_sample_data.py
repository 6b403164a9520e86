"""The synthetic transactions are deterministic and carry the intended fraud patterns."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from mlops_core.sample_data import generate_transactions
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
