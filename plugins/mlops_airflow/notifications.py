"""Failure notifier: one incident summary per failed task, for the person on call: in the
incident log (and webhook), in the task log, and as the failed task instance's note in the UI."""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseNotifier


class IncidentNotifier(BaseNotifier):
    """Writes DAG, task, logical date, try, exception, failed check, input files, offending
    rows, quarantine path, log link and runbook section to ``<data root>/incidents.jsonl``,
    POSTs it to MLOPS_INCIDENT_WEBHOOK_URL when that is set, and writes its summary (what broke,
    the quarantine path, a link to the runbook section) as the task instance's note through
    the REST API (connection ``mlops_airflow_api``, see :class:`AirflowApiHook`)."""

    def notify(self, context: Any) -> None:
        # Imported here: this module is loaded by every DAG file at parse time.
        from mlops_core.config import Settings
        from mlops_core.incidents import (
            Incident,
            quarantine_path,
            record_incident,
            runbook_section,
        )

        exc = context.get("exception")
        cause = getattr(exc, "__cause__", None) or exc
        message = str(exc) if exc is not None else "unknown failure"
        ti = context["ti"]
        logical = context.get("logical_date")
        incident = Incident(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            logical_date=logical.isoformat() if logical else None,
            run_id=str(context.get("run_id")),
            try_number=int(ti.try_number),
            exception_type=type(cause).__name__ if cause is not None else "unknown",
            message=message[:4000],
            runbook_section=getattr(cause, "runbook", None) or runbook_section(message),
            quarantine_path=getattr(cause, "quarantine_path", None) or quarantine_path(message),
            log_url=getattr(ti, "log_url", None),
            check=getattr(cause, "check", None),
            files=tuple(getattr(cause, "files", ()) or ()),
            rows=tuple(getattr(cause, "rows", ()) or ()),
        )
        settings = Settings.from_env()
        try:
            record_incident(
                incident, settings.incidents_log, os.environ.get("MLOPS_INCIDENT_WEBHOOK_URL")
            )
        except OSError as err:  # never mask the task's own failure
            self.log.error("Could not record incident: %s", err)
        self.log.error("Incident: %s", incident.to_json())
        self._write_note(ti, str(context.get("run_id")), incident)

    def _write_note(self, ti: Any, run_id: str, incident: Any) -> None:
        from mlops_airflow.hooks import AirflowApiHook
        from mlops_core.incidents import failure_note

        client = AirflowApiHook().get_conn()
        if client is None:
            self.log.warning(
                "No task note written: connection %s is not defined (the incident is in the "
                "log above and in incidents.jsonl)",
                AirflowApiHook.default_conn_name,
            )
            return
        note = failure_note(incident)
        try:
            client.set_task_note(
                ti.dag_id, run_id, ti.task_id, note, map_index=getattr(ti, "map_index", -1)
            )
        except Exception as err:  # noqa: BLE001 - never mask the task's own failure
            self.log.error("Could not write the task note through %s: %s", client.base_url, err)
            return
        self.log.info("Task note written: %s", note.splitlines()[0])
