"""The live embedded Airflow's settings (scripts/live_airflow.py): 127.0.0.1 only, passwords in
one private file and never in the environment or on screen, stable secrets across restarts."""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import airflow_env  # noqa: E402
import live_airflow  # noqa: E402


def _env(root: Path, **kw) -> dict[str, str]:
    base, _ = airflow_env.demo_environment(
        {"PATH": "/usr/bin"}, data_root=root, use_environment=False
    )
    return live_airflow.live_environment(base, port=18080, **kw)


def test_binds_localhost_and_keeps_passwords_in_a_private_file(tmp_path: Path) -> None:
    env = _env(tmp_path, schedules=True)
    home = Path(env["AIRFLOW_HOME"])
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:18080/execution/"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "mlops_airflow.preload.PreloadingLocalExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "True"
    pw_file = home / live_airflow.PASSWORDS_FILE
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == str(pw_file)
    passwords = json.loads(pw_file.read_text())
    assert set(passwords) == {"admin", "mlops-notes"}
    for path in (pw_file, home / live_airflow.SECRETS_FILE):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the admin password is in the file only: not in any variable the components inherit
    assert not any(passwords["admin"] in value for value in env.values())
    conn = json.loads(env["AIRFLOW_CONN_MLOPS_AIRFLOW_API"])
    assert conn["login"] == "mlops-notes" and conn["host"] == "http://127.0.0.1:18080"
    # users are pre-created, so the api-server has nothing to generate and print
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,mlops-notes:op"


def test_restart_keeps_passwords_and_secrets(tmp_path: Path) -> None:
    first = _env(tmp_path, schedules=False)
    home = Path(first["AIRFLOW_HOME"])
    before = (home / live_airflow.PASSWORDS_FILE).read_bytes()
    second = _env(tmp_path, schedules=False)
    assert (home / live_airflow.PASSWORDS_FILE).read_bytes() == before
    for key in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY"):
        assert first[key] == second[key] and len(first[key]) >= 32
    assert second["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
