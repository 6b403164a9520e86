"""The data-arrival sensor defers to its trigger; the trigger fires on the marker or times out,
on a local lake and on S3 (moto server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import time
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout, TaskDeferred

from mlops_airflow.sensors import PartitionSensor
from mlops_airflow.triggers import PartitionMarkerTrigger
from mlops_core.storage import LocalStorage, S3Storage, storage_from_url

DAY = dt.date(2026, 11, 8)
KEY = "landing/fraud_transactions/dt=2026-11-08/_SUCCESS"


def _context(day: dt.date = DAY) -> dict:
    logical = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return {"params": {}, "logical_date": logical, "dag_run": SimpleNamespace(run_after=logical)}


@pytest.fixture
def local_lake(tmp_path, monkeypatch) -> LocalStorage:
    monkeypatch.setenv("MLOPS_STORAGE_URL", str(tmp_path / "lake"))
    return LocalStorage(tmp_path / "lake")


def test_sensor_defers_when_marker_is_missing(local_lake: LocalStorage) -> None:
    sensor = PartitionSensor(
        use_case="fraud", task_id="wait", lake_conn_id=None, timeout=60, poke_interval=5
    )
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, PartitionMarkerTrigger)
    assert trigger.key == KEY
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout > dt.timedelta(seconds=60)


def test_sensor_returns_at_once_when_marker_exists(local_lake: LocalStorage) -> None:
    local_lake.write_bytes(KEY, b"")
    sensor = PartitionSensor(use_case="fraud", task_id="wait", lake_conn_id=None, timeout=60)
    assert sensor.execute(_context()) is None  # no TaskDeferred raised


def test_trigger_serialize_round_trip() -> None:
    trigger = PartitionMarkerTrigger(
        storage_url="s3://b/lake",
        key=KEY,
        endpoint_url="http://127.0.0.1:1",
        poke_interval=2.5,
        deadline=123.0,
    )
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "storage_url": "s3://b/lake",
        "key": KEY,
        "endpoint_url": "http://127.0.0.1:1",
        "poke_interval": 2.5,
        "deadline": 123.0,
    }


async def _first_event(trigger: PartitionMarkerTrigger, land=None):
    async def landing():
        await asyncio.sleep(0.3)
        await asyncio.to_thread(land)

    task = asyncio.create_task(landing()) if land else None
    try:
        async for event in trigger.run():
            return event.payload
    finally:
        if task:
            await task


def _trigger_cases(tmp_path, moto_endpoint=None, bucket=None):
    if bucket:
        return (
            f"s3://{bucket}/lake",
            moto_endpoint,
            S3Storage(bucket, "lake", endpoint_url=moto_endpoint),
        )
    return str(tmp_path / "lake"), None, LocalStorage(tmp_path / "lake")


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_trigger_fires_when_marker_lands(backend, tmp_path, request) -> None:
    if backend == "s3":
        url, endpoint, storage = _trigger_cases(
            tmp_path,
            request.getfixturevalue("moto_s3_endpoint"),
            request.getfixturevalue("s3_bucket"),
        )
    else:
        url, endpoint, storage = _trigger_cases(tmp_path)
    trigger = PartitionMarkerTrigger(
        storage_url=url,
        key=KEY,
        endpoint_url=endpoint,
        poke_interval=0.1,
        deadline=time.time() + 20,
    )
    started = time.monotonic()
    payload = asyncio.run(
        asyncio.wait_for(_first_event(trigger, land=lambda: storage.write_bytes(KEY, b"")), 30)
    )
    assert payload["status"] == "success"
    assert payload["key"] == storage_from_url(url, endpoint).uri(KEY)
    assert time.monotonic() - started >= 0.3  # it waited for the marker, not before it


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_trigger_times_out_at_deadline(backend, tmp_path, request) -> None:
    if backend == "s3":
        url, endpoint, _ = _trigger_cases(
            tmp_path,
            request.getfixturevalue("moto_s3_endpoint"),
            request.getfixturevalue("s3_bucket"),
        )
    else:
        url, endpoint, _ = _trigger_cases(tmp_path)
    trigger = PartitionMarkerTrigger(
        storage_url=url,
        key=KEY,
        endpoint_url=endpoint,
        poke_interval=0.1,
        deadline=time.time() + 0.5,
    )
    payload = asyncio.run(asyncio.wait_for(_first_event(trigger), 30))
    assert payload["status"] == "timeout"


def test_trigger_keeps_polling_through_an_unreachable_endpoint() -> None:
    trigger = PartitionMarkerTrigger(
        storage_url="s3://nowhere/lake",
        key=KEY,
        endpoint_url="http://127.0.0.1:9",
        poke_interval=0.1,
        deadline=time.time() + 1,
    )
    payload = asyncio.run(asyncio.wait_for(_first_event(trigger), 120))
    assert payload["status"] == "timeout"  # errors are logged and retried, not raised


def test_execute_complete_timeout_names_key_and_runbook() -> None:
    sensor = PartitionSensor(use_case="fraud", task_id="wait", lake_conn_id=None, timeout=7200)
    with pytest.raises(AirflowSensorTimeout) as err:
        sensor.execute_complete(_context(), {"status": "timeout", "key": "s3://b/lake/" + KEY})
    message = str(err.value)
    assert KEY in message and "runbook: /mlops/runbook#input-missing" in message and "7200s" in message
    assert sensor.execute_complete(_context(), {"status": "success", "key": "k"}) == "k"
