"""Synthetic credit-loan applications with ~10% defaults, for the loans use case.

Deterministic per (seed, date): the member population depends on the seed only, so members
come back across days; each day's draws depend on (seed, date). Defaults follow a logistic
model of the applicant's features plus unobserved noise: poorer grades, high debt-to-income,
large loans relative to income, recent delinquencies, 60-month terms, renting, small-business
loans and an unstated income raise the risk. The issue time carries no signal.

Timestamps are returned as naive local times in ``TIMEZONE``, as the producer writes them;
every one lies inside the UTC partition day once localised, and none falls in the ambiguous
hour of a daylight-saving change (it could not be localised).
"""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist

import numpy as np
import pandas as pd

TIMEZONE = "America/New_York"
PURPOSES = np.array(
    [
        "debt_consolidation",
        "credit_card",
        "home_improvement",
        "car",
        "medical",
        "small_business",
        "other",
    ]
)
_PURPOSE_WEIGHTS = np.array([0.45, 0.22, 0.08, 0.06, 0.04, 0.03, 0.12])
# Under drift the mix moves towards medical and small-business loans.
_DRIFTED_PURPOSE_WEIGHTS = np.array([0.30, 0.15, 0.06, 0.05, 0.14, 0.18, 0.12])
_PURPOSE_RISK = np.array([0.0, -0.15, -0.2, -0.1, 0.35, 0.8, 0.15])
HOME_OWNERSHIP = np.array(["RENT", "MORTGAGE", "OWN"])
_HOME_WEIGHTS = np.array([0.40, 0.48, 0.12])
GRADES = np.array(["A", "B", "C", "D", "E", "F", "G"])
_GRADE_WEIGHTS = np.array([0.18, 0.28, 0.25, 0.15, 0.08, 0.04, 0.02])
_GRADE_RATE = np.array([7.0, 10.5, 14.0, 17.5, 21.0, 25.0, 28.5])

N_MEMBERS = 200_000
INCOME_NULL_SHARE = 0.03
NEVER_DELINQUENT_SHARE = 0.55


def _population(seed: int) -> dict[str, np.ndarray]:
    """Per-member traits stable across days: income level, credit quality, housing."""
    rng = np.random.default_rng([seed, 0])
    return {
        "log_income": rng.normal(np.log(62_000), 0.5, size=N_MEMBERS),
        "quality": rng.normal(0.0, 1.0, size=N_MEMBERS),
        "home": rng.choice(len(HOME_OWNERSHIP), size=N_MEMBERS, p=_HOME_WEIGHTS),
    }


def generate_loans(
    day: dt.date, *, seed: int = 11, n_rows: int = 2_000, drift: float = 0.0
) -> pd.DataFrame:
    """Make one day of labelled loan applications.

    Args:
        day: the partition date; every ``issued_at`` falls inside it once localised to UTC.
        seed: population and draw seed.
        n_rows: number of loans.
        drift: 0 for the reference behaviour; >0 lowers incomes, raises debt-to-income and
            moves the purpose mix towards medical and small-business loans.

    Returns:
        A frame with the columns of the bundled ``loans`` schema; ``issued_at`` is naive
        local time in ``TIMEZONE``, ``outcome`` is ``"repaid"`` or ``"default"``.
    """
    pop = _population(seed)
    rng = np.random.default_rng([seed, day.toordinal()])

    member = rng.integers(0, N_MEMBERS, size=n_rows)
    quality = pop["quality"][member] + rng.normal(0.0, 0.3, size=n_rows)
    # Grade is the lender's reading of credit quality: ordered, with some misgrading.
    grade_cut = [NormalDist().inv_cdf(q) for q in np.cumsum(_GRADE_WEIGHTS)[:-1]]
    grade = np.searchsorted(grade_cut, -quality + rng.normal(0.0, 0.35, size=n_rows))
    interest = np.clip(_GRADE_RATE[grade] + rng.normal(0.0, 1.3, size=n_rows), 5.0, 31.0)

    log_income = pop["log_income"][member] + rng.normal(0.0, 0.1, size=n_rows) - 0.3 * drift
    income = np.clip(np.exp(log_income), 8_000.0, 2_000_000.0)
    dti = np.clip(rng.gamma(4.0, 4.5, size=n_rows) + 6.0 * drift - 1.5 * quality, 0.0, 60.0)
    term = np.where(rng.random(n_rows) < 0.22 + 0.05 * grade, 60, 36)
    log_amount = np.log(income) - 1.7 + rng.normal(0.0, 0.55, size=n_rows) + 0.25 * (term == 60)
    amount = np.clip(np.round(np.exp(log_amount) / 25.0) * 25.0, 500.0, 40_000.0)
    weights = (1 - min(drift, 1.0)) * _PURPOSE_WEIGHTS + min(drift, 1.0) * _DRIFTED_PURPOSE_WEIGHTS
    purpose = rng.choice(len(PURPOSES), size=n_rows, p=weights / weights.sum())
    home = pop["home"][member]
    open_accounts = np.clip(rng.poisson(10.0 + 1.5 * (home == 1), size=n_rows), 0, 60)
    never_delinquent = rng.random(n_rows) < NEVER_DELINQUENT_SHARE + 0.1 * np.tanh(quality)
    since_delinquency = np.clip(np.round(rng.exponential(45.0, size=n_rows)), 0, 180)
    income_stated = rng.random(n_rows) >= INCOME_NULL_SHARE

    recent_delinquency = ~never_delinquent & (since_delinquency < 24)
    logit = (
        -3.7
        - 0.4 * quality
        + 0.6 * (grade - 2)
        + 0.045 * (dti - 18.0)
        + 1.5 * np.clip(amount / income - 0.2, -0.2, 0.6)
        + 0.9 * recent_delinquency
        + 0.45 * (term == 60)
        + 0.3 * (HOME_OWNERSHIP[home] == "RENT")
        + _PURPOSE_RISK[purpose]
        + 0.5 * ~income_stated
        + rng.normal(0.0, 0.4, size=n_rows)  # what no application form records
    )
    default = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))

    return pd.DataFrame(
        {
            "loan_id": [f"L{day:%Y%m%d}-{i:06d}" for i in range(n_rows)],
            "issued_at": _issue_times(rng, day, n_rows),
            "member_id": [f"M{m:07d}" for m in member],
            "loan_amount": amount,
            "annual_income": np.where(income_stated, np.round(income, -2), np.nan),
            "debt_to_income": np.round(dti, 2),
            "interest_rate": np.round(interest, 2),
            "term_months": term.astype(np.int64),
            "months_since_last_delinquency": np.where(never_delinquent, np.nan, since_delinquency),
            "open_accounts": open_accounts.astype(np.int64),
            "purpose": PURPOSES[purpose],
            "home_ownership": HOME_OWNERSHIP[home],
            "grade": GRADES[grade],
            "outcome": np.where(default, "default", "repaid").astype(object),
        }
    )


def _issue_times(rng: np.random.Generator, day: dt.date, n_rows: int) -> pd.Series:
    """Sorted naive local issue times whose UTC instants lie inside ``day`` (UTC).

    Instants that land in the repeated hour when clocks fall back are redrawn from the UTC
    afternoon: their local wall time could not be localised again unambiguously.
    """
    seconds = rng.integers(0, 86_400, size=n_rows)
    start = pd.Timestamp(day, tz="UTC")
    local = (start + pd.to_timedelta(seconds, unit="s")).tz_convert(TIMEZONE).tz_localize(None)
    ambiguous = local.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="NaT").isna()
    seconds = np.where(ambiguous, rng.integers(43_200, 86_400, size=n_rows), seconds)
    utc = start + pd.to_timedelta(np.sort(seconds), unit="s")
    return pd.Series(utc.tz_convert(TIMEZONE).tz_localize(None))
