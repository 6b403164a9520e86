"""
# fraud_training

Retrains the fraud model **daily at 02:00 UTC**, **whenever new labelled transactions land**
(Asset `fraud_transactions_landed`) and **when monitoring requests it** (Asset
`fraud_model_retrain_requested`, emitted by `model_monitoring` on a drift or performance alert
that passed the retraining policy). A retrained model passes the same validation and gate as
any other; if the gate rejects it, the champion stays and the run says so.

extract (lookback window) -> validate (Great Expectations) -> train (scikit-learn, MLflow) ->
register (alias `challenger`) -> evaluation gate -> promote (alias `champion`).

Trigger with parameters from the UI: `day` (partition that ends the window, defaults to the
run's logical date or the day carried by the Asset event), `window_days`, and gate thresholds.
A rejected model fails the `evaluation_gate` task and never becomes champion.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import DAG, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import (
    FRAUD_CHAMPION,
    FRAUD_EXPERIMENT,
    FRAUD_LANDED,
    FRAUD_MODEL,
    FRAUD_RETRAIN_REQUESTED,
    FRAUD_SCHEMA,
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
    dag_id="fraud_training",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
        assets=(FRAUD_LANDED | FRAUD_RETRAIN_REQUESTED),
    ),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "training", "mlflow", "great-expectations"],
    default_args=default_args(execution_timeout=dt.timedelta(minutes=45)),
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last day of the training window (YYYY-MM-DD).",
        ),
        "window_days": Param(
            7,
            type="integer",
            minimum=1,
            maximum=90,
            description="Days of labelled data to train on.",
        ),
        "min_pr_auc": Param(
            0.20, type="number", minimum=0, maximum=1, description="Gate: PR-AUC floor."
        ),
        "min_recall_at_fpr": Param(
            0.30,
            type="number",
            minimum=0,
            maximum=1,
            description="Gate: recall floor at the FPR target.",
        ),
        "fpr_target": Param(
            0.01,
            type="number",
            exclusiveMinimum=0,
            maximum=0.5,
            description="False-positive rate for the recall metric.",
        ),
        "estimator": Param(
            "hist_gradient_boosting",
            enum=["hist_gradient_boosting", "logistic_regression", "random_forest"],
            description="Model to train (class-weighted; see TrainParams for hyperparameters).",
        ),
        "promotion": Param(
            "direct",
            enum=["direct", "shadow"],
            description="direct: a passing gate promotes now. shadow: the model stays challenger, is scored in shadow, and is promoted on evidence from matured labels.",
        ),
        "max_regression": Param(
            0.01,
            type="number",
            minimum=0,
            maximum=1,
            description="Gate: largest tolerated drop vs the champion.",
        ),
    },
) as dag:
    wait = PartitionSensor(
        task_id="wait_for_partition",
        dataset_schema=FRAUD_SCHEMA,
        timeout=6 * 3600,
        poke_interval=SENSOR_POKE_SECONDS,
    )
    extract = ExtractPartitionOperator(
        dataset_schema=FRAUD_SCHEMA, task_id="extract", window_days="{{ params.window_days }}"
    )
    validate = ValidatePartitionOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="validate",
        window_days="{{ params.window_days }}",
        with_label=True,
    )
    train = TrainModelOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="train",
        experiment=FRAUD_EXPERIMENT,
        window_days="{{ params.window_days }}",
        train_params={
            "fpr_target": "{{ params.fpr_target }}",
            "estimator": "{{ params.estimator }}",
        },
    )
    register = RegisterModelOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="register",
        model_name=FRAUD_MODEL,
        model_uri="{{ ti.xcom_pull(task_ids='train')['model_uri'] }}",
        run_id="{{ ti.xcom_pull(task_ids='train')['run_id'] }}",
    )
    gate = EvaluationGateOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="evaluation_gate",
        model_name=FRAUD_MODEL,
        version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
        thresholds={
            "min_pr_auc": "{{ params.min_pr_auc }}",
            "min_recall_at_fpr": "{{ params.min_recall_at_fpr }}",
            "fpr_target": "{{ params.fpr_target }}",
            "max_regression": "{{ params.max_regression }}",
        },
        retries=0,
    )
    promote = PromoteModelOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="promote",
        model_name=FRAUD_MODEL,
        version="{{ ti.xcom_pull(task_ids='register')['version'] }}",
        mode="{{ params.promotion }}",
        outlets=[FRAUD_CHAMPION],
    )
    wait >> extract >> validate >> train >> register >> gate >> promote
