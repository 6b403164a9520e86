"""
# interactions_sample_landing

Demo producer for the recommender: generates a day of synthetic implicit feedback (sessions of
views, add-to-carts and purchases; power-law item popularity; users with taste clusters) into
`landing/interactions/dt=YYYY-MM-DD/` with a `_SUCCESS` marker and emits Asset
`interactions_landed`, which triggers `recommender_training`.

To use a public ratings dataset instead (MovieLens `ratings.dat` / `u.data` / `ratings.csv`):

    .venv/bin/python scripts/land_ratings.py path/to/ratings.dat

splits it by day into the same landing layout.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from mlops_airflow.dag_defaults import (
    INTERACTIONS_LANDED,
    INTERACTIONS_SCHEMA,
    RUNBOOK_COMMON,
    default_args,
)
from mlops_airflow.operators import LandSampleDataOperator

with DAG(
    dag_id="interactions_sample_landing",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=None,
    catchup=False,
    tags=["recommender", "demo", "landing"],
    default_args=default_args(),
    params={
        "day": Param(
            None, type=["null", "string"], format="date", description="Partition date to land."
        ),
        "sessions": Param(2_500, type="integer", minimum=10, maximum=5_000_000),
        "seed": Param(11, type="integer"),
    },
) as dag:
    LandSampleDataOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="land",
        rows="{{ params.sessions }}",
        seed="{{ params.seed }}",
        outlets=[INTERACTIONS_LANDED],
    )
