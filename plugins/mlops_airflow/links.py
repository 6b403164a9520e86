"""Operator extra links: from a task in the Airflow UI to what it produced or rejected.

Each operator records the targets it reached while it runs (:meth:`LinkTargets.record`): the
MLflow run, the registered model version, the Data Docs page, the gate verdict, the drift
report, the quarantine folder. Airflow asks every link of the operator for its URL when the
task finishes, successful or failed, in the same worker process, and stores it as the link's
XCom, which the UI shows as a button on the task. A link the task never reached has no URL.

Base URLs come from the environment, so links work behind whatever UI serves each store:
``MLOPS_MLFLOW_UI_URL`` (the MLflow UI; default: the tracking URI when it is http(s), else
``http://127.0.0.1:5000`` as ``make mlflow-ui`` serves it), ``MLOPS_FILES_URL`` (a web server
over the data root for reports, Data Docs and a local lake; default ``file://`` URLs) and
``MLOPS_S3_BROWSER_URL`` (a template with ``{bucket}`` and ``{key}`` for an S3 console or
browser; default the ``s3://`` URI).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

MLFLOW_RUN = "MLflow run"
MODEL_VERSION = "Model version"
DATA_DOCS = "Data Docs"
GATE_VERDICT = "Gate verdict"
DRIFT_REPORT = "Drift report"
QUARANTINE = "Quarantine"


def mlflow_ui_base(tracking_uri: str, env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    base = env.get("MLOPS_MLFLOW_UI_URL")
    if base:
        return base.rstrip("/")
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/")
    return "http://127.0.0.1:5000"


def mlflow_run_url(base: str, experiment_id: str, run_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}"


def model_version_url(base: str, model_name: str, version: str) -> str:
    return f"{base}/#/models/{quote(model_name)}/versions/{version}"


def location_url(
    location: str, data_root: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """A browsable URL for a local path or an ``s3://bucket/key`` location."""
    env = os.environ if env is None else env
    if location.startswith("s3://"):
        bucket, _, key = location.removeprefix("s3://").partition("/")
        template = env.get("MLOPS_S3_BROWSER_URL")
        return template.format(bucket=bucket, key=quote(key)) if template else location
    path = Path(location.removeprefix("file://")).resolve()
    files = env.get("MLOPS_FILES_URL")
    if files and data_root is not None and path.is_relative_to(data_root.resolve()):
        return f"{files.rstrip('/')}/{quote(str(path.relative_to(data_root.resolve())))}"
    return path.as_uri()


class LinkTargets:
    """The mixin an operator uses to record where its links point."""

    def record_link(self, name: str, url: str | None) -> None:
        if url:
            targets: dict[str, str] = self.__dict__.setdefault("_link_targets", {})
            targets[name] = url

    def link_target(self, name: str) -> str:
        return self.__dict__.get("_link_targets", {}).get(name, "")


class _RecordedLink(BaseOperatorLink):
    """A link to the target its operator recorded under the link's name (none: no URL)."""

    link_name = ""

    @property
    def name(self) -> str:
        return self.link_name

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        target = getattr(operator, "link_target", None)
        return target(self.link_name) if callable(target) else ""


class MlflowRunLink(_RecordedLink):
    link_name = MLFLOW_RUN


class ModelVersionLink(_RecordedLink):
    link_name = MODEL_VERSION


class DataDocsLink(_RecordedLink):
    link_name = DATA_DOCS


class GateVerdictLink(_RecordedLink):
    link_name = GATE_VERDICT


class DriftReportLink(_RecordedLink):
    link_name = DRIFT_REPORT


class QuarantineLink(_RecordedLink):
    link_name = QUARANTINE
