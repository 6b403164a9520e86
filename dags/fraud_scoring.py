"""
# fraud_scoring

Scores each day's transactions with the registry's **champion** (`models:/fraud_model@champion`).
Runs daily for the previous day's partition (data interval start); waits for the partition's
`_SUCCESS` marker with a deferrable sensor, validates it (labels not required), scores it in
bounded-memory batches and writes `scored/fraud_transactions/dt=YYYY-MM-DD/scores.parquet`
plus `_MANIFEST.json` (written last). Emits Asset `fraud_transactions_scored`.

Backfill historical scoring (needs a running scheduler):

    airflow backfill create --dag-id fraud_scoring --from-date 2026-11-01 --to-date 2026-11-07 --max-active-runs 4

Reruns rewrite identical bytes; they never append or duplicate rows. For historical rescoring
pass `model_selection=as_of` to use the model that was champion on each partition's day
(from the promotion ledger); the manifest records the rule and the version used.

Shadow mode: when a challenger has passed the gate but is not champion (fraud_training with
`promotion=shadow`), `shadow_score` scores it into `scored_shadow/...` beside the champion's
output; `model_monitoring` compares the two on matured labels and promotes on evidence.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import (
    FRAUD_MODEL,
    FRAUD_SCHEMA,
    FRAUD_SCORED,
    RUNBOOK_COMMON,
    SENSOR_POKE_SECONDS,
    default_args,
)
from mlops_airflow.operators import (
    BatchScoreOperator,
    ExtractPartitionOperator,
    ShadowScoreOperator,
    ValidatePartitionOperator,
)
from mlops_airflow.sensors import PartitionSensor

with DAG(
    dag_id="fraud_scoring",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    catchup=False,
    max_active_runs=4,
    tags=["fraud", "scoring", "batch"],
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
        "shadow": Param(
            True,
            type="boolean",
            description="Also score a gate-passed challenger into scored_shadow/ (skipped when there is none).",
        ),
        "batch_rows": Param(
            250_000,
            type="integer",
            minimum=1_000,
            maximum=5_000_000,
            description="Rows per scoring batch (bounds memory).",
        ),
    },
) as dag:
    wait = PartitionSensor(
        task_id="wait_for_partition",
        dataset_schema=FRAUD_SCHEMA,
        timeout=12 * 3600,
        poke_interval=SENSOR_POKE_SECONDS,
        execution_timeout=dt.timedelta(hours=13),
    )
    extract = ExtractPartitionOperator(dataset_schema=FRAUD_SCHEMA, task_id="extract")
    validate = ValidatePartitionOperator(
        dataset_schema=FRAUD_SCHEMA, task_id="validate", with_label=False
    )
    score = BatchScoreOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="score",
        model_name=FRAUD_MODEL,
        model_selection="{{ params.model_selection }}",
        batch_rows="{{ params.batch_rows }}",
        outlets=[FRAUD_SCORED],
    )
    shadow = ShadowScoreOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="shadow_score",
        model_name=FRAUD_MODEL,
        batch_rows="{{ params.batch_rows }}",
        enabled="{{ params.shadow }}",
    )
    wait >> extract >> validate >> [score, shadow]
