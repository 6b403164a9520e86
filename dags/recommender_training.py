"""
# recommender_training

Retrains the recommender **weekly (Monday 03:00 UTC)** and **whenever new interactions land**
(Asset `interactions_landed`).

extract (lookback window) -> validate (Great Expectations: non-null ids, rating range, unique
(user, item, timestamp), timestamps inside the partition, minimum distinct users/items) ->
train (PureSVD on the sparse user x item matrix, scikit-learn; MLflow pyfunc model returning
top-K items, factors and id maps as artifacts) -> register (alias `challenger`) -> evaluation
gate -> promote (alias `champion`, emits Asset `recommender_model_champion`, which triggers
`recommender_scoring`).

Evaluation holds out the last `holdout_days` of the window, extended backwards by whole days
(up to `max_holdout_days`) until `min_users_evaluated` users have history and new items in it:
recall@K, NDCG@K and catalogue coverage of the challenger, the popularity baseline and the
current champion, on the same users and history. The gate requires beating popularity by
`min_lift_over_popularity` (relative) on recall@K and NDCG@K and not falling more than
`max_regression` below the champion. A rejection fails `evaluation_gate` without retries; so
does a verdict of `insufficient` ("not enough evaluated users: N of M needed"). Either way the
champion is unchanged.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import (
    INTERACTIONS_LANDED,
    INTERACTIONS_SCHEMA,
    RECOMMENDER_CHAMPION,
    RECOMMENDER_EXPERIMENT,
    RECOMMENDER_MODEL,
    RUNBOOK_COMMON,
    SENSOR_POKE_SECONDS,
    default_args,
)
from mlops_airflow.operators import (
    EvaluationGateOperator,
    ExtractPartitionOperator,
    PromoteModelOperator,
    RegisterModelOperator,
    TrainModelOperator,
    ValidatePartitionOperator,
)
from mlops_airflow.sensors import PartitionSensor

with DAG(
    dag_id="recommender_training",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 3 * * 1", timezone="UTC"),
        assets=INTERACTIONS_LANDED,
    ),
    catchup=False,
    max_active_runs=1,
    tags=["recommender", "training", "mlflow", "great-expectations"],
    default_args=default_args(execution_timeout=dt.timedelta(minutes=60)),
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last day of the training window (YYYY-MM-DD).",
        ),
        "window_days": Param(28, type="integer", minimum=2, maximum=365),
        "holdout_days": Param(
            3,
            type="integer",
            minimum=1,
            maximum=30,
            description="Newest days held out (at least; extended when too few users).",
        ),
        "max_holdout_days": Param(
            14,
            type="integer",
            minimum=1,
            maximum=60,
            description="Longest holdout when extending it to reach min_users_evaluated.",
        ),
        "min_users_evaluated": Param(
            50,
            type="integer",
            minimum=1,
            description="Gate: evaluated users needed to decide (fewer: verdict insufficient).",
        ),
        "estimator": Param(
            "pure_svd",
            enum=["pure_svd", "als"],
            description="Ranking model: PureSVD, or implicit-feedback ALS (see RecTrainParams).",
        ),
        "factors": Param(32, type="integer", minimum=2, maximum=512),
        "k": Param(10, type="integer", minimum=1, maximum=200, description="K of recall/NDCG@K."),
        "min_lift_over_popularity": Param(
            0.10,
            type="number",
            minimum=0,
            maximum=10,
            description="Gate: relative margin over the popularity baseline.",
        ),
        "max_regression": Param(
            0.01,
            type="number",
            minimum=0,
            maximum=1,
            description="Gate: largest tolerated drop vs the champion (recall@K, NDCG@K).",
        ),
    },
) as dag:
    wait = PartitionSensor(
        task_id="wait_for_partition",
        dataset_schema=INTERACTIONS_SCHEMA,
        timeout=6 * 3600,
        poke_interval=SENSOR_POKE_SECONDS,
    )
    extract = ExtractPartitionOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="extract",
        window_days="{{ params.window_days }}",
    )
    validate = ValidatePartitionOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="validate",
        window_days="{{ params.window_days }}",
        with_label=True,
    )
    train = TrainModelOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="train",
        experiment=RECOMMENDER_EXPERIMENT,
        window_days="{{ params.window_days }}",
        train_params={
            "holdout_days": "{{ params.holdout_days }}",
            "max_holdout_days": "{{ params.max_holdout_days }}",
            "min_users_evaluated": "{{ params.min_users_evaluated }}",
            "estimator": "{{ params.estimator }}",
            "factors": "{{ params.factors }}",
            "k": "{{ params.k }}",
        },
    )
    register = RegisterModelOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="register",
        model_name=RECOMMENDER_MODEL,
        model_uri="{{ ti.xcom_pull(task_ids='train')['model_uri'] }}",
        run_id="{{ ti.xcom_pull(task_ids='train')['run_id'] }}",
    )
    gate = EvaluationGateOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="evaluation_gate",
        model_name=RECOMMENDER_MODEL,
        version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
        thresholds={
            "k": "{{ params.k }}",
            "min_lift_over_popularity": "{{ params.min_lift_over_popularity }}",
            "max_regression": "{{ params.max_regression }}",
            "min_users_evaluated": "{{ params.min_users_evaluated }}",
        },
        retries=0,
    )
    promote = PromoteModelOperator(
        dataset_schema=INTERACTIONS_SCHEMA,
        task_id="promote",
        model_name=RECOMMENDER_MODEL,
        version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
        outlets=[RECOMMENDER_CHAMPION],
    )
    wait >> extract >> validate >> train >> register >> gate >> promote
