"""The task libraries are imported once in the process that forks tasks: the LocalExecutor
before it forks its workers, the Celery worker before it forks its pool. Each check runs in
a fresh interpreter so that what this test process already imported cannot hide a miss."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_airflow import preload

REPO = Path(__file__).resolve().parents[2]
# Modules nothing in Airflow imports on its own, so finding them loaded proves the preload.
PROBES = "tabnanny,wave"


def _fresh_python(code: str, **env: str) -> dict:
    """Run ``code`` in a new interpreter (this repo's plugins and include on the path) and
    return the JSON it prints last."""
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "include")]),
        **env,
    }
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_configured_modules_come_from_the_environment() -> None:
    assert preload.configured_modules({}) == preload.DEFAULT_MODULES
    assert preload.configured_modules({"MLOPS_PRELOAD_MODULES": ""}) == preload.DEFAULT_MODULES
    assert preload.configured_modules({"MLOPS_PRELOAD_MODULES": " None "}) == ()
    assert preload.configured_modules({"MLOPS_PRELOAD_MODULES": " json, wave ,"}) == (
        "json",
        "wave",
    )


def test_a_module_that_fails_to_import_is_logged_and_skipped(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mlops_airflow.preload"):
        outcome = preload.preload(["json", "mlops_no_such_module", "colorsys"])
    assert outcome["json"] == outcome["colorsys"] == "ok"
    assert outcome["mlops_no_such_module"].startswith("ModuleNotFoundError")
    messages = [r.getMessage() for r in caplog.records]
    assert any("Preloading mlops_no_such_module failed" in m for m in messages)
    assert any("Preloaded 2 of 3 modules" in m for m in messages)


def test_default_modules_all_import() -> None:
    outcome = _fresh_python(
        """
        import json
        from mlops_airflow.preload import preload
        print(json.dumps(preload()))
        """
    )
    assert set(outcome) == set(preload.DEFAULT_MODULES)
    assert all(v == "ok" for v in outcome.values()), outcome


def test_local_executor_workers_are_forked_after_the_preload() -> None:
    seen = _fresh_python(
        """
        import json, sys
        from mlops_airflow.preload import PreloadingLocalExecutor
        before = [m in sys.modules for m in ("tabnanny", "wave")]
        executor = PreloadingLocalExecutor(parallelism=2)
        executor.start()
        after = [m in sys.modules for m in ("tabnanny", "wave")]
        workers = len(executor.workers)
        executor.end()
        print(json.dumps({"before": before, "after": after, "workers": workers}))
        """,
        MLOPS_PRELOAD_MODULES=PROBES,
    )
    assert seen == {"before": [False, False], "after": [True, True], "workers": 2}


def test_celery_config_preloads_when_the_worker_starts() -> None:
    seen = _fresh_python(
        """
        import json, sys
        from airflow.configuration import conf
        from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
        from celery.signals import worker_init
        config = conf.getimport("celery", "celery_config_options")
        loaded_by_config = "tabnanny" in sys.modules
        worker_init.send(sender=None)
        print(json.dumps({
            "same_as_default": config == DEFAULT_CELERY_CONFIG,
            "loaded_by_config": loaded_by_config,
            "loaded_at_worker_init": "tabnanny" in sys.modules and "wave" in sys.modules,
        }))
        """,
        MLOPS_PRELOAD_MODULES=PROBES,
        AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS="mlops_airflow.preload.CELERY_CONFIG",
    )
    # Importing the config (the scheduler does) loads nothing; the worker's start does.
    assert seen == {
        "same_as_default": True,
        "loaded_by_config": False,
        "loaded_at_worker_init": True,
    }


def test_celery_config_is_built_once() -> None:
    assert preload.CELERY_CONFIG is preload.CELERY_CONFIG
    with pytest.raises(AttributeError):
        preload.NOT_A_SETTING  # noqa: B018
