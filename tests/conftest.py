"""Shared fixtures: a real S3 endpoint (moto in server mode) for every test that needs one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Before anything imports Airflow: a throwaway Airflow home and data root for this session,
# so no test reads or writes ~/airflow or the repository's .local/.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="mlops-tests-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
os.environ["MLOPS_DATA_ROOT"] = str(_SESSION_DIR / "data")
# pytest-xdist runs one worker per core: an OpenMP pool per worker (HistGradientBoosting) would
# put cores x cores threads on the cores, and spinning OpenMP threads then slow every fit
# several-fold. One thread per worker; a lone `pytest` keeps the library default.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
for _key in (
    "MLOPS_STORAGE_URL",
    "MLOPS_S3_ENDPOINT_URL",
    "MLFLOW_TRACKING_URI",
    "MLOPS_SPECS_DIR",
):
    os.environ.pop(_key, None)


@pytest.fixture(scope="session", autouse=True)
def aws_test_credentials() -> Iterator[None]:
    """Dummy credentials for moto; the parent environment is restored afterwards."""
    keys = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server subprocess speaking the S3 API over HTTP on a free loopback port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    exe = Path(sys.executable).parent / "moto_server"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=fh, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"moto server did not start on {url}; see {log}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def s3_bucket(moto_s3_endpoint: str) -> str:
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3_endpoint).create_bucket(Bucket=name)
    return name
