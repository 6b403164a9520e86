"""Shared fixtures: a real S3 endpoint (moto in server mode) for every test that needs one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
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


# A day no test delivers or reads: its validated data must come through every bad input whole.
GUARD_DAY = dt.date(2026, 10, 20)
_GUARDED_ZONES = ("working", "archive", "scored")


def _file_hashes(root: Path) -> dict[str, str | None]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for zone in _GUARDED_ZONES
        for p in sorted((root / zone).rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def _validated_lake_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake with one validated fraud day delivered twice (a current and an archived
    version, listed in its manifest) and scores for it, built once per session."""
    from mlops_core import lake, sample_data, steps
    from mlops_core.config import Settings
    from mlops_core.schema import load_schema
    from mlops_core.storage import LocalStorage

    root = tmp_path_factory.mktemp("validated-lake")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    schema = load_schema("fraud")
    for batch, rows in (("guard-v1", 300), ("guard-v2", 320)):
        sample_data.land_sample_partition(storage, schema, GUARD_DAY, rows=rows)
        steps.extract(storage, schema, GUARD_DAY, batch)
        steps.validate(
            storage, schema, GUARD_DAY, settings=settings, batch_id=batch, with_label=True
        )
    storage.write_bytes(lake.scored_prefix(schema.name, GUARD_DAY) + "scores.parquet", b"s")
    manifest = json.loads(
        storage.read_bytes(lake.working_prefix(schema.name, GUARD_DAY) + lake.MANIFEST)
    )
    assert manifest["rows"] == 320 and manifest["previous_versions"][0]["rows"] == 300
    return Path(storage.url)


@pytest.fixture
def validated_elsewhere(_validated_lake_template: Path) -> Iterator[Callable]:
    """``seed(storage)`` copies another day's validated working data, archive and scores into
    a test's local lake; after the test, every one of those files must be byte-identical
    (sha256 before and after), whatever the test delivered."""
    seeded: list[tuple[Path, dict[str, str | None]]] = []

    def seed(storage) -> dict[str, str | None]:
        root = Path(storage.url)
        for zone in _GUARDED_ZONES:
            shutil.copytree(_validated_lake_template / zone, root / zone, dirs_exist_ok=True)
        hashes = _file_hashes(_validated_lake_template)
        assert {k: v for k, v in _file_hashes(root).items() if k in hashes} == hashes
        seeded.append((root, hashes))
        return hashes

    yield seed
    for root, hashes in seeded:
        after = {
            key: hashlib.sha256((root / key).read_bytes()).hexdigest()
            if (root / key).is_file()
            else None
            for key in hashes
        }
        assert after == hashes, f"validated data of {GUARD_DAY} changed under {root}"
