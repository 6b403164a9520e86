"""
# rollback_champion

Moves alias `champion` of `fraud_model` back, atomically (one registry call), and records the
rollback in the promotion ledger (`<lake>/registry/fraud_model/ledger/`). Trigger it from the
UI with `target`: a version number, or `previous` for the champion before the current one.
Scoring picks the restored champion up on its next run; `as_of` backfills see the rollback
from its logical date on.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_airflow.dag_defaults import FRAUD_CHAMPION, FRAUD_MODEL, RUNBOOK_COMMON, default_args
from mlops_airflow.operators import RollbackChampionOperator

with DAG(
    dag_id="rollback_champion",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "registry", "rollback"],
    default_args=default_args(),
    params={
        "target": Param(
            "previous",
            type="string",
            pattern=r"^(previous|[0-9]+)$",
            description="Version to restore, or 'previous'.",
        ),
    },
) as dag:
    RollbackChampionOperator(
        task_id="rollback",
        model_name=FRAUD_MODEL,
        target="{{ params.target }}",
        outlets=[FRAUD_CHAMPION],
    )
