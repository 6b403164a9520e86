"""S3 faults: an unreachable or slow endpoint gets bounded retries with backoff, then a clear,
typed failure that names the endpoint and the object."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from mlops_core.errors import StorageUnavailableError
from mlops_core.storage import S3Storage

pytestmark = pytest.mark.fault


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


class SilentServer:
    """Accepts TCP connections and never answers: an S3 endpoint that hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self.stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            self.conns.append(conn)

    def close(self) -> None:
        self.stop = True
        for conn in self.conns:
            conn.close()
        self.sock.close()


def test_unreachable_endpoint_fails_clearly_and_quickly(monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_S3_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("MLOPS_S3_CONNECT_TIMEOUT", "1")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    storage = S3Storage("lake-bucket", "lake", endpoint_url=endpoint)
    started = time.monotonic()
    with pytest.raises(StorageUnavailableError) as err:
        storage.exists("landing/x/dt=2026-11-01/_SUCCESS")
    assert time.monotonic() - started < 30
    message = str(err.value)
    assert (
        endpoint in message and "s3://lake-bucket/lake/landing/x/dt=2026-11-01/_SUCCESS" in message
    )
    assert "after 3 attempts" in message
    assert err.value.runbook == "storage-unavailable"


def test_slow_endpoint_is_retried_then_fails(monkeypatch) -> None:
    monkeypatch.setenv("MLOPS_S3_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("MLOPS_S3_READ_TIMEOUT", "1")
    server = SilentServer()
    try:
        storage = S3Storage("lake-bucket", "lake", endpoint_url=server.url)
        started = time.monotonic()
        with pytest.raises(StorageUnavailableError, match="failed to read"):
            storage.read_bytes("working/x/data.parquet")
        elapsed = time.monotonic() - started
    finally:
        server.close()
    assert 2 <= server.accepted <= 4  # retried, but a bounded number of times
    assert 3 <= elapsed < 30  # three read timeouts of 1 s plus backoff, bounded
