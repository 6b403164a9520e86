"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead:
services, health-gated dependencies, credentials only from .env, versions matching the lock."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
AIRFLOW_SERVICES = [
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
]
INIT_JOBS = {"airflow-init", "minio-init"}


def _env_example_keys() -> set[str]:
    keys = set()
    for line in (REPO / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            keys.add(line.split("=", 1)[0])
    return keys


def _lock_version(package: str) -> str:
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line.lower().startswith(f"{package}=="):
            return line.split("==", 1)[1]
    raise AssertionError(f"{package} is not in requirements.lock")


def test_expected_services_exist() -> None:
    expected = {
        "postgres",
        "redis",
        "minio",
        "minio-init",
        "mlflow",
        "airflow-init",
        *AIRFLOW_SERVICES,
    }
    assert expected <= set(SERVICES)


@pytest.mark.parametrize("name", sorted(set(SERVICES) - INIT_JOBS))
def test_long_running_services_have_healthchecks(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", AIRFLOW_SERVICES + ["mlflow"])
def test_dependencies_wait_for_health(name: str) -> None:
    deps = SERVICES[name]["depends_on"]
    assert isinstance(deps, dict), f"{name}: depends_on must carry conditions"
    for dep, spec in deps.items():
        wanted = "service_completed_successfully" if dep in INIT_JOBS else "service_healthy"
        assert spec["condition"] == wanted, f"{name} -> {dep}"
    assert "postgres" in deps


def test_every_variable_comes_from_env_example() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    missing = used - _env_example_keys()
    assert not missing, f"variables used by docker-compose.yml but not in .env.example: {missing}"


def _all_env_items():
    for name, svc in SERVICES.items():
        env = svc.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        yield from ((name, k, str(v)) for k, v in env.items())


def test_no_secret_is_written_in_the_compose_file() -> None:
    secret = re.compile(r"PASSWORD|SECRET|FERNET|ACCESS_KEY")
    for service, key, value in _all_env_items():
        if secret.search(key) and not key.endswith("_FILE"):
            assert value.startswith("${") or value.startswith("$${"), (
                f"{service}.{key} is hard-coded"
            )
    for service, key, value in _all_env_items():
        # Connection strings carry credentials only through variables.
        for match in re.finditer(r"://([^:@/]+):([^@/]+)@", value):
            assert match.group(2).startswith("${"), f"{service}.{key} embeds a password"


def test_env_example_has_no_real_secret_values() -> None:
    for line in (REPO / ".env.example").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            if re.search(r"PASSWORD|SECRET|FERNET_KEY|ACCESS_KEY", key):
                assert value in {"", "change-me", "change-me-at-least-8-chars"}, key


def test_airflow_version_matches_the_lock() -> None:
    version = _lock_version("apache-airflow")
    common = COMPOSE["x-airflow-common"]
    assert common["build"]["args"]["AIRFLOW_VERSION"] == version
    assert common["image"].endswith(f":{version}")
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={version}" in dockerfile
    assert "requirements.lock" in dockerfile  # the image installs the same pins


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_project_code_is_mounted_where_airflow_looks(name: str) -> None:
    svc = SERVICES[name]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in svc["volumes"] if v.startswith("./")}
    env = svc["environment"]
    assert mounts[env["AIRFLOW__CORE__DAGS_FOLDER"]] == "./dags"
    assert mounts[env["AIRFLOW__CORE__PLUGINS_FOLDER"]] == "./plugins"
    assert mounts["/opt/mlops/include"] == "./include"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW_CONN_MLOPS_LAKE"] and env["AIRFLOW_CONN_MLFLOW_DEFAULT"]


def test_host_ports_are_unique_and_documented() -> None:
    ports = [p.split(":")[0] for svc in SERVICES.values() for p in svc.get("ports", [])]
    assert len(ports) == len(set(ports))
    assert {"8080", "5000", "9000", "9001"} <= set(ports)


def test_env_example_lists_every_variable_the_code_reads() -> None:
    pattern = re.compile(r"""(?:environ|env)\.get\(\s*["']((?:MLOPS|MLFLOW)_[A-Z0-9_]+)["']""")
    read = set()
    for folder in ("include", "plugins", "dags"):
        for path in (REPO / folder).rglob("*.py"):
            read |= set(pattern.findall(path.read_text()))
    internal = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"}
    missing = read - internal - _env_example_keys()
    assert not missing, f"read by the code but not documented in .env.example: {missing}"
