"""One factory builds every use case's DAGs from its spec (``mlops_core.spec``).

Per use case ``<name>``:

- ``<name>_sample_landing`` (when the spec has ``sample_data``): the demo producer.
- ``<name>_training``: wait -> extract window -> validate -> train -> register -> gate ->
  promote, on the spec's schedule and/or when data lands / monitoring requests a retrain.
- ``<name>_scoring``: wait -> extract -> validate -> score (+ shadow score), daily and
  backfillable, optionally on every new champion.
- ``<name>_monitoring`` (when the spec has ``monitoring``): drift, matured-label performance,
  the retraining decision and the shadow comparison.
- ``<name>_rollback``: move the champion back, recorded in the promotion ledger.

The DAGs differ only by what the spec says; the operators are the same for every use case
and ask the spec's task type what training, gating and scoring mean. Trigger-form Params
are derived from the spec: its values are their defaults, their bounds come from the task
type. Nothing heavy is imported here (the spec loader reads YAML and builds dataclasses).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, Param

from mlops_airflow.dag_defaults import RUNBOOK_COMMON, SENSOR_POKE_SECONDS, default_args

log = logging.getLogger(__name__)

_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}
# (section of the spec's monitoring, field, Param name) offered on the monitoring DAG's form.
MONITORING_PARAMS = (
    ("drift", "psi_warn", "psi_warn"),
    ("drift", "psi_alert", "psi_alert"),
    ("performance", "label_delay_days", "label_delay_days"),
    ("performance", "alert_drop", "perf_alert_drop"),
    ("policy", "cooldown_hours", "cooldown_hours"),
    ("policy", "cooldown_days", "cooldown_days"),
    ("policy", "alert_days_required", "alert_days_required"),
    ("policy", "min_new_labelled_rows", "min_new_labelled_rows"),
    ("policy", "max_retrains_per_day", "max_retrains_per_day"),
    ("shadow", "min_positives", "shadow_min_positives"),
)
_MONITORING_HELP = {
    "psi_warn": {"minimum": 0, "description": "PSI at which a feature warns."},
    "psi_alert": {"minimum": 0, "description": "PSI at which a feature alerts."},
    "label_delay_days": {"minimum": 0, "maximum": 120, "description": "Days until labels mature."},
    "perf_alert_drop": {"minimum": 0, "maximum": 1, "description": "PR-AUC drop that alerts."},
    "cooldown_hours": {"minimum": 0, "description": "Minimum hours between retrains."},
    "cooldown_days": {"minimum": 0, "description": "Days after a retrain that never retrain."},
    "alert_days_required": {
        "minimum": 1,
        "description": "Alert days among the policy's last alert_days_window days to retrain.",
    },
    "min_new_labelled_rows": {"minimum": 0, "description": "New labelled rows to retrain."},
    "max_retrains_per_day": {"minimum": 0, "description": "Retrain budget per day."},
    "shadow_min_positives": {
        "minimum": 1,
        "description": "Matured positives needed before a shadow comparison decides.",
    },
}


@dataclasses.dataclass(frozen=True)
class UseCaseAssets:
    """The Assets that connect one use case's DAGs."""

    landed: Asset
    champion: Asset
    scored: Asset
    retrain_requested: Asset


def assets_for(spec) -> UseCaseAssets:
    dataset, model = spec.dataset.name, spec.model_name
    return UseCaseAssets(
        landed=Asset(name=f"{dataset}_landed", uri=f"x-mlops://lake/landing/{dataset}"),
        champion=Asset(name=f"{model}_champion", uri=f"x-mlops://registry/{model}/champion"),
        scored=Asset(name=f"{dataset}_scored", uri=f"x-mlops://lake/scored/{dataset}"),
        retrain_requested=Asset(
            name=f"{model}_retrain_requested", uri=f"x-mlops://monitoring/{model}/retrain"
        ),
    )


def _param(value: Any, help_: dict[str, Any] | None = None, **schema: Any) -> Param:
    kind = _JSON_TYPES.get(type(value), "string")
    return Param(value, **{"type": kind, **(help_ or {}), **schema})


def _day_param(what: str) -> Param:
    return Param(None, type=["null", "string"], format="date", description=f"{what} (YYYY-MM-DD).")


def _ref(name: str) -> str:
    """A Jinja reference to the run's Param ``name``."""
    return "{{ params." + name + " }}"


def _templated(names) -> dict[str, str]:
    return {name: _ref(name) for name in names}


def _schedule(cron: str | None, assets):
    if cron and assets is not None:
        return AssetOrTimeSchedule(
            timetable=CronDataIntervalTimetable(cron, timezone="UTC"), assets=assets
        )
    if cron:
        return CronDataIntervalTimetable(cron, timezone="UTC")
    return assets


def _doc(spec, role: str, flow: str) -> str:
    return (
        f"# {spec.dag_id(role)}\n\n{spec.description or spec.name}\n\n"
        f"Use case `{spec.name}` (task `{spec.task}`, owner `{spec.owner}`), built from the "
        f"spec `{spec.source}`; change the spec, not this DAG.\n\n{flow}\n" + RUNBOOK_COMMON
    )


# What each kind of DAG touches, as tags to filter the DAG list by.
_ROLE_TAGS = {
    "training": ("mlflow", "great-expectations"),
    "scoring": ("batch",),
    "monitoring": ("drift", "retraining"),
    "rollback": ("registry",),
    "sample_landing": ("demo",),
}


def _dag(spec, role: str, *, schedule, params, flow: str, **kwargs: Any) -> DAG:
    return DAG(
        dag_id=spec.dag_id(role),
        doc_md=_doc(spec, role, flow),
        start_date=None,  # any historical day runs; resolve_day refuses days before the earliest
        schedule=schedule,
        catchup=False,
        # At most four: the DAG list shows four tags per DAG before it folds the rest.
        tags=[spec.name, role.replace("_", "-"), *_ROLE_TAGS[role]],
        params=params,
        **kwargs,
    )


def build_training(spec, assets: UseCaseAssets) -> DAG:
    from mlops_airflow.operators import (
        EvaluationGateOperator,
        ExtractPartitionOperator,
        PromoteModelOperator,
        RegisterModelOperator,
        TrainModelOperator,
        ValidatePartitionOperator,
    )
    from mlops_airflow.sensors import PartitionSensor

    tt = spec.task_type
    train_fields = {f.name for f in dataclasses.fields(spec.train)}
    gate_fields = [f.name for f in dataclasses.fields(spec.gate)]
    params: dict[str, Any] = {"day": _day_param("Last day of the training window")}
    for name in tt.training_knobs:
        value = getattr(spec.train, name)
        if name == "estimator":
            params[name] = Param(
                value,
                enum=list(tt.estimators),
                description="Estimator to train (its hyperparameters come from the spec).",
            )
        else:
            params[name] = _param(value, tt.param_help.get(name))
    promotions = ["direct", "shadow"] if tt.supports_shadow else ["direct"]
    params["promotion"] = Param(
        spec.promotion,
        enum=promotions,
        description="direct: a passing gate promotes now. shadow: the model stays challenger, "
        "is scored in shadow, and is promoted on evidence from matured labels.",
    )
    for name in gate_fields:
        params.setdefault(name, _param(getattr(spec.gate, name), tt.param_help.get(name)))
    triggers = assets.landed if spec.train_on_new_data else None
    if spec.monitoring is not None:
        retrain = assets.retrain_requested
        triggers = retrain if triggers is None else (triggers | retrain)
    with _dag(
        spec,
        "training",
        schedule=_schedule(spec.training_schedule, triggers),
        params=params,
        max_active_runs=1,
        default_args=default_args(execution_timeout=dt.timedelta(minutes=60)),
        flow="wait -> extract (window) -> validate (Great Expectations) -> train -> register "
        "(no alias) -> evaluation gate (paired bootstrap, intervals in the verdict) -> promote "
        "(alias `champion`, or `challenger` in shadow mode; cron and landing runs follow "
        "`automatic_promotion`). A rejected or insufficient model fails `evaluation_gate` (not "
        "retried) and never becomes champion.",
    ) as dag:
        common = {"use_case": spec.name}
        wait = PartitionSensor(
            task_id="wait_for_partition",
            timeout=6 * 3600,
            poke_interval=SENSOR_POKE_SECONDS,
            **common,
        )
        window = "{{ params.window_days }}"
        extract = ExtractPartitionOperator(task_id="extract", window_days=window, **common)
        validate = ValidatePartitionOperator(
            task_id="validate", window_days=window, with_label=True, **common
        )
        train = TrainModelOperator(
            task_id="train",
            overrides=_templated(n for n in params if n in train_fields),
            **common,
        )
        register = RegisterModelOperator(
            task_id="register",
            model_uri="{{ ti.xcom_pull(task_ids='train')['model_uri'] }}",
            run_id="{{ ti.xcom_pull(task_ids='train')['run_id'] }}",
            **common,
        )
        version = "{{ ti.xcom_pull(task_ids='register')['version'] }}"
        gate = EvaluationGateOperator(
            task_id="evaluation_gate",
            version=version,
            thresholds=_templated(gate_fields),
            retries=0,
            **common,
        )
        promote = PromoteModelOperator(
            task_id="promote",
            version=version,
            mode="{{ params.promotion }}",
            outlets=[assets.champion],
            **common,
        )
        wait >> extract >> validate >> train >> register >> gate >> promote
    return dag


def build_scoring(spec, assets: UseCaseAssets) -> DAG:
    from mlops_airflow.operators import (
        BatchScoreOperator,
        ExtractPartitionOperator,
        ShadowScoreOperator,
        ValidatePartitionOperator,
    )
    from mlops_airflow.sensors import PartitionSensor

    tt = spec.task_type
    params: dict[str, Any] = {
        "day": _day_param("Partition to score; defaults to the logical date"),
        "model_selection": Param(
            "champion",
            enum=["champion", "challenger", "as_of"],
            description="Model to score with: an alias, or as_of = the champion on the "
            "partition's day (for backfills).",
        ),
    }
    for name in tt.scoring_knobs:
        params[name] = _param(getattr(spec.scoring, name), tt.param_help.get(name))
    overrides = _templated(tt.scoring_knobs)
    with _dag(
        spec,
        "scoring",
        schedule=_schedule(
            spec.scoring_schedule, assets.champion if spec.score_on_new_champion else None
        ),
        params=params,
        max_active_runs=4,
        default_args=default_args(),
        flow=f"wait -> extract -> validate -> score ({tt.output_label} into "
        f"`scored/{spec.dataset.name}/dt=<day>/`, manifest last; reruns and backfills write "
        "identical bytes). Backfill with `airflow backfill create --dag-id "
        f"{spec.dag_id('scoring')} --from-date A --to-date B`; `model_selection=as_of` scores "
        "each day with the model that was champion on it.",
    ) as dag:
        common = {"use_case": spec.name}
        wait = PartitionSensor(
            task_id="wait_for_partition",
            timeout=12 * 3600,
            poke_interval=SENSOR_POKE_SECONDS,
            execution_timeout=dt.timedelta(hours=13),
            **common,
        )
        extract = ExtractPartitionOperator(task_id="extract", **common)
        validate = ValidatePartitionOperator(task_id="validate", with_label=False, **common)
        score = BatchScoreOperator(
            task_id="score",
            model_selection="{{ params.model_selection }}",
            overrides=overrides,
            outlets=[assets.scored],
            **common,
        )
        wait >> extract >> validate >> score
        if tt.supports_shadow:
            shadow = ShadowScoreOperator(task_id="shadow_score", overrides=overrides, **common)
            validate >> shadow
    return dag


def build_monitoring(spec, assets: UseCaseAssets) -> DAG:
    from mlops_airflow.operators import (
        MonitorModelOperator,
        RequestRetrainOperator,
        ShadowEvaluationOperator,
    )

    monitoring = spec.monitoring
    params: dict[str, Any] = {"day": _day_param("Partition to monitor")}
    groups: dict[str, dict[str, str]] = {"drift": {}, "performance": {}, "policy": {}}
    for section, field, name in MONITORING_PARAMS:
        params[name] = _param(getattr(getattr(monitoring, section), field), _MONITORING_HELP[name])
        if section in groups:
            groups[section][field] = _ref(name)
    with _dag(
        spec,
        "monitoring",
        schedule=_schedule(monitoring.schedule, assets.scored),
        params=params,
        max_active_runs=1,
        default_args=default_args(),
        flow="monitor (feature and score drift, matured-label performance of the champion, "
        "retraining policy) -> request_retraining (emits the retrain-request Asset that "
        f"triggers {spec.dag_id('training')}); shadow_evaluation compares a shadow-scored "
        "challenger with the champion on matured labels and promotes it on evidence.",
    ) as dag:
        common = {"use_case": spec.name}
        monitor = MonitorModelOperator(task_id="monitor", **groups, **common)
        request = RequestRetrainOperator(
            task_id="request_retraining",
            monitor_task_id="monitor",
            outlets=[assets.retrain_requested],
        )
        ShadowEvaluationOperator(
            task_id="shadow_evaluation",
            label_delay_days="{{ params.label_delay_days }}",
            min_positives="{{ params.shadow_min_positives }}",
            **common,
        )
        monitor >> request
    return dag


def build_rollback(spec, assets: UseCaseAssets) -> DAG:
    from mlops_airflow.operators import RollbackChampionOperator

    with _dag(
        spec,
        "rollback",
        schedule=None,
        params={
            "target": Param(
                "previous",
                type="string",
                pattern=r"^(previous|[0-9]+)$",
                description="Version to restore, or 'previous'.",
            )
        },
        max_active_runs=1,
        default_args=default_args(),
        flow=f"Moves alias `champion` of `{spec.model_name}` back to `target` (a version, or "
        "`previous` from the promotion ledger) and records the rollback in the ledger; "
        "scoring picks the restored model up on its next run.",
    ) as dag:
        RollbackChampionOperator(
            task_id="rollback",
            use_case=spec.name,
            target="{{ params.target }}",
            outlets=[assets.champion],
        )
    return dag


def build_sample_landing(spec, assets: UseCaseAssets) -> DAG:
    from mlops_airflow.operators import LandSampleDataOperator

    sample = spec.sample_data
    with _dag(
        spec,
        "sample_landing",
        schedule=None,
        params={
            "day": _day_param("Day to generate"),
            "rows": Param(sample.rows, type="integer", minimum=1, maximum=5_000_000),
            "seed": Param(sample.seed, type="integer", minimum=0),
            "drift": Param(
                None,
                type=["null", "number"],
                minimum=0,
                maximum=5,
                description="Drift strength (empty: the spec's, 0: none); for card "
                "transactions the graded levels are mlops_core.sample_data.DRIFT_LEVELS "
                "(small, medium, large).",
            ),
        },
        max_active_runs=4,
        default_args=default_args(),
        flow=f"Demo producer: generates a day with generator `{sample.generator}` into "
        f"`landing/{spec.dataset.name}/dt=<day>/` followed by `_SUCCESS`, and emits Asset "
        f"`{assets.landed.name}`.",
    ) as dag:
        LandSampleDataOperator(
            task_id="land",
            use_case=spec.name,
            rows="{{ params.rows }}",
            seed="{{ params.seed }}",
            drift="{{ params.drift }}",
            outlets=[assets.landed],
        )
    return dag


def build_dags(spec) -> dict[str, DAG]:
    """Every DAG of one use case, by DAG id."""
    assets = assets_for(spec)
    dags = [build_training(spec, assets), build_scoring(spec, assets)]
    if spec.monitoring is not None:
        dags.append(build_monitoring(spec, assets))
    dags.append(build_rollback(spec, assets))
    if spec.sample_data is not None:
        dags.append(build_sample_landing(spec, assets))
    return {dag.dag_id: dag for dag in dags}


def build_all(env: dict[str, str] | None = None) -> dict[str, DAG]:
    """The DAGs of every spec found (``MLOPS_SPECS_DIR``, then the bundled specs).

    A spec that fails validation does not take the others down: it gets a one-task DAG
    ``spec_invalid__<file>`` whose task fails with the full ``SpecError`` (file, key,
    problem) and whose page shows it, so the problem is visible in the UI.
    """
    from mlops_core.errors import SchemaError
    from mlops_core.spec import available_specs, load_spec

    dags: dict[str, DAG] = {}
    for name, path in available_specs(env).items():
        try:
            dags.update(build_dags(load_spec(path)))
        except SchemaError as exc:
            log.error("use-case spec %s is invalid: %s", path, exc)
            dags.update(_invalid_spec_dag(name, str(path), str(exc)))
    return dags


def _invalid_spec_dag(name: str, path: str, message: str) -> dict[str, DAG]:
    from airflow.providers.standard.operators.python import PythonOperator

    def fail(message: str) -> None:
        from airflow.sdk.exceptions import AirflowFailException

        from mlops_core.incidents import runbook_ref

        raise AirflowFailException(f"[SpecError] ({runbook_ref('schema-invalid')})\n{message}")

    dag_id = f"spec_invalid__{name}"
    with DAG(
        dag_id=dag_id,
        doc_md=f"# {dag_id}\n\nThe use-case spec `{path}` is invalid; none of its DAGs were "
        f"built. Fix the file:\n\n```\n{message}\n```\n" + RUNBOOK_COMMON,
        start_date=None,
        schedule=None,
        catchup=False,
        tags=["spec-invalid"],
        default_args={"retries": 0},
    ) as dag:
        PythonOperator(task_id="spec_invalid", python_callable=fail, op_args=[message])
    return {dag_id: dag}
