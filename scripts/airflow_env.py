"""Run Airflow (or the MLflow UI) against the embedded demo environment.

    python scripts/airflow_env.py dags list
    python scripts/airflow_env.py api-server --port 8080
    python scripts/airflow_env.py mlflow-ui --port 5000

AIRFLOW_HOME, the metadata DB (SQLite) and the MLflow store all live under MLOPS_DATA_ROOT
(default `.local/`), so the demo never touches anything outside the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def airflow_env(
    data_root: Path | None = None, base: dict[str, str] | None = None
) -> dict[str, str]:
    """Environment for an isolated Airflow over ``data_root``; explicit settings in ``base`` win."""
    env = dict(os.environ if base is None else base)
    root = Path(data_root or env.get("MLOPS_DATA_ROOT") or REPO / ".local").resolve()
    home = root / "airflow"
    defaults = {
        "MLOPS_DATA_ROOT": str(root),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "GX_ANALYTICS_ENABLED": "False",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PYTHONWARNINGS": "ignore::DeprecationWarning,ignore::FutureWarning,ignore::UserWarning",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    }
    for key, value in defaults.items():
        if key == "PATH" or key not in env or key == "MLOPS_DATA_ROOT":
            env[key] = value
    home.mkdir(parents=True, exist_ok=True)
    return env


def main(argv: list[str]) -> int:
    env = airflow_env()
    if argv and argv[0] == "mlflow-ui":
        from mlops_core.config import Settings

        uri = Settings.from_env(env).mlflow_tracking_uri
        cmd = [str(BIN / "mlflow"), "ui", "--backend-store-uri", uri, *argv[1:]]
    else:
        if argv and argv[0] == "api-server":
            subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True)
        cmd = [str(BIN / "airflow"), *argv]
    return subprocess.call(cmd, env=env)


def migrate(env: dict[str, str]) -> None:
    """Create or upgrade the metadata DB for ``env``."""
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run_dag(
    dag_id: str,
    day: str,
    env: dict[str, str],
    *,
    conf: dict | None = None,
    log_dir: Path | None = None,
) -> tuple[int, float, Path]:
    """``airflow dags test <dag_id> <day>``; returns (exit code, seconds, log file)."""
    import json
    import time

    log_dir = Path(log_dir or Path(env["MLOPS_DATA_ROOT"]) / "demo-logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{dag_id}__{day}__{int(time.time() * 1000)}.log"
    cmd = [str(BIN / "airflow"), "dags", "test", dag_id, day]
    if conf:
        cmd += ["--conf", json.dumps(conf)]
    start = time.monotonic()
    with open(log, "w") as fh:
        rc = subprocess.call(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
    return rc, time.monotonic() - start, log


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
