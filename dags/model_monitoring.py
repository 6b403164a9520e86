"""
# model_monitoring

Daily at 06:00 UTC and whenever a scored partition lands (Asset `fraud_transactions_scored`):
compares the day's scored partition with the champion's training reference.

- **Feature drift**: PSI per feature (numeric on reference quantile bins, categorical with an
  "unseen" bucket) and a KS test for numeric features; **prediction drift** on the scores.
  Defaults: PSI 0.1 warn, 0.25 alert.
- **Performance decay** on matured labels (labels arrive `label_delay_days` late): PR-AUC of
  the stored scores against the labels, pooled over recent matured partitions, versus the
  champion's evaluation PR-AUC.
- **Retraining policy**: only an alert retrains (hysteresis), after a cooldown, with enough new
  labelled data, within a daily budget. Every decision, retrain or not, is stored in
  `<lake>/monitoring/fraud_model/decisions/dt=YYYY-MM-DD.json` with its reason.

A retrain decision emits Asset `fraud_model_retrain_requested`, which triggers `fraud_training`;
otherwise `request_retraining` is skipped and its log says why. The report (JSON and HTML with
plots) is under `<MLOPS_DATA_ROOT>/reports/monitoring/fraud_model/dt=.../` and in MLflow
experiment `fraud_model_monitoring`.

**Shadow evaluation** (independent task): when a gate-passed challenger has been shadow-scored
(fraud_scoring's `shadow_score`), compares it with the champion on matured labels using a
paired bootstrap interval on the PR-AUC difference with a minimum sample size, and promotes it
(ledger entry, alias move) only when the whole interval favours it.
"""

from __future__ import annotations

from airflow.sdk import DAG, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import (
    FRAUD_MODEL,
    FRAUD_RETRAIN_REQUESTED,
    FRAUD_SCHEMA,
    FRAUD_SCORED,
    RUNBOOK_COMMON,
    default_args,
)
from mlops_airflow.operators import (
    MonitorModelOperator,
    RequestRetrainOperator,
    ShadowEvaluationOperator,
)

with DAG(
    dag_id="model_monitoring",
    doc_md=__doc__ + RUNBOOK_COMMON,
    start_date=None,  # any historical day runs; resolve_day refuses days before EARLIEST_DAY
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"), assets=FRAUD_SCORED
    ),
    catchup=False,
    max_active_runs=1,
    tags=["fraud", "monitoring", "drift", "retraining"],
    default_args=default_args(),
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Partition to monitor (YYYY-MM-DD).",
        ),
        "psi_warn": Param(
            0.1, type="number", minimum=0, description="PSI at which a feature warns."
        ),
        "psi_alert": Param(
            0.25, type="number", minimum=0, description="PSI at which a feature alerts."
        ),
        "label_delay_days": Param(
            1, type="integer", minimum=0, maximum=120, description="Days until labels mature."
        ),
        "perf_alert_drop": Param(
            0.10, type="number", minimum=0, maximum=1, description="PR-AUC drop that alerts."
        ),
        "cooldown_hours": Param(
            24, type="number", minimum=0, description="Minimum hours between retrains."
        ),
        "min_new_labelled_rows": Param(
            5_000, type="integer", minimum=0, description="New labelled rows needed to retrain."
        ),
        "shadow_min_positives": Param(
            50,
            type="integer",
            minimum=1,
            description="Matured positives needed before a shadow comparison decides.",
        ),
        "max_retrains_per_day": Param(
            1, type="integer", minimum=0, description="Retrain budget per day."
        ),
    },
) as dag:
    monitor = MonitorModelOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="monitor",
        model_name=FRAUD_MODEL,
        drift={"psi_warn": "{{ params.psi_warn }}", "psi_alert": "{{ params.psi_alert }}"},
        performance={
            "label_delay_days": "{{ params.label_delay_days }}",
            "alert_drop": "{{ params.perf_alert_drop }}",
        },
        policy={
            "cooldown_hours": "{{ params.cooldown_hours }}",
            "min_new_labelled_rows": "{{ params.min_new_labelled_rows }}",
            "max_retrains_per_day": "{{ params.max_retrains_per_day }}",
        },
    )
    request = RequestRetrainOperator(
        task_id="request_retraining", monitor_task_id="monitor", outlets=[FRAUD_RETRAIN_REQUESTED]
    )
    shadow_evaluation = ShadowEvaluationOperator(
        dataset_schema=FRAUD_SCHEMA,
        task_id="shadow_evaluation",
        model_name=FRAUD_MODEL,
        label_delay_days="{{ params.label_delay_days }}",
        min_positives="{{ params.shadow_min_positives }}",
    )
    monitor >> request
