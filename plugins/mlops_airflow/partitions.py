"""Which day's partition a task instance works on."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from mlops_core.lake import parse_day

DEFAULT_EARLIEST_DAY = "1900-01-01"


def earliest_day() -> dt.date:
    """The oldest partition day a run may work on (``MLOPS_EARLIEST_DATE``)."""
    return parse_day(os.environ.get("MLOPS_EARLIEST_DATE") or DEFAULT_EARLIEST_DAY)


def resolve_day(explicit: str | None, context: Any) -> dt.date:
    """The partition day, by precedence: an explicit (templated) value, the run's ``day``
    Param, the newest ``day`` carried by the triggering Asset events, then the logical date
    (data interval start), then the date the run was due.

    DAGs have no start date, so a run for any historical day executes its tasks (Airflow
    would otherwise skip every task of a run before the start date and call it a success);
    a day before ``earliest_day()`` is refused here with DayOutOfRangeError.
    """
    day = _resolve(explicit, context)
    earliest = earliest_day()
    if day < earliest:
        from mlops_core.errors import DayOutOfRangeError

        raise DayOutOfRangeError(
            f"partition day {day} is before the earliest day {earliest} "
            "(MLOPS_EARLIEST_DATE): nothing was read or written. Set MLOPS_EARLIEST_DATE "
            "earlier to process older history, or trigger the run for a later day."
        )
    return day


def _resolve(explicit: str | None, context: Any) -> dt.date:
    if explicit and str(explicit).strip() not in {"", "None"}:
        return parse_day(str(explicit).strip())
    params = context.get("params") or {}
    if params.get("day"):
        return parse_day(str(params["day"]))
    days: list[str] = []
    try:
        for events in (context.get("triggering_asset_events") or {}).values():
            days.extend(e.extra["day"] for e in events if e.extra and e.extra.get("day"))
    except (AttributeError, TypeError, KeyError):
        days = []
    if days:
        return parse_day(max(days))
    logical = context.get("logical_date")
    if logical is not None:
        return logical.date()
    return context["dag_run"].run_after.date()
