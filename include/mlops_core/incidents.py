"""Incident summaries for failed tasks: what broke, where the data went, what to read next."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

# The runbook page the api-server serves (plugins/mlops_ui_plugin.py), one id per section.
RUNBOOK_PATH = "/mlops/runbook"
_RUNBOOK = re.compile(r"runbook: \S*#([\w-]+)")
_QUARANTINE = re.compile(r"moved to (\S+?)(?:\s|\(|$)")


@dataclass(frozen=True)
class Incident:
    dag_id: str
    task_id: str
    logical_date: str | None
    run_id: str
    try_number: int
    exception_type: str
    message: str
    runbook_section: str
    quarantine_path: str | None
    log_url: str | None
    mlflow_run: str | None = None
    check: str | None = None
    files: tuple[str, ...] = ()
    rows: tuple[dict, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


def runbook_ref(section: str) -> str:
    """``runbook: /mlops/runbook#<section>``, as failure messages carry it."""
    return f"runbook: {RUNBOOK_PATH}#{section}"


def failure_note(incident: Incident, limit: int = 1000) -> str:
    """The on-call summary for the failed task instance's note (Markdown, at most ``limit``
    characters): what broke, the failed check and rows, where the data went, what to read."""
    first = next((line for line in incident.message.splitlines() if line.strip()), "")
    first = re.sub(r"^\[\w+\]\s*\(runbook: \S+\)\s*", "", first)
    head = [f"**{incident.exception_type}** in `{incident.task_id}` (try {incident.try_number})"]
    if incident.check:
        head.append(f"Check: `{incident.check}`")
    if incident.files:
        head.append("Files: " + ", ".join(f"`{f}`" for f in incident.files[:3]))
    if incident.quarantine_path:
        head.append(f"Quarantine: `{incident.quarantine_path}`")
    head.append(f"Runbook: [{incident.runbook_section}]({RUNBOOK_PATH}#{incident.runbook_section})")
    if incident.rows:
        head.append(f"Offending rows (sample): {len(incident.rows)} shown in the log")
    tail = "\n\n".join(head)
    room = limit - len(tail) - 4
    summary = first if len(first) <= room else first[: max(0, room - 1)] + "…"
    return f"{summary}\n\n{tail}" if summary else tail


def runbook_section(message: str, default: str = "general") -> str:
    match = _RUNBOOK.search(message)
    return match.group(1) if match else default


def quarantine_path(message: str) -> str | None:
    match = _QUARANTINE.search(message)
    return match.group(1).rstrip(".,;") if match else None


def record_incident(incident: Incident, log_path: Path, webhook_url: str | None = None) -> None:
    """Append the incident to a JSON-lines log; also POST it to a webhook when configured."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8") as fh:
        fh.write(incident.to_json() + "\n")
    if webhook_url:
        import urllib.request  # only when a webhook is configured: keeps DAG parsing light

        if not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"incident webhook must be http(s): {webhook_url!r}")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            webhook_url,
            data=incident.to_json().encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass
