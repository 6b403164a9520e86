"""
# fraud_sample_landing

Demo producer: generates a day of synthetic card transactions (~1% fraud) into
`landing/fraud_transactions/dt=YYYY-MM-DD/` with a `_SUCCESS` marker and emits Asset
`fraud_transactions_landed`, which triggers `fraud_training`. Real producers land their own
files the same way and post the Asset event through the REST API.

`drift` > 0 shifts the category mix and amounts and changes the fraud pattern.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_airflow.dag_defaults import FRAUD_LANDED, FRAUD_SCHEMA, RUNBOOK_COMMON, default_args
from mlops_airflow.operators import LandSampleDataOperator

with DAG(
    dag_id="fraud_sample_landing",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=None,
    catchup=False,
    tags=["fraud", "demo", "landing"],
    default_args=default_args(),
    params={
        "day": Param(
            None, type=["null", "string"], format="date", description="Partition date to land."
        ),
        "rows": Param(5_000, type="integer", minimum=100, maximum=20_000_000),
        "seed": Param(7, type="integer"),
        "drift": Param(0.0, type="number", minimum=0, maximum=1),
    },
) as dag:
    LandSampleDataOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="land",
        rows="{{ params.rows }}",
        seed="{{ params.seed }}",
        drift="{{ params.drift }}",
        outlets=[FRAUD_LANDED],
    )
