"""Triggers run in the triggerer: async, no side effects, serialisable."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class PartitionMarkerTrigger(BaseTrigger):
    """Fires when ``key`` exists in the lake, or with status ``timeout`` at ``deadline``."""

    def __init__(
        self,
        *,
        storage_url: str,
        key: str,
        endpoint_url: str | None = None,
        poke_interval: float = 30.0,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        self.storage_url = storage_url
        self.key = key
        self.endpoint_url = endpoint_url
        self.poke_interval = poke_interval
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "mlops_airflow.triggers.PartitionMarkerTrigger",
            {
                "storage_url": self.storage_url,
                "key": self.key,
                "endpoint_url": self.endpoint_url,
                "poke_interval": self.poke_interval,
                "deadline": self.deadline,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from mlops_core.storage import storage_from_url

        storage = storage_from_url(self.storage_url, self.endpoint_url)
        while True:
            try:
                found = await asyncio.to_thread(storage.exists, self.key)
            except Exception as exc:  # noqa: BLE001 - a flaky endpoint is retried until deadline
                self.log.warning("Checking %s failed: %s", self.key, exc)
                found = False
            if found:
                yield TriggerEvent({"status": "success", "key": storage.uri(self.key)})
                return
            if self.deadline is not None and time.time() >= self.deadline:
                yield TriggerEvent({"status": "timeout", "key": storage.uri(self.key)})
                return
            await asyncio.sleep(self.poke_interval)
