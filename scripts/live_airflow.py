"""The embedded default as a live Airflow: scheduler, dag-processor, triggerer and api-server.

    python scripts/live_airflow.py [--data-root PATH] [--use-environment] [--port 8080]
                                   [--no-schedules]

Everything sits under the demo's data root (`<repo>/.local/` by default, see airflow_env.py):
the SQLite metadata DB, the LocalExecutor's task logs (so every task log shows in the UI), the
MLflow store and the lake. The api-server binds 127.0.0.1 only. Users and passwords live in one
file, `<AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated` (mode 0600), written before
the api-server starts so that nothing prints them: `admin` for people, `mlops-notes` (role op)
for the failure notifier, which writes the on-call summary as the failed task's note through the
REST API (connection `mlops_airflow_api`). The JWT secret and Fernet key are kept in
`<AIRFLOW_HOME>/live-secrets.json` (0600) so a restart keeps sessions and connections valid.

With schedules on (the default) the scheduler creates the cron and Asset-triggered runs (new
data, a new champion, a retrain request); `make demo` runs with `--no-schedules` semantics and
triggers each run itself through the REST API, so its runs are the ones it expects.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_env import (  # noqa: E402
    BIN,
    DataRootRefused,
    demo_environment,
    ignored_message,
    migrate,
    prepare_data_root,
)

from mlops_airflow.rest import AirflowRestClient  # noqa: E402

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN, NOTES_USER = "admin", "mlops-notes"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"
SECRETS_FILE = "live-secrets.json"


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds it
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_healthy(base_url: str) -> bool:
    """Whether the api-server answers and reports every component healthy."""
    import httpx

    try:
        health = httpx.get(f"{base_url}/api/v2/monitor/health", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    return all(
        (health.get(part) or {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
    )


def stop_process_groups(procs: Iterable[subprocess.Popen], grace: float = 30) -> None:
    """SIGTERM each still-running process's group, then SIGKILL what outlives ``grace``."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    end = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _private_json(path: Path, make: callable) -> dict[str, str]:
    """The JSON object in ``path``, created (mode 0600) with ``make()`` when missing; keys
    ``make()`` adds later are merged in."""
    current = json.loads(path.read_text()) if path.is_file() else {}
    wanted = {**make(), **current}
    if wanted != current:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(wanted, fh)
    os.chmod(path, 0o600)
    return wanted


def live_environment(
    env: dict[str, str], *, port: int, schedules: bool, parallelism: int = 4
) -> dict[str, str]:
    """``env`` (from airflow_env.demo_environment) plus what a live embedded Airflow needs.

    Writes the passwords and secrets files under AIRFLOW_HOME when missing (never prints them).
    """
    from cryptography.fernet import Fernet

    home = Path(env["AIRFLOW_HOME"])
    passwords = _private_json(
        home / PASSWORDS_FILE,
        lambda: {ADMIN: secrets.token_urlsafe(12), NOTES_USER: secrets.token_urlsafe(24)},
    )
    keys = _private_json(
        home / SECRETS_FILE,
        lambda: {
            "jwt_secret": secrets.token_urlsafe(32),
            "fernet_key": Fernet.generate_key().decode(),
        },
    )
    base_url = f"http://127.0.0.1:{port}"
    live = dict(env)
    live.update(
        {
            # LocalExecutor whose workers fork tasks with the heavy libraries already imported.
            "AIRFLOW__CORE__EXECUTOR": "mlops_airflow.preload.PreloadingLocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin,{NOTES_USER}:op",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(schedules),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # The failure notifier writes the task's note through the REST API as this user.
            "AIRFLOW_CONN_MLOPS_AIRFLOW_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": base_url,
                    "login": NOTES_USER,
                    "password": passwords[NOTES_USER],
                }
            ),
        }
    )
    # Extra links to reports, Data Docs and quarantine open through the api-server's read-only
    # view of the data root (plugins/mlops_ui_plugin.py), relative to whichever port serves it.
    live.setdefault("MLOPS_FILES_URL", "/mlops/files")
    return live


@dataclass
class LiveAirflow:
    """The four components as child processes (own process groups), logs under
    ``<AIRFLOW_HOME>/logs/components/``."""

    env: dict[str, str]
    port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return Path(self.env["AIRFLOW_HOME"])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def component_logs(self) -> Path:
        return self.home / "logs" / "components"

    def password(self, user: str = ADMIN) -> str:
        return json.loads((self.home / PASSWORDS_FILE).read_text())[user]

    def client(self, user: str = ADMIN) -> AirflowRestClient:
        return AirflowRestClient(self.base_url, user, self.password(user))

    def start(self, timeout: float = 240) -> None:
        if not port_free(self.port):
            raise RuntimeError(f"port {self.port} on 127.0.0.1 is in use; pass --port")
        migrate(self.env)
        self.component_logs.mkdir(parents=True, exist_ok=True)
        for name in COMPONENTS:
            args = ["api-server", "--host", "127.0.0.1", "--port", str(self.port)]
            cmd = [str(BIN / "airflow"), *(args if name == "api-server" else [name])]
            log = open(self.component_logs / f"{name}.log", "a")  # noqa: SIM115 - closed at exit
            self.procs[name] = subprocess.Popen(
                cmd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.home,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not airflow_healthy(self.base_url):
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead:
                self.stop()
                raise RuntimeError(f"Airflow components exited {dead}; see {self.component_logs}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"Airflow not healthy after {timeout}s; {self.component_logs}")
            time.sleep(1)

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180, unpause: bool = True) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        missing = list(dag_ids)
        while missing and time.monotonic() < deadline:
            missing = [d for d in missing if not client.dag_exists(d)]
            if missing:
                time.sleep(1)
        if missing:
            raise TimeoutError(f"DAGs not parsed after {timeout}s: {missing}")
        if unpause:
            for dag_id in dag_ids:
                client.unpause(dag_id)

    def stop(self) -> None:
        stop_process_groups(self.procs.values())

    def __enter__(self) -> LiveAirflow:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--use-environment", action="store_true")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--no-schedules", action="store_true")
    args = parser.parse_args(argv)
    env, ignored = demo_environment(
        os.environ, data_root=args.data_root, use_environment=args.use_environment
    )
    if ignored:
        print(ignored_message(ignored), file=sys.stderr)
    try:
        prepare_data_root(Path(env["MLOPS_DATA_ROOT"]), keep=True)
    except DataRootRefused as exc:
        print(exc, file=sys.stderr)
        return 2
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    env = live_environment(env, port=args.port, schedules=not args.no_schedules)
    live = LiveAirflow(env, args.port)
    live.start()
    print(
        f"Airflow is up on {live.base_url} (127.0.0.1 only): user {ADMIN}, password in "
        f"{live.home / PASSWORDS_FILE}; schedules {'off' if args.no_schedules else 'on'}; "
        f"component logs in {live.component_logs}. Ctrl-C stops it.",
        flush=True,
    )
    try:
        while all(p.poll() is None for p in live.procs.values()):
            time.sleep(2)
        dead = {n: p.returncode for n, p in live.procs.items() if p.poll() is not None}
        print(f"a component exited: {dead}; see {live.component_logs}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        live.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
