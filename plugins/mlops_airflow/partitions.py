"""Which day's partition a task instance works on."""

from __future__ import annotations

import datetime as dt
from typing import Any

from mlops_core.lake import parse_day


def resolve_day(explicit: str | None, context: Any) -> dt.date:
    """The partition day, by precedence: an explicit (templated) value, the run's ``day``
    Param, the newest ``day`` carried by the triggering Asset events, then the logical date
    (data interval start), then the date the run was due."""
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
