"""Hooks for the data lake and MLflow. Both fall back to environment settings when their
connection is not defined, so the embedded demo needs no connections at all."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    from mlops_core.config import Settings


def _connection(conn_id: str | None) -> Any | None:
    if not conn_id:
        return None
    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # noqa: BLE001 - AirflowNotFoundException moved between versions
        return None


class DataLakeHook(BaseHook):
    """The lake (local directory or S3 bucket).

    Connection ``mlops_lake`` (optional): extra ``{"url": "s3://bucket/prefix",
    "endpoint_url": "http://minio:9000"}``; login/password are the S3 access keys.
    Without it, MLOPS_STORAGE_URL / MLOPS_S3_ENDPOINT_URL (or the local default) apply.
    """

    conn_name_attr = "lake_conn_id"
    default_conn_name = "mlops_lake"
    conn_type = "mlops_lake"
    hook_name = "MLOps data lake"

    def __init__(self, lake_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lake_conn_id = lake_conn_id

    @cached_property
    def settings(self) -> Settings:
        from mlops_core.config import Settings

        settings = Settings.from_env()
        conn = _connection(self.lake_conn_id)
        if conn is None:
            return settings
        extra = conn.extra_dejson
        if conn.login and conn.password:
            import os

            os.environ.setdefault("AWS_ACCESS_KEY_ID", conn.login)
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", conn.password)
        return dataclasses.replace(
            settings,
            storage_url=extra.get("url", settings.storage_url),
            s3_endpoint_url=extra.get("endpoint_url", settings.s3_endpoint_url),
        )

    def get_conn(self):
        from mlops_core.storage import storage_from_url

        return storage_from_url(self.settings.storage_url, self.settings.s3_endpoint_url)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn().list("landing/")
        except Exception as exc:  # noqa: BLE001 - reported to the UI, not raised
            return False, f"cannot list {self.settings.storage_url}: {exc}"
        return True, f"listed {self.settings.storage_url}"


class MlflowHook(BaseHook):
    """MLflow tracking + registry. Connection ``mlflow_default`` (optional): host is the
    tracking URI (``http://mlflow:5000``); without it MLFLOW_TRACKING_URI or the local store."""

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlflow"
    hook_name = "MLflow"

    def __init__(self, mlflow_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mlflow_conn_id = mlflow_conn_id

    @cached_property
    def tracking_uri(self) -> str:
        conn = _connection(self.mlflow_conn_id)
        if conn is not None and conn.host:
            host = conn.host if "://" in conn.host else f"http://{conn.host}"
            return f"{host}:{conn.port}" if conn.port else host
        from mlops_core.config import Settings

        return Settings.from_env().mlflow_tracking_uri

    def get_conn(self):
        from mlops_core import registry

        return registry.client(self.tracking_uri)

    def test_connection(self) -> tuple[bool, str]:
        try:
            self.get_conn().search_experiments(max_results=1)
        except Exception as exc:  # noqa: BLE001 - reported to the UI, not raised
            return False, f"cannot reach MLflow at {self.tracking_uri}: {exc}"
        return True, f"MLflow at {self.tracking_uri} answered"


class AirflowApiHook(BaseHook):
    """Airflow's own REST API, for writing the failure summary as the task instance's note.

    Connection ``mlops_airflow_api``: host is the api-server's base URL
    (``http://127.0.0.1:8080``), login/password an Airflow user allowed to edit task instances
    (role ``op``). ``scripts/live_airflow.py`` defines it for the embedded Airflow; without it
    no note is written (and the notifier says so in the task log).
    """

    conn_name_attr = "airflow_api_conn_id"
    default_conn_name = "mlops_airflow_api"
    conn_type = "http"
    hook_name = "Airflow REST API (task notes)"

    def __init__(self, airflow_api_conn_id: str | None = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.airflow_api_conn_id = airflow_api_conn_id

    def get_conn(self):
        """An :class:`~mlops_airflow.rest.AirflowRestClient`, or None without the connection."""
        from mlops_airflow.rest import AirflowRestClient

        conn = _connection(self.airflow_api_conn_id)
        if conn is None or not conn.host:
            return None
        host = conn.host if "://" in conn.host else f"http://{conn.host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        return AirflowRestClient(host, conn.login or "", conn.password or "", timeout=10)
