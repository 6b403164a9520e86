"""Synthetic card transactions with ~1% fraud: customers with accounts, habits and devices,
fraud from named rules, compromised cards that produce bursts, and graded drift.

Deterministic per (seed, date): the customer and merchant populations depend on the seed
only, so the same customers shop across days; each day's draws depend on (seed, date).
The same inputs give identical frames.

**Customers.** Each of ``N_CUSTOMERS`` slots holds one account at a time, with a home
country, a phone (iOS or Android) and a shopping rate. Accounts close and are replaced by a
new customer (a new ``customer_id``) after a per-slot lifetime, so the tenure mix is the same
on every day and about ``YOUNG_ACCOUNT_SHARE`` of transactions come from accounts younger
than ``YOUNG_ACCOUNT_DAYS``.

**Fraud, two ways** (about 1% of rows together):

- *Rules* (:data:`FRAUD_RULES`): any transaction is fraudulent with probability
  ``sigmoid(BASE_LOGIT + sum of the weights of the rules it meets)``. Each rule is named and
  documented, and ``generate_transactions(rules={"young_account": 0.0})`` switches one off,
  so each rule's contribution can be measured (``rule_hits`` recomputes them from a frame).
- *Compromised cards* (:data:`BURST`): a few customers a day lose their card details; the
  fraudster then makes a burst of several transactions minutes apart, mostly card-not-present
  from a new device, often from another country, in risky categories (a small card test
  first, then large amounts). Every row of a burst is fraud, so fraud is not independent per
  row: it comes in per-customer sequences (``burst_flags`` finds them in a frame).

**Drift** (``drift``: a float strength, or a level name from :data:`DRIFT_LEVELS`): a share
``0.4 * drift`` of legitimate rows moves to electronics/travel, log-amounts rise by
``0.6 * drift``, and a new fraud pattern appears (domestic mobile fraud on groceries, logit
``+2.2 * drift``) that a model trained before it has never seen. The named levels and the PSI
they give a 5,000-row day against a 35,000-row reference week (what monitoring compares),
means of 7 days of 2026-11 with seed 7:

=========  ========  ======  =================  ==============  ==========
level      strength  amount  merchant_category  other features  fraud rate
=========  ========  ======  =================  ==============  ==========
none       0         0.002   0.002              <= 0.002        1.1%
small      0.15      0.04    0.03               <= 0.002        1.3%
medium     0.35      0.17    0.13               <= 0.002        1.6%
large      0.6       0.44    0.31               <= 0.002        2.0%
(demo)     1.0       1.10    0.74               <= 0.002        2.9%
=========  ========  ======  =================  ==============  ==========

The other features (``country``, ``channel``, ``device``, ``customer_tenure_days``) do not
move; 0.002 is the sampling noise at these sizes. By the usual reading of PSI (< 0.1 none,
0.1-0.25 moderate, > 0.25 significant), small stays below monitoring's warn level, medium
lies between warn (0.1) and alert (0.25), large is beyond alert. The demo's ``drift=1.0`` is
beyond large.

**Labels arrive late**: ``label_available_at`` is when each row's label became final (frauds
by chargeback, days later; see ``label_delays``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
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
_LOG_AMOUNT_SD = 0.8
RISKY_CATEGORIES = ("electronics", "gift_cards", "travel")
_RISKY_IDX = np.flatnonzero(np.isin(CATEGORIES, RISKY_CATEGORIES))
COUNTRIES = np.array(["US", "GB", "DE", "FR", "ES", "NL", "BR", "NG", "IN", "CN"])
_HOME_WEIGHTS = np.array([0.45, 0.15, 0.12, 0.1, 0.08, 0.05, 0.02, 0.01, 0.01, 0.01])
CHANNELS = np.array(["pos", "online", "atm", "mobile"])
_CHANNEL_WEIGHTS = np.array([0.5, 0.3, 0.05, 0.15])
DEVICES = np.array(
    ["chip_card", "contactless", "web_browser", "ios_app", "android_app", "new_device"]
)
_CHIP, _CONTACTLESS, _WEB, _IOS, _ANDROID, _NEW_DEVICE = range(6)
_ONLINE, _MOBILE = 1, 3

N_CUSTOMERS = 20_000
N_MERCHANTS = 2_000
YOUNG_ACCOUNT_DAYS = 60
# Account lifetimes: at least a year, mean ~3 years; a slot's account is replaced when it ends.
_MIN_LIFETIME_DAYS = 365
_EPOCH = dt.date(2020, 1, 1).toordinal()


@dataclass(frozen=True)
class FraudRule:
    """One named component of the per-transaction fraud logit: ``weight`` is added when the
    rule holds (for ``amount_vs_category``: per standard deviation of the log-amount above
    the category's mean, clipped to [-1, 3])."""

    name: str
    weight: float
    description: str


BASE_LOGIT = -8.4
FRAUD_RULES: tuple[FraudRule, ...] = (
    FraudRule(
        "amount_vs_category",
        1.6,
        "the amount is large for the merchant category (z of the log-amount, clipped [-1, 3])",
    ),
    FraudRule("foreign_country", 2.4, "the transaction is outside the customer's home country"),
    FraudRule("card_not_present", 1.6, "online (web) payment; mobile wallets are tokenised"),
    FraudRule("night", 1.6, "between 23:00 and 06:00 UTC"),
    FraudRule("new_device", 2.6, "a device the customer has not used before"),
    FraudRule("risky_category", 1.5, f"merchant category in {', '.join(RISKY_CATEGORIES)}"),
    FraudRule(
        "young_account",
        1.5,
        f"the account is younger than {YOUNG_ACCOUNT_DAYS} days (new-account fraud)",
    ),
)
RULE_WEIGHTS: dict[str, float] = {r.name: r.weight for r in FRAUD_RULES}


@dataclass(frozen=True)
class BurstPattern:
    """Compromised cards: ``cards_per_row`` compromised cards per generated row (Poisson per
    day), each a burst of ``2 + Poisson(extra_mean)`` fraudulent transactions with
    exponential gaps of mean ``gap_minutes``; the other fields are the shares of bursts that
    are card-not-present (online or mobile), from a new device (of the card-not-present
    ones), abroad, in risky categories, at night, and that start with a small card test."""

    # ~7 cards a day at 5,000 rows, bursts of 3 on average (2-6): 0.45% of rows. Longer,
    # rarer bursts make a day's PR-AUC swing with a handful of cards (measured: day-to-day
    # sd 0.15 with bursts of 5, 0.095 with these).
    cards_per_row: float = 0.0015
    extra_mean: float = 1.0
    gap_minutes: float = 9.0
    card_not_present: float = 0.85
    new_device: float = 0.7
    foreign: float = 0.55
    risky_category: float = 0.6
    night: float = 0.45
    card_test: float = 0.5


BURST = BurstPattern()
# ``rules`` overrides: a rule's name -> its weight; "burst" -> a multiplier of the burst rate.
RULE_NAMES = (*RULE_WEIGHTS, "burst")

DRIFT_SMALL, DRIFT_MEDIUM, DRIFT_LARGE = 0.15, 0.35, 0.6
DRIFT_LEVELS: dict[str, float] = {
    "none": 0.0,
    "small": DRIFT_SMALL,
    "medium": DRIFT_MEDIUM,
    "large": DRIFT_LARGE,
}


def drift_strength(drift: float | str | None) -> float:
    """A drift strength from a float (or its text) or a level name of :data:`DRIFT_LEVELS`."""
    if drift is None:
        return 0.0
    if isinstance(drift, str) and drift.strip().lower() in DRIFT_LEVELS:
        return DRIFT_LEVELS[drift.strip().lower()]
    try:
        value = float(drift)
    except ValueError:
        raise ValueError(
            f"drift {drift!r} is neither a number nor one of {', '.join(DRIFT_LEVELS)}"
        ) from None
    if not value >= 0:
        raise ValueError(f"drift must be >= 0, got {drift!r}")
    return value


def _population(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, 0])
    lifetime = _MIN_LIFETIME_DAYS + rng.gamma(2.0, 400.0, size=N_CUSTOMERS).astype(np.int64)
    merchant_cat = rng.choice(len(CATEGORIES), size=N_MERCHANTS, p=_CATEGORY_WEIGHTS)
    return {
        "home": rng.choice(len(COUNTRIES), size=N_CUSTOMERS, p=_HOME_WEIGHTS),
        "lifetime": lifetime,
        "phase": (rng.random(N_CUSTOMERS) * lifetime).astype(np.int64),
        "phone": np.where(rng.random(N_CUSTOMERS) < 0.5, _IOS, _ANDROID),
        # How often each customer shops (a few shop a lot); bursts pick cards the same way.
        "activity": rng.gamma(1.5, 1.0, size=N_CUSTOMERS),
        "merchant_cat": merchant_cat,
        "merchants_by_cat": [np.flatnonzero(merchant_cat == c) for c in range(len(CATEGORIES))],
    }


def _accounts(pop: dict[str, np.ndarray], day: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """(tenure in days, account number of the slot) of every slot's current account."""
    age = day.toordinal() - _EPOCH + pop["phase"]
    return age % pop["lifetime"], age // pop["lifetime"]


def generate_transactions(
    day: dt.date,
    *,
    seed: int = 7,
    n_rows: int = 5_000,
    drift: float | str = 0.0,
    rules: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Make one day of labelled transactions.

    Args:
        day: the partition date; all timestamps fall inside it (UTC).
        seed: population and draw seed.
        n_rows: number of transactions.
        drift: 0 for the reference behaviour; a strength > 0 (or ``"small"``, ``"medium"``,
            ``"large"``) shifts the category mix towards electronics/travel, inflates amounts
            and adds a fraud pattern (see the module docstring for the PSI of each level).
        rules: overrides of :data:`FRAUD_RULES` weights by name (0 switches a rule off) and
            ``"burst"``: a multiplier of the compromised-card rate (0: no bursts).

    Returns:
        A frame with the columns of the bundled ``fraud`` schema, in time order.
    """
    strength = drift_strength(drift)
    weights = {**RULE_WEIGHTS, "burst": 1.0}
    unknown = set(rules or {}) - set(weights)
    if unknown:
        raise ValueError(f"unknown fraud rules {sorted(unknown)}; known: {', '.join(RULE_NAMES)}")
    weights.update(rules or {})
    pop = _population(seed)
    rng = np.random.default_rng([seed, day.toordinal()])
    tenure_by_slot, account_by_slot = _accounts(pop, day)
    shop_p = pop["activity"] / pop["activity"].sum()

    bursts = _bursts(rng, pop, shop_p, n_rows, weights["burst"])
    n_legit = n_rows - len(bursts["slot"])
    legit = _legit(rng, pop, shop_p, n_legit, strength)

    cols = {k: np.concatenate([legit[k], bursts[k]]) for k in legit}
    slot, cat_idx, seconds = cols["slot"], cols["cat_idx"], cols["seconds"]
    home = pop["home"][slot]
    tenure = tenure_by_slot[slot]
    hits = _rule_indicators(
        z_amount=(cols["log_amount"] - _CATEGORY_MEAN_LOG_AMOUNT[cat_idx]) / _LOG_AMOUNT_SD,
        foreign=cols["country_idx"] != home,
        channel=cols["channel"],
        night=_is_night(seconds // 3600),
        device=cols["device"],
        cat_idx=cat_idx,
        tenure=tenure,
    )
    logit = BASE_LOGIT + sum(weights[name] * hit for name, hit in hits.items())
    if strength > 0:
        # The fraud pattern moves: domestic mobile fraud on groceries the model never saw.
        logit = logit + strength * 2.2 * ((cols["channel"] == _MOBILE) & (cat_idx == 0))
    by_rule = rng.random(len(slot)) < 1.0 / (1.0 + np.exp(-logit))
    in_burst = np.arange(len(slot)) >= n_legit
    is_fraud = (by_rule | in_burst).astype(np.int64)
    amount = np.round(np.clip(np.exp(cols["log_amount"]), 0.5, 50_000), 2)
    # Rule-driven fraudsters push larger amounts than the category usually sees.
    inflate = by_rule & ~in_burst
    amount = np.where(inflate, np.round(amount * rng.uniform(1.0, 2.5, len(slot)), 2), amount)

    order = np.argsort(seconds, kind="stable")
    start = pd.Timestamp(day, tz="UTC")
    account = account_by_slot[slot]
    frame = pd.DataFrame(
        {
            "transaction_id": [f"tx-{day:%Y%m%d}-{i:07d}" for i in range(n_rows)],
            "timestamp": start + pd.to_timedelta(seconds[order], unit="s"),
            "customer_id": [
                f"c{s:06d}-{a % 100:02d}" for s, a in zip(slot[order], account[order], strict=True)
            ],
            "merchant_id": [f"m{m:05d}" for m in cols["merchant"][order]],
            "merchant_category": CATEGORIES[cat_idx[order]],
            "country": COUNTRIES[cols["country_idx"][order]],
            "channel": CHANNELS[cols["channel"][order]],
            "device": DEVICES[cols["device"][order]],
            "amount": amount[order],
            "customer_tenure_days": tenure[order].astype(np.int64),
            "is_fraud": is_fraud[order],
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


def _is_night(hour: np.ndarray) -> np.ndarray:
    return (hour < 6) | (hour >= 23)


def _rule_indicators(
    *,
    z_amount: np.ndarray,
    foreign: np.ndarray,
    channel: np.ndarray,
    night: np.ndarray,
    device: np.ndarray,
    cat_idx: np.ndarray,
    tenure: np.ndarray,
) -> dict[str, np.ndarray]:
    """Each rule of :data:`FRAUD_RULES` as the multiplier of its weight (0/1, or the clipped
    z for the amount)."""
    return {
        "amount_vs_category": np.clip(z_amount, -1, 3),
        "foreign_country": foreign.astype(float),
        "card_not_present": (channel == _ONLINE).astype(float),
        "night": night.astype(float),
        "new_device": (device == _NEW_DEVICE).astype(float),
        "risky_category": np.isin(cat_idx, _RISKY_IDX).astype(float),
        "young_account": (tenure < YOUNG_ACCOUNT_DAYS).astype(float),
    }


def _legit(
    rng: np.random.Generator,
    pop: dict[str, Any],
    shop_p: np.ndarray,
    n: int,
    strength: float,
) -> dict[str, np.ndarray]:
    """Customers' own transactions (the fraud rules may still make some of them fraud)."""
    slot = rng.choice(N_CUSTOMERS, size=n, p=shop_p)
    merchant = rng.integers(0, N_MERCHANTS, size=n)
    cat_idx = pop["merchant_cat"][merchant]
    if strength > 0:
        shifted = rng.random(n) < 0.4 * strength
        cat_idx = np.where(shifted, rng.choice([4, 6], size=n), cat_idx)
    # Busier in the day, quieter at night; seconds within the UTC day.
    hour = rng.choice(24, size=n, p=_hour_weights())
    seconds = hour * 3600 + rng.integers(0, 3600, size=n)
    foreign = rng.random(n) < 0.06
    country_idx = np.where(foreign, rng.integers(0, len(COUNTRIES), size=n), pop["home"][slot])
    channel = rng.choice(len(CHANNELS), size=n, p=_CHANNEL_WEIGHTS)
    device = _device_for_channel(rng, channel, pop["phone"][slot])
    log_amount = _CATEGORY_MEAN_LOG_AMOUNT[cat_idx] + rng.normal(0, _LOG_AMOUNT_SD, size=n)
    if strength > 0:
        log_amount += 0.6 * strength
    return {
        "slot": slot,
        "merchant": merchant,
        "cat_idx": cat_idx,
        "seconds": seconds,
        "country_idx": country_idx,
        "channel": channel,
        "device": device,
        "log_amount": log_amount,
    }


def _bursts(
    rng: np.random.Generator,
    pop: dict[str, Any],
    shop_p: np.ndarray,
    n_rows: int,
    rate: float,
) -> dict[str, np.ndarray]:
    """The day's compromised cards and their bursts (at most half the day's rows)."""
    b = BURST
    cards = rng.poisson(b.cards_per_row * rate * n_rows) if rate > 0 else 0
    lengths = 2 + rng.poisson(b.extra_mean, size=cards)
    lengths = lengths[np.cumsum(lengths) <= n_rows // 2]
    cards = len(lengths)
    # Per burst: who, when, how (card-not-present, device, where, what).
    slot = rng.choice(N_CUSTOMERS, size=cards, p=shop_p)
    night = rng.random(cards) < b.night
    start_hour = np.where(
        night,
        rng.choice([23, 0, 1, 2, 3, 4, 5], size=cards),
        rng.choice(24, size=cards, p=_hour_weights()),
    )
    start = start_hour * 3600 + rng.integers(0, 3600, size=cards)
    cnp = rng.random(cards) < b.card_not_present
    channel = np.where(cnp, np.where(rng.random(cards) < 0.8, _ONLINE, _MOBILE), 0)
    new_device = cnp & (rng.random(cards) < b.new_device)
    device = np.where(
        new_device,
        _NEW_DEVICE,
        np.where(channel == _ONLINE, _WEB, np.where(channel == _MOBILE, pop["phone"][slot], _CHIP)),
    )
    home = pop["home"][slot]
    abroad = rng.random(cards) < b.foreign
    elsewhere = (home + rng.integers(1, len(COUNTRIES), size=cards)) % len(COUNTRIES)
    country_idx = np.where(abroad, elsewhere, home)
    risky = rng.random(cards) < b.risky_category
    card_test = rng.random(cards) < b.card_test

    # Per transaction: the burst's attributes, its own merchant and amount, minutes apart.
    n = int(lengths.sum())
    starts = np.cumsum(lengths) - lengths
    first = np.zeros(n, dtype=bool)
    first[starts] = True
    gaps = np.where(first, 0.0, rng.exponential(b.gap_minutes * 60, size=n))
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[starts], lengths)
    # A burst that would run past midnight starts earlier: every timestamp stays in the day.
    span = np.repeat(np.maximum.reduceat(offset, starts), lengths) if n else offset
    seconds = np.minimum(np.repeat(start, lengths), 86_399 - span) + offset
    seconds = np.clip(seconds, 0, 86_399).astype(np.int64)
    cat_idx = np.where(
        np.repeat(risky, lengths),
        rng.choice(_RISKY_IDX, size=n),
        rng.choice(len(CATEGORIES), size=n, p=_CATEGORY_WEIGHTS),
    )
    by_cat = pop["merchants_by_cat"]
    pick = rng.random(n)
    merchant = np.array(
        [by_cat[c][int(u * len(by_cat[c]))] for c, u in zip(cat_idx, pick, strict=True)],
        dtype=np.int64,
    )
    log_amount = _CATEGORY_MEAN_LOG_AMOUNT[cat_idx] + rng.normal(0.6, 0.6, size=n)
    test = first & np.repeat(card_test, lengths)
    log_amount = np.where(test, np.log(rng.uniform(0.5, 5.0, size=n)), log_amount)
    return {
        "slot": np.repeat(slot, lengths),
        "merchant": merchant,
        "cat_idx": cat_idx,
        "seconds": seconds,
        "country_idx": np.repeat(country_idx, lengths),
        "channel": np.repeat(channel, lengths),
        "device": np.repeat(device, lengths),
        "log_amount": log_amount,
    }


def rule_hits(frame: pd.DataFrame, *, seed: int = 7) -> pd.DataFrame:
    """Which of :data:`FRAUD_RULES` each row of a frame generated with ``seed`` meets
    (booleans; the amount rule: more than one standard deviation above the category's mean
    log-amount). The customer's home country comes from the seed's population."""
    cat_idx = pd.Series(range(len(CATEGORIES)), index=CATEGORIES)[frame["merchant_category"]]
    log_amount = np.log(frame["amount"].to_numpy())
    z = (log_amount - _CATEGORY_MEAN_LOG_AMOUNT[cat_idx.to_numpy()]) / _LOG_AMOUNT_SD
    slot = frame["customer_id"].str.slice(1, 7).astype(int).to_numpy()
    home = COUNTRIES[_population(seed)["home"][slot]]
    return pd.DataFrame(
        {
            "amount_vs_category": z > 1.0,
            "foreign_country": frame["country"].to_numpy() != home,
            "card_not_present": frame["channel"].to_numpy() == "online",
            "night": _is_night(frame["timestamp"].dt.hour.to_numpy()),
            "new_device": frame["device"].to_numpy() == "new_device",
            "risky_category": frame["merchant_category"].isin(RISKY_CATEGORIES).to_numpy(),
            "young_account": frame["customer_tenure_days"].to_numpy() < YOUNG_ACCOUNT_DAYS,
        },
        index=frame.index,
    )


def burst_flags(frame: pd.DataFrame, *, within: str = "1h", min_count: int = 3) -> pd.Series:
    """True for rows whose customer made at least ``min_count`` transactions within
    ``within`` around them (the shape a compromised card leaves in a day)."""
    ordered = frame.sort_values(["customer_id", "timestamp"])
    ts = ordered["timestamp"]
    window = pd.Timedelta(within)
    same = ordered["customer_id"]
    flags = np.zeros(len(ordered), dtype=bool)
    values, customers, k = ts.to_numpy(), same.to_numpy(), min_count - 1
    # Row i and the row k later belong to one customer and are within the window: rows
    # i..i+k are a burst.
    close = (customers[k:] == customers[:-k]) & (values[k:] - values[:-k] <= window)
    for j in range(k + 1):
        flags[j : len(flags) - k + j] |= close
    return pd.Series(flags, index=ordered.index).reindex(frame.index)


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


def _device_for_channel(
    rng: np.random.Generator, channel: np.ndarray, phone: np.ndarray
) -> np.ndarray:
    """A customer's usual device for the channel: a card at the till, a browser or the app of
    their own phone online and on mobile; occasionally a device they never used before."""
    n = len(channel)
    device = np.empty(n, dtype=np.int64)
    pos = channel == 0
    device[pos] = rng.choice([_CHIP, _CONTACTLESS], size=pos.sum(), p=[0.45, 0.55])
    online = channel == _ONLINE
    device[online] = rng.choice([_WEB, -1, _NEW_DEVICE], size=online.sum(), p=[0.55, 0.4, 0.05])
    device[channel == 2] = _CHIP
    mobile = channel == _MOBILE
    device[mobile] = rng.choice([-1, _NEW_DEVICE], size=mobile.sum(), p=[0.96, 0.04])
    own_phone = device == -1
    device[own_phone] = phone[own_phone]
    return device


def land_sample_partition(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    seed: int = 7,
    rows: int = 5_000,
    fmt: str = "csv",
    drift: float | str = 0.0,
) -> dict[str, Any]:
    """Generate a day of synthetic card transactions into the landing zone, then
    ``_SUCCESS`` (the fraud demo's producer for tests and benches; specs use
    ``generators.land_sample``)."""
    from mlops_core.generators import land_frame

    frame = generate_transactions(day, seed=seed, n_rows=rows, drift=drift)
    key = land_frame(storage, schema, day, frame, fmt=fmt)
    return {"key": key, "rows": len(frame), "fraud_rate": float(frame[schema.label_column].mean())}
