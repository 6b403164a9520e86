"""A small client for Airflow 3's public REST API (``/api/v2``), as the UI uses it.

Used by the embedded live Airflow (``scripts/live_airflow.py``) and ``make demo`` to trigger runs
and follow them, by the tests of the production-shaped stack, and by the failure notifier to
write the on-call summary as the failed task instance's note. Only ``httpx``: importing it costs
nothing at DAG parse time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

FINISHED = frozenset({"success", "failed"})
# Airflow's task-instance note column holds 1,000 characters.
NOTE_LIMIT = 1000


class AirflowApiError(RuntimeError):
    """The API answered with an error status; the message carries method, path and body."""


@dataclass
class AirflowRestClient:
    """Token-authenticated calls to one Airflow API server.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080`` (no trailing ``/api/v2``).
        username / password: a SimpleAuthManager (or other auth manager) user; a JWT is fetched
            from ``/auth/token`` on first use and again when it expires.
    """

    base_url: str
    username: str
    password: str
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    def login(self) -> str:
        resp = httpx.post(
            f"{self.base_url.rstrip('/')}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=self.timeout,
        )
        if resp.status_code >= 400:
            raise AirflowApiError(
                f"login as {self.username} -> {resp.status_code}: {resp.text[:500]}"
            )
        self._token = resp.json()["access_token"]
        return self._token

    @property
    def token(self) -> str:
        return self._token or self.login()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """``method`` on ``/api/v2<path>``; the decoded JSON body (or None)."""
        url = f"{self.base_url.rstrip('/')}/api/v2{path}"
        extra_headers = kwargs.pop("headers", {})
        for attempt in (1, 2):
            resp = httpx.request(
                method,
                url,
                headers={**extra_headers, "Authorization": f"Bearer {self.token}"},
                timeout=self.timeout,
                **kwargs,
            )
            if resp.status_code == 401 and attempt == 1:
                self.login()
                continue
            break
        if resp.status_code >= 400:
            raise AirflowApiError(f"{method} {path} -> {resp.status_code}: {resp.text[:2000]}")
        return resp.json() if resp.content else None

    # -- DAGs and runs --------------------------------------------------------------------------
    def dag_exists(self, dag_id: str) -> bool:
        try:
            self.api("GET", f"/dags/{quote(dag_id)}")
        except AirflowApiError:
            return False
        return True

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/dags/{quote(dag_id)}", json={"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict | None = None) -> str:
        """A manual run (``logical_date`` ISO-8601 or None); its ``dag_run_id``."""
        run = self.api(
            "POST",
            f"/dags/{quote(dag_id)}/dagRuns",
            json={"logical_date": logical_date, "conf": conf or {}},
        )
        return run["dag_run_id"]

    def clear_run(self, dag_id: str, run_id: str) -> None:
        """Clear every task of a finished run so the scheduler runs it again (the UI's
        "Clear existing tasks"); the run keeps its id and logical date."""
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}/clear"
        self.api("POST", path, json={"dry_run": False})

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}")

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict[str, Any]]:
        return self.api("GET", f"/dags/{quote(dag_id)}/dagRuns", params=params)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self.api("GET", path)["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def wait_run(
        self, dag_id: str, run_id: str, timeout: float = 900, poll: float = 2.0
    ) -> dict[str, Any]:
        """The finished run (``success`` or ``failed``); TimeoutError names the task states."""
        deadline = time.monotonic() + timeout
        run: dict[str, Any] = {"state": "queued"}
        while time.monotonic() < deadline:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            time.sleep(poll)
        raise TimeoutError(
            f"{dag_id}/{run_id} still {run['state']} after {timeout:.0f}s: "
            f"{self.task_states(dag_id, run_id)}"
        )

    # -- task instances ---------------------------------------------------------------------------
    def _ti_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return (
            f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id, safe='')}/taskInstances/{quote(task_id)}"
        )

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        return self.api("GET", self._ti_path(dag_id, run_id, task_id))

    def set_task_note(
        self, dag_id: str, run_id: str, task_id: str, note: str, map_index: int = -1
    ) -> None:
        """The task instance's note (shown in the UI on the task and the run), at most 1,000
        characters (longer notes are cut with an ellipsis)."""
        if len(note) > NOTE_LIMIT:
            note = note[: NOTE_LIMIT - 1] + "…"
        path = self._ti_path(dag_id, run_id, task_id)
        if map_index >= 0:
            path += f"/{map_index}"
        self.api("PATCH", path, params={"update_mask": "note"}, json={"note": note})

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The task's log for one try as text (the lines the UI shows)."""
        body = self.api(
            "GET",
            self._ti_path(dag_id, run_id, task_id) + f"/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body.get("content", "")
        if isinstance(content, str):
            return content
        lines = []
        for item in content:
            if isinstance(item, dict):
                lines.append(" ".join(str(item.get(k, "")) for k in ("event", "error_detail")))
            else:
                lines.append(str(item))
        return "\n".join(lines)

    def create_asset_event(self, asset_uri: str, extra: dict | None = None) -> dict[str, Any]:
        """An Asset event posted by hand (as the UI's "Create Asset Event" does)."""
        assets = self.api("GET", "/assets", params={"uri_pattern": asset_uri})["assets"]
        match = [a for a in assets if a["uri"] == asset_uri]
        if not match:
            raise AirflowApiError(f"no asset with uri {asset_uri}")
        return self.api(
            "POST", "/assets/events", json={"asset_id": match[0]["id"], "extra": extra or {}}
        )
