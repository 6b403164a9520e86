"""
# recommender_scoring

Top-K recommendations for **every user** from the registry's champion
(`models:/recommender_model@champion`). Runs **daily at midnight UTC** for the day that ended and **whenever a
new champion is promoted** (Asset `recommender_model_champion`). Waits for the day's
interactions (`_SUCCESS`), validates them, then writes
`scored/interactions/dt=YYYY-MM-DD/recommendations.parquet` (user_id, rank, item_id, score,
model_version, source) and `_MANIFEST.json` last.

Users are everyone the model knows plus everyone with interactions in the last
`history_days` validated days; items they interacted with in that window are excluded.
Users without history in the window get the most popular items (`source=popularity`).
Chunks of `users_per_chunk` users bound memory; reruns rewrite identical bytes.

Backfill historical recommendations (needs a running scheduler):

    airflow backfill create --dag-id recommender_scoring --from-date 2026-11-01 --to-date 2026-11-07 --max-active-runs 4

With `model_selection=as_of` each day is scored by the model that was champion on that day
(from the promotion ledger); the manifest records the rule and version.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import (
    INTERACTIONS_SCHEMA,
    RECOMMENDATIONS_SCORED,
    RECOMMENDER_CHAMPION,
    RECOMMENDER_MODEL,
    RUNBOOK_COMMON,
    SENSOR_POKE_SECONDS,
    default_args,
)
from mlops_airflow.operators import (
    BatchScoreOperator,
    ExtractPartitionOperator,
    ValidatePartitionOperator,
)
from mlops_airflow.sensors import PartitionSensor

with DAG(
    dag_id="recommender_scoring",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        assets=RECOMMENDER_CHAMPION,
    ),
    catchup=False,
    max_active_runs=4,
    tags=["recommender", "scoring", "batch"],
    default_args=default_args(),
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Partition to score (YYYY-MM-DD); defaults to the logical date.",
        ),
        "model_selection": Param(
            "champion",
            enum=["champion", "challenger", "as_of"],
            description="Model to score with: an alias, or as_of = the champion on the partition's day (for backfills).",
        ),
        "k": Param(10, type="integer", minimum=1, maximum=500, description="Items per user."),
        "history_days": Param(
            28,
            type="integer",
            minimum=1,
            maximum=365,
            description="Days of interactions that define each user's history and seen items.",
        ),
        "users_per_chunk": Param(
            50_000,
            type="integer",
            minimum=1_000,
            maximum=2_000_000,
            description="Users scored per chunk (bounds memory).",
        ),
    },
) as dag:
    wait = PartitionSensor(
        task_id="wait_for_partition",
        dataset_schema=INTERACTIONS_SCHEMA,
        timeout=12 * 3600,
        poke_interval=SENSOR_POKE_SECONDS,
        execution_timeout=dt.timedelta(hours=13),
    )
    extract = ExtractPartitionOperator(dataset_schema=INTERACTIONS_SCHEMA, task_id="extract")
    validate = ValidatePartitionOperator(
        dataset_schema=INTERACTIONS_SCHEMA, task_id="validate", with_label=False
    )
    recommend = BatchScoreOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="recommend",
        model_name=RECOMMENDER_MODEL,
        model_selection="{{ params.model_selection }}",
        top_k="{{ params.k }}",
        history_days="{{ params.history_days }}",
        users_per_chunk="{{ params.users_per_chunk }}",
        outlets=[RECOMMENDATIONS_SCORED],
    )
    wait >> extract >> validate >> recommend
