"""Synthetic card transactions with ~1% fraud and plausible fraud patterns.

Deterministic per (seed, date): the customer and merchant populations depend on the seed
only, so the same customers shop across days; each day's draws depend on (seed, date).
Fraud is more likely for large amounts relative to the merchant category, foreign
countries, card-not-present channels, night hours, new devices and young accounts.
Labels arrive late: ``label_available_at`` is when each row's label became final (frauds
by chargeback, days later; see ``label_delays``).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mlops_core.schema import DatasetSchema
    from mlops_core.storage import Storage

CATEGORIES = np.array(
    [
        "grocery",
        "restaurants",
        "fuel",
        "retail",
        "electronics",
        "gift_cards",
        "travel",
        "entertainment",
        "health",
        "utilities",
    ]
)
_CATEGORY_WEIGHTS = np.array([0.24, 0.16, 0.10, 0.16, 0.06, 0.02, 0.05, 0.08, 0.07, 0.06])
_CATEGORY_MEAN_LOG_AMOUNT = np.array([3.4, 3.3, 3.6, 3.9, 5.2, 4.2, 5.8, 3.7, 4.0, 4.3])
_RISKY_CATEGORIES = {"electronics", "gift_cards", "travel"}
COUNTRIES = np.array(["US", "GB", "DE", "FR", "ES", "NL", "BR", "NG", "IN", "CN"])
_HOME_WEIGHTS = np.array([0.45, 0.15, 0.12, 0.1, 0.08, 0.05, 0.02, 0.01, 0.01, 0.01])
CHANNELS = np.array(["pos", "online", "atm", "mobile"])
DEVICES = np.array(
    ["chip_card", "contactless", "web_browser", "ios_app", "android_app", "new_device"]
)

N_CUSTOMERS = 20_000
N_MERCHANTS = 2_000


def _population(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 0])
    return {
        "home": rng.choice(len(COUNTRIES), size=N_CUSTOMERS, p=_HOME_WEIGHTS),
        "tenure": rng.gamma(2.0, 600.0, size=N_CUSTOMERS).astype(np.int64),
        "merchant_cat": rng.choice(len(CATEGORIES), size=N_MERCHANTS, p=_CATEGORY_WEIGHTS),
    }


def generate_transactions(
    day: dt.date, *, seed: int = 7, n_rows: int = 5_000, drift: float = 0.0
) -> pd.DataFrame:
    """Make one day of labelled transactions.

    Args:
        day: the partition date; all timestamps fall inside it (UTC).
        seed: population and draw seed.
        n_rows: number of transactions.
        drift: 0 for the reference behaviour; >0 shifts the category mix towards
            electronics/travel, inflates amounts and changes the fraud pattern.

    Returns:
        A frame with the columns of the bundled ``fraud`` schema.
    """
    pop = _population(seed)
    rng = np.random.default_rng([seed, day.toordinal()])

    customer = rng.integers(0, N_CUSTOMERS, size=n_rows)
    merchant = rng.integers(0, N_MERCHANTS, size=n_rows)
    cat_idx = pop["merchant_cat"][merchant]
    if drift > 0:
        shifted = rng.random(n_rows) < 0.4 * drift
        cat_idx = np.where(shifted, rng.choice([4, 6], size=n_rows), cat_idx)
    category = CATEGORIES[cat_idx]

    # Busier in the day, quieter at night; seconds within the UTC day.
    hour = rng.choice(24, size=n_rows, p=_hour_weights())
    seconds = hour * 3600 + rng.integers(0, 3600, size=n_rows)
    start = pd.Timestamp(day, tz="UTC")
    timestamp = start + pd.to_timedelta(np.sort(seconds), unit="s")
    hour = np.sort(seconds) // 3600

    foreign = rng.random(n_rows) < 0.06
    home = pop["home"][customer]
    country_idx = np.where(foreign, rng.integers(0, len(COUNTRIES), size=n_rows), home)
    channel = rng.choice(len(CHANNELS), size=n_rows, p=[0.5, 0.3, 0.05, 0.15])
    device = _device_for_channel(rng, channel)
    tenure = pop["tenure"][customer] + (day.toordinal() - 738_000) // 30
    tenure = np.clip(tenure, 0, 20_000)

    log_amount = _CATEGORY_MEAN_LOG_AMOUNT[cat_idx] + rng.normal(0, 0.8, size=n_rows)
    if drift > 0:
        log_amount += 0.6 * drift
    amount = np.round(np.clip(np.exp(log_amount), 0.5, 50_000), 2)

    z_amount = (log_amount - _CATEGORY_MEAN_LOG_AMOUNT[cat_idx]) / 0.8
    risky = np.isin(category, list(_RISKY_CATEGORIES))
    night = (hour < 6) | (hour >= 23)
    logit = (
        -7.9
        + 1.6 * np.clip(z_amount, -1, 3)
        + 2.4 * (country_idx != home)
        + 1.6 * (CHANNELS[channel] == "online")
        + 1.6 * night
        + 2.6 * (DEVICES[device] == "new_device")
        + 1.5 * risky
        + 1.5 * (tenure < 60)
    )
    if drift > 0:
        # The fraud pattern moves: domestic mobile fraud on groceries the model never saw.
        logit += drift * 2.2 * ((CHANNELS[channel] == "mobile") & (cat_idx == 0))
    is_fraud = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    # Fraudsters test cards with bursts of larger amounts.
    amount = np.where(is_fraud == 1, np.round(amount * rng.uniform(1.0, 2.5, n_rows), 2), amount)

    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{day:%Y%m%d}-{i:07d}" for i in range(n_rows)],
            "timestamp": timestamp,
            "customer_id": [f"c{c:06d}" for c in customer],
            "merchant_id": [f"m{m:05d}" for m in merchant],
            "merchant_category": category,
            "country": COUNTRIES[country_idx],
            "channel": CHANNELS[channel],
            "device": DEVICES[device],
            "amount": amount,
            "customer_tenure_days": tenure.astype(np.int64),
            "is_fraud": is_fraud,
        }
    )
    return add_label_arrival(frame, day, seed=seed)


# Label delays in days (lognormal: right-skewed, median exp(mu)). A fraud is confirmed by a
# chargeback: median ~2 days, a long tail (99th percentile ~26 days), capped at 30 days (the
# card schemes' usual dispute window). A legitimate transaction is confirmed when its review
# closes: median ~0.75 day, rarely beyond 3.
FRAUD_DELAY = (np.log(2.0), 1.1)
LEGIT_DELAY = (np.log(0.75), 0.5)
MAX_LABEL_DELAY_DAYS = 30.0
LABEL_TIME_COLUMN = "label_available_at"


def label_delays(is_fraud: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Days from each transaction until its label is final, by class (see FRAUD_DELAY)."""
    fraud = np.asarray(is_fraud) == 1
    mu = np.where(fraud, FRAUD_DELAY[0], LEGIT_DELAY[0])
    sigma = np.where(fraud, FRAUD_DELAY[1], LEGIT_DELAY[1])
    return np.minimum(np.exp(rng.normal(mu, sigma)), MAX_LABEL_DELAY_DAYS)


def add_label_arrival(frame: pd.DataFrame, day: dt.date, *, seed: int = 7) -> pd.DataFrame:
    """``frame`` with ``label_available_at``: when each row's ``is_fraud`` became final
    (its timestamp plus a class-dependent delay, ``label_delays``). Drawn from its own
    stream of (seed, day), so it leaves every other column's draws unchanged."""
    rng = np.random.default_rng([seed, day.toordinal(), 1])
    delay = label_delays(frame["is_fraud"].to_numpy(), rng)
    arrival = frame["timestamp"] + pd.to_timedelta(np.round(delay * 86_400), unit="s")
    return frame.assign(**{LABEL_TIME_COLUMN: arrival})


def _hour_weights() -> np.ndarray:
    w = np.array(
        [
            1,
            0.6,
            0.4,
            0.3,
            0.3,
            0.5,
            1.2,
            2.5,
            3.5,
            4,
            4.2,
            4.5,
            5,
            4.8,
            4.5,
            4.4,
            4.6,
            5,
            5.2,
            4.8,
            4,
            3.2,
            2.4,
            1.6,
        ]
    )
    return w / w.sum()


def _device_for_channel(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    n = len(channel)
    device = np.empty(n, dtype=np.int64)
    pos = channel == 0
    device[pos] = rng.choice([0, 1], size=pos.sum(), p=[0.45, 0.55])
    online = channel == 1
    device[online] = rng.choice([2, 3, 4, 5], size=online.sum(), p=[0.55, 0.2, 0.2, 0.05])
    atm = channel == 2
    device[atm] = 0
    mobile = channel == 3
    device[mobile] = rng.choice([3, 4, 5], size=mobile.sum(), p=[0.48, 0.48, 0.04])
    return device


def land_sample_partition(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    seed: int = 7,
    rows: int = 5_000,
    fmt: str = "csv",
    drift: float = 0.0,
) -> dict[str, Any]:
    """Generate a day of synthetic card transactions into the landing zone, then
    ``_SUCCESS`` (the fraud demo's producer for tests and benches; specs use
    ``generators.land_sample``)."""
    from mlops_core.generators import land_frame

    frame = generate_transactions(day, seed=seed, n_rows=rows, drift=drift)
    key = land_frame(storage, schema, day, frame, fmt=fmt)
    return {"key": key, "rows": len(frame), "fraud_rate": float(frame[schema.label_column].mean())}
