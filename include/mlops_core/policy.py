"""Retraining policy: when does a monitoring breach become a retraining request?

Guards against retrain storms, in order: only an alert retrains (a warning never does); a
daily budget (earlier runs of the same calendar day count); a cooldown since the last
retrain, in hours of real time and in days; persistence (an alert on at least k of the last
n days, so one noisy day never retrains); and enough new labelled rows from the breach in
the retrain's training split (not only in its holdout). Every call returns a decision with
its reason, retrain or not.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from mlops_core.drift import ALERT, WARN
from mlops_core.knobs import RetrainPolicy  # noqa: F401 - re-exported


@dataclass(frozen=True)
class PolicyInput:
    level: str  # worst of drift, performance and prevalence: ok / warn / alert
    at: dt.datetime  # when this decision is taken (the run's logical time)
    last_retrain_at: dt.datetime | None
    retrains_today: int  # retrain requests earlier on the calendar day of ``at``
    new_labelled_rows: int  # matured rows since the breach began, inside the retrain's window
    alert_days: int = 1  # days at alert among the policy's last alert_days_window days
    in_holdout: int = 0  # how many of new_labelled_rows the retrain's holdout would take
    window_rows: int = 0  # rows of the window a retrain would read
    holdout_rows: int = 0  # rows of its holdout (training.holdout_fraction of the window)

    @property
    def rows_for_training(self) -> int:
        return max(0, self.new_labelled_rows - self.in_holdout)


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
            f"retrains already on {state.at.date()}",
            state.level,
        )
    if state.last_retrain_at is not None:
        hours = (state.at - state.last_retrain_at).total_seconds() / 3600
        days = (state.at.date() - state.last_retrain_at.date()).days
        if hours < policy.cooldown_hours:
            return Decision(
                False,
                f"cooldown: last retrain {hours:.1f} h ago, policy waits "
                f"{policy.cooldown_hours:g} h (cooldown_hours)",
                state.level,
            )
        if days <= policy.cooldown_days:
            return Decision(
                False,
                f"cooldown: last retrain {days} day(s) ago on {state.last_retrain_at.date()}, "
                f"policy skips the {policy.cooldown_days} day(s) after one (cooldown_days)",
                state.level,
            )
    if state.alert_days < policy.alert_days_required:
        return Decision(
            False,
            f"persistence: {state.alert_days} of the last {policy.alert_days_window} days at "
            f"alert, policy needs {policy.alert_days_required} (alert_days_required)",
            state.level,
        )
    if state.rows_for_training < policy.min_new_labelled_rows:
        return Decision(
            False,
            f"not enough new labelled data: {state.new_labelled_rows} rows since the last "
            f"retrain or the start of the breach, {state.in_holdout} of them would not enter "
            "the retrain's training split (they sit in its holdout: training.holdout_fraction, "
            "or its pool of holdout_positives; in the embargo gap before it; or their labels "
            f"are not final yet), leaving {state.rows_for_training} for training; policy needs "
            f"{policy.min_new_labelled_rows} (min_new_labelled_rows)",
            state.level,
        )
    return Decision(
        True,
        f"alert on {state.alert_days} of the last {policy.alert_days_window} days with "
        f"{state.rows_for_training} new labelled rows for training, outside cooldown and budget",
        state.level,
    )
