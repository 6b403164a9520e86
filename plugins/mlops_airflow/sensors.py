"""Data-arrival sensor for a day's landing partition (local or S3), deferrable by default."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout

from mlops_airflow.hooks import DataLakeHook
from mlops_airflow.partitions import resolve_day
from mlops_core.incidents import runbook_ref


class PartitionSensor(BaseSensorOperator):
    """Wait for ``landing/<dataset>/dt=<day>/_SUCCESS``.

    Deferrable: the wait happens in the triggerer, not in a worker slot. On timeout the task
    fails with the exact key it waited for.
    """

    template_fields: Sequence[str] = ("day",)
    ui_color = "#fdf6e3"

    def __init__(
        self,
        *,
        use_case: str,
        day: str | None = None,
        marker: str = "_SUCCESS",
        lake_conn_id: str | None = DataLakeHook.default_conn_name,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 60)
        kwargs.setdefault("timeout", 6 * 3600)
        super().__init__(**kwargs)
        self.use_case = use_case
        self.day = day
        self.marker = marker
        self.lake_conn_id = lake_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> DataLakeHook:
        return DataLakeHook(lake_conn_id=self.lake_conn_id)

    def _key(self, context: Context) -> str:
        from mlops_core import lake
        from mlops_core.errors import PipelineError
        from mlops_core.spec import load_spec

        try:
            name = load_spec(self.use_case).dataset.name
            day = resolve_day(self.day, context)
        except PipelineError as exc:  # a bad spec or day: waiting cannot fix it
            raise AirflowFailException(
                f"[{type(exc).__name__}] ({runbook_ref(exc.runbook)})\n{exc}"
            ) from exc
        return lake.landing_prefix(name, day) + self.marker

    def poke(self, context: Context) -> bool:
        key = self._key(context)
        self.log.info("Checking for %s", self.hook.get_conn().uri(key))
        return self.hook.get_conn().exists(key)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        from mlops_airflow.triggers import PartitionMarkerTrigger  # triggerer-side code, lazily

        settings = self.hook.settings
        self.defer(
            trigger=PartitionMarkerTrigger(
                storage_url=settings.storage_url,
                key=self._key(context),
                endpoint_url=settings.s3_endpoint_url,
                poke_interval=float(self.poke_interval),
                deadline=time.time() + float(self.timeout),
            ),
            method_name="execute_complete",
            timeout=dt.timedelta(seconds=float(self.timeout) + 300),
        )
        return None

    def execute_complete(self, context: Context, event: dict[str, Any]) -> str:
        if event.get("status") != "success":
            raise AirflowSensorTimeout(
                f"[InputMissingError] ({runbook_ref('input-missing')}) {event.get('key')} did not "
                f"appear within {self.timeout:.0f}s. Check the producer's delivery for this "
                "day; once the files and _SUCCESS marker are landed, clear this task."
            )
        self.log.info("Partition marker found: %s", event["key"])
        return event["key"]
