"""Airflow plugin: the runbook page and the data-root file view under ``/mlops`` on the
api-server (see mlops_airflow/ui.py), and a "Runbook" entry in the UI's navigation."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mlops_airflow.dag_defaults import RUNBOOK_COMMON
from mlops_airflow.ui import PREFIX, RUNBOOK_PATH, create_app
from mlops_core.config import Settings


class MlopsUiPlugin(AirflowPlugin):
    name = "mlops_ui"
    fastapi_apps = [
        {
            "app": create_app("# MLOps runbook\n" + RUNBOOK_COMMON, Settings.from_env().data_root),
            "url_prefix": PREFIX,
            "name": "MLOps runbook and files",
        }
    ]
    external_views = [
        {
            "name": "MLOps runbook",
            "href": RUNBOOK_PATH,
            "destination": "nav",
            "url_route": "mlops-runbook",
        }
    ]
