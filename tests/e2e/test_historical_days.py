"""Historical days: a run for a day years before today executes its tasks (the DAGs have no
start date that would silently skip them), and a day before MLOPS_EARLIEST_DATE fails with a
clear, non-retried error instead of a "successful" run that did nothing."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from airflow_env import airflow_env  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_old_days_run_and_days_before_the_earliest_are_refused(tmp_path, live_dags) -> None:
    import datetime as dt

    from mlops_core import lake

    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLOPS_", "MLFLOW_"))
    }
    env = airflow_env(tmp_path, {**base, "MLOPS_EARLIEST_DATE": "1995-01-01"})
    dag = live_dags(env)
    conf = {"rows": 200}
    state, log = dag.attempt("fraud_sample_landing", dt.date(1998, 5, 1), conf=conf)
    assert state == "success", log[-3000:]
    landed = tmp_path / "lake" / lake.landing_prefix("fraud_transactions", "1998-05-01")
    assert (landed / "part-000.csv").stat().st_size > 0 and (landed / lake.SUCCESS_MARKER).exists()

    state, text = dag.attempt("fraud_sample_landing", dt.date(1994, 12, 31), conf=conf)
    assert state == "failed", text[-3000:]
    assert "DayOutOfRangeError" in text and "before the earliest day 1995-01-01" in text
    assert not (
        tmp_path / "lake" / lake.landing_prefix("fraud_transactions", "1994-12-31")
    ).exists()
