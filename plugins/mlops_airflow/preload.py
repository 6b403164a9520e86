"""Import the libraries tasks use once, in the process that forks the task processes.

Airflow forks every task from a long-lived parent (a LocalExecutor worker, forked from the
scheduler; a Celery pool process, forked from the Celery worker). Each task then imports
pandas, scikit-learn, MLflow and Great Expectations again: about 9 s of CPU per task on this
stack, more than most of our tasks spend working. Imported in the parent before it forks,
the modules are inherited copy-on-write, as gunicorn's ``preload_app`` does for web workers.

Which modules: ``MLOPS_PRELOAD_MODULES`` (comma-separated; ``none`` turns preloading off), or
:data:`DEFAULT_MODULES` when it is unset or empty. A module that fails to import is logged
and skipped: the task that needs it then fails with the real error in its own log.

Enable it with ``AIRFLOW__CORE__EXECUTOR=mlops_airflow.preload.PreloadingLocalExecutor``, or for
Celery with ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=mlops_airflow.preload.CELERY_CONFIG``.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Sequence

from airflow.executors.local_executor import LocalExecutor

log = logging.getLogger(__name__)

DEFAULT_MODULES: tuple[str, ...] = (
    "pandas",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "matplotlib.pyplot",
    "skops.io",
    "mlflow",
    "mlflow.sklearn",
    "great_expectations",
    "mlops_core.steps",
    "mlops_core.monitoring",
    "mlops_core.validate",
    "mlops_core.score",
    "mlops_core.recsys.steps",
    "mlops_core.tasks",
    "mlops_core.tracking_artifacts",
)


def configured_modules(env: dict[str, str] | os._Environ[str] = os.environ) -> tuple[str, ...]:
    """The modules to preload: ``MLOPS_PRELOAD_MODULES`` if set and not empty (``none``: no
    modules), else :data:`DEFAULT_MODULES`."""
    raw = env.get("MLOPS_PRELOAD_MODULES", "").strip()
    if not raw:
        return DEFAULT_MODULES
    if raw.lower() == "none":
        return ()
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def preload(modules: Sequence[str] | None = None) -> dict[str, str]:
    """Import ``modules`` (default: :func:`configured_modules`); returns name -> "ok" or the
    error text for each, and logs one line with the count and the time taken."""
    # Plots are rendered to files; a GUI backend chosen here would be inherited by every task.
    os.environ.setdefault("MPLBACKEND", "Agg")
    names = configured_modules() if modules is None else tuple(modules)
    started = time.monotonic()
    outcome: dict[str, str] = {}
    for name in names:
        try:
            importlib.import_module(name)
            outcome[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - a bad entry must not stop the executor
            outcome[name] = f"{type(exc).__name__}: {exc}"
            log.warning("Preloading %s failed (%s); tasks will import it themselves", name, exc)
    failed = sum(1 for v in outcome.values() if v != "ok")
    log.info(
        "Preloaded %s of %s modules for forked tasks in %.1f s",
        len(names) - failed,
        len(names),
        time.monotonic() - started,
    )
    return outcome


class PreloadingLocalExecutor(LocalExecutor):
    """A LocalExecutor whose workers, and so every task they fork, start with the task
    libraries already imported (see the module docstring)."""

    def start(self) -> None:
        preload()
        super().start()


def _celery_config() -> dict:
    """Airflow's default Celery config, with the preload hooked to the worker's start: the
    ``worker_init`` signal fires in the main worker process before it forks its pool."""
    from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
    from celery.signals import worker_init

    worker_init.connect(lambda **_: preload(), weak=False)
    return dict(DEFAULT_CELERY_CONFIG)


def __getattr__(name: str):
    # Built on first access, so importing this module for the LocalExecutor needs no Celery.
    if name == "CELERY_CONFIG":
        config = _celery_config()
        globals()["CELERY_CONFIG"] = config
        return config
    raise AttributeError(name)
