"""End-to-end runs go through a live Airflow on the embedded default (scripts/live_airflow.py,
schedules off): each test starts one over its own data root and triggers its runs through the
REST API, as `make demo` does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

import demo  # noqa: E402
from live_airflow import LiveAirflow, free_port, live_environment  # noqa: E402

ALL_DAGS = (*demo.DEMO_DAGS, "fraud_rollback", "recommender_rollback", "loans_rollback")


@pytest.fixture
def live_dags() -> Iterator[Callable[[dict[str, str]], demo.DagRunner]]:
    """``live_dags(env)`` starts a live Airflow for ``env`` (an airflow_env environment) and
    returns a :class:`demo.DagRunner` on it; every Airflow started is stopped at teardown."""
    started: list[LiveAirflow] = []

    def start(env: dict[str, str]) -> demo.DagRunner:
        port = free_port()
        live = LiveAirflow(live_environment(env, port=port, schedules=False), port)
        started.append(live)
        live.start()
        live.wait_for_dags(list(ALL_DAGS))
        return demo.DagRunner(live.client(), [], live.base_url)

    yield start
    for live in started:
        live.stop()
