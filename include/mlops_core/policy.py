"""Retraining policy: when does a monitoring breach become a retraining request?

Guards against retrain storms: hysteresis (a warning never retrains; an alert may), a cooldown
since the last retrain, a minimum amount of new labelled data since then, and a daily budget.
Every call returns a decision with its reason, retrain or not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from mlops_core.drift import ALERT, WARN
from mlops_core.knobs import RetrainPolicy  # noqa: F401 - re-exported


@dataclass(frozen=True)
class PolicyInput:
    level: str  # worst of drift and performance: ok / warn / alert
    at: dt.datetime
    last_retrain_at: dt.datetime | None
    retrains_today: int
    new_labelled_rows: int


@dataclass(frozen=True)
class Decision:
    retrain: bool
    reason: str
    level: str

    def to_dict(self) -> dict:
        return asdict(self)


def decide(policy: RetrainPolicy, state: PolicyInput) -> Decision:
    """Apply the guards in order; the first that holds decides."""
    if state.level != ALERT:
        why = (
            "warning only (hysteresis: only an alert retrains)"
            if state.level == WARN
            else "no breach"
        )
        return Decision(False, why, state.level)
    if state.retrains_today >= policy.max_retrains_per_day:
        return Decision(
            False,
            f"daily budget spent: {state.retrains_today} of {policy.max_retrains_per_day} "
            "retrains today",
            state.level,
        )
    if state.last_retrain_at is not None:
        since = (state.at - state.last_retrain_at).total_seconds() / 3600
        if since < policy.cooldown_hours:
            return Decision(
                False,
                f"cooldown: last retrain {since:.1f} h ago, policy waits "
                f"{policy.cooldown_hours:g} h",
                state.level,
            )
    if state.new_labelled_rows < policy.min_new_labelled_rows:
        return Decision(
            False,
            f"not enough new labelled data: {state.new_labelled_rows} rows since the last retrain "
            f"or the start of the breach, policy needs {policy.min_new_labelled_rows}",
            state.level,
        )
    return Decision(
        True, "alert with enough new labelled data, outside cooldown and budget", state.level
    )
