"""A production-shaped stack from this machine's real services, as subprocesses.

Airflow 3 on PostgreSQL with the CeleryExecutor and a Redis broker (api-server, scheduler,
dag-processor, triggerer, one Celery worker), an MLflow tracking server on PostgreSQL with
artifacts on an S3 endpoint (moto server mode), and the lake on that S3 endpoint. Every test
session gets its own databases, Redis DB index and Celery queue, and drops them at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mlops_airflow.rest import AirflowRestClient

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from live_airflow import airflow_healthy, stop_process_groups  # noqa: E402

BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
REDIS = ("127.0.0.1", 6379)


class ServiceMissing(RuntimeError):
    """A service this machine is expected to run is not reachable."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_services() -> None:
    """Fail (not skip) when PostgreSQL or Redis is down: CI machines have both."""
    for name, (host, port) in {"PostgreSQL": (PG["host"], PG["port"]), "Redis": REDIS}.items():
        try:
            socket.create_connection((host, port), timeout=3).close()
        except OSError as exc:
            raise ServiceMissing(f"{name} is not reachable on {host}:{port}: {exc}") from exc


def _pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@dataclass
class AirflowCluster:
    workdir: Path
    s3_endpoint: str
    bucket: str
    worker_concurrency: int = 4
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    token: str | None = None
    rest: AirflowRestClient | None = None

    def __post_init__(self) -> None:
        self.airflow_db = f"mlops_airflow_{self.tag}"
        self.mlflow_db = f"mlops_mlflow_{self.tag}"
        self.api_port = free_port()
        self.mlflow_port = free_port()
        self.password = secrets.token_urlsafe(16)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        pg = f"{PG['user']}@{PG['host']}:{PG['port']}"
        self.mlflow_store = f"postgresql+psycopg2://{pg}/{self.mlflow_db}"
        passwords = self.workdir / "passwords.json"
        passwords.write_text(json.dumps({"admin": self.password}))
        from cryptography.fernet import Fernet

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AIRFLOW", "MLOPS_", "MLFLOW_"))
        }
        env.update(
            {
                "AIRFLOW_HOME": str(self.workdir / "airflow"),
                "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}/{self.airflow_db}",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/{int(self.tag, 16) % 15 + 1}",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{pg}/{self.airflow_db}",
                # The worker imports the task libraries before forking its pool (as deployed).
                "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "mlops_airflow.preload.CELERY_CONFIG",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"mlops_{self.tag}",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                # Only manual and backfill runs: no catch-up run on unpause (this also stops the
                # scheduler from creating Asset-triggered runs here; test_live_airflow.py proves
                # those with schedules on).
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "GX_ANALYTICS_ENABLED": "False",
                "MLOPS_DATA_ROOT": str(self.workdir / "data"),
                "MLOPS_SENSOR_POKE_SECONDS": "3",
                "MLOPS_STORAGE_URL": f"s3://{self.bucket}/lake",
                "MLOPS_S3_ENDPOINT_URL": self.s3_endpoint,
                "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.mlflow_port}",
                "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        self.env = env

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 240) -> None:
        require_services()
        _pg_admin(f"CREATE DATABASE {self.airflow_db}")
        _pg_admin(f"CREATE DATABASE {self.mlflow_db}")
        self._spawn(
            "mlflow",
            [
                str(BIN / "mlflow"),
                "server",
                "--backend-store-uri",
                self.mlflow_store,
                "--artifacts-destination",
                f"s3://{self.bucket}/mlflow",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.mlflow_port),
                "--workers",
                "1",
            ],
        )
        self._run(["airflow", "db", "migrate"], timeout=300)
        for name, args in {
            "api-server": ["api-server", "--port", str(self.api_port)],
            "scheduler": ["scheduler"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer"],
            "worker": [
                "celery",
                "worker",
                "-q",
                self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"],
                "--concurrency",
                str(self.worker_concurrency),
            ],
        }.items():
            self._spawn(name, [str(BIN / "airflow"), *args])
        deadline = time.monotonic() + timeout
        self._wait(
            lambda: self._get_ok(f"http://127.0.0.1:{self.mlflow_port}/health"),
            deadline,
            "MLflow server",
        )
        self._wait(self._healthy, deadline, "Airflow components healthy")
        self.login()

    def stop(self) -> None:
        stop_process_groups(self.procs.values())
        for db in (self.airflow_db, self.mlflow_db):
            try:
                _pg_admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            except Exception as exc:  # noqa: BLE001 - cleanup must not mask the test result
                print(f"could not drop {db}: {exc}", file=sys.stderr)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            cmd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )

    def _run(self, args: list[str], timeout: float) -> subprocess.CompletedProcess:
        out = subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args)} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
            )
        return out

    def airflow_cli(self, *args: str, timeout: float = 120) -> str:
        return self._run(["airflow", *args], timeout=timeout).stdout

    def _wait(self, check, deadline: float, what: str) -> None:
        while time.monotonic() < deadline:
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead:
                raise RuntimeError(f"{what}: processes exited {dead}; logs in {self.logs}")
            if check():
                return
            time.sleep(2)
        raise TimeoutError(f"timed out waiting for {what}; logs in {self.logs}")

    @staticmethod
    def _get_ok(url: str) -> bool:
        try:
            return httpx.get(url, timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def _healthy(self) -> bool:
        return airflow_healthy(self.base_url)

    # -- REST API, as the UI uses it ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def login(self) -> None:
        self.rest = AirflowRestClient(self.base_url, "admin", self.password)
        self.token = self.rest.login()

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.rest.api(method, path, **kwargs)

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        def parsed() -> bool:
            try:
                self.api("GET", f"/dags/{dag_id}")
            except RuntimeError:
                return False
            return True

        self._wait(parsed, time.monotonic() + timeout, f"DAG {dag_id} parsed")
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str, conf: dict | None = None) -> str:
        return self.rest.trigger(dag_id, logical_date, conf)

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.rest.dag_run(dag_id, run_id)["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return self.rest.task_states(dag_id, run_id)

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        try:
            return self.rest.wait_run(dag_id, run_id, timeout=timeout, poll=3)["state"]
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; logs {self.logs}") from exc
