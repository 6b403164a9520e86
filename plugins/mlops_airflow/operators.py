"""Operators: each resolves its partition day, settings and the use case's spec, then calls
the use case's task type (train, gate, score) or one generic mlops_core step. No operator
knows which use case or kind it runs: that is the spec's and the task type's business.

Deterministic data and model failures (validation, corrupt or unsafe input, gate rejection,
training data problems, invalid schema) fail the task without retries: retrying cannot fix
them. Infrastructure failures (input not there yet, registry or storage unreachable) are
raised as they are and retried. ``PipelineError.retryable`` decides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from mlops_airflow import links
from mlops_airflow.hooks import DataLakeHook, MlflowHook
from mlops_airflow.links import LinkTargets
from mlops_airflow.partitions import resolve_day
from mlops_core.errors import PipelineError
from mlops_core.incidents import runbook_ref


def with_overrides(base: Any, overrides: dict[str, Any]) -> Any:
    """The spec's dataclass ``base`` with run-time values (templated Params, possibly
    strings) cast to each field's type; a None or empty value keeps the spec's value."""
    values = {}
    for key, value in overrides.items():
        if value is None or str(value).strip() in {"", "None"}:
            continue
        current = getattr(base, key)
        if isinstance(current, bool):
            values[key] = str(value).strip().lower() in {"true", "1", "yes"}
        elif isinstance(current, tuple):
            values[key] = tuple(value)
        else:
            values[key] = type(current)(value)
    return dataclasses.replace(base, **values)


def airflow_run_tags(context: Context) -> dict[str, str]:
    """MLflow tags that tie a run to the task try that made it."""
    from mlops_core.provenance import airflow_run_tags as tags

    ti = context["ti"]
    return tags(ti.dag_id, str(context["run_id"]), ti.task_id, ti.try_number)


class MlopsBaseOperator(LinkTargets, BaseOperator):
    """Common plumbing: the use case's spec and task type, partition day, lake and MLflow
    settings, error mapping. ``use_case`` is a spec name or a spec file path."""

    template_fields: Sequence[str] = ("day",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        use_case: str,
        day: str | None = None,
        model_name: str | None = None,
        lake_conn_id: str | None = DataLakeHook.default_conn_name,
        mlflow_conn_id: str | None = MlflowHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.use_case = use_case
        self.day = day
        self._model_name = model_name
        self.lake_conn_id = lake_conn_id
        self.mlflow_conn_id = mlflow_conn_id

    @cached_property
    def lake_hook(self) -> DataLakeHook:
        return DataLakeHook(lake_conn_id=self.lake_conn_id)

    @cached_property
    def settings(self):
        tracking_uri = MlflowHook(mlflow_conn_id=self.mlflow_conn_id).tracking_uri
        return dataclasses.replace(self.lake_hook.settings, mlflow_tracking_uri=tracking_uri)

    @cached_property
    def spec(self):
        from mlops_core.spec import load_spec

        return load_spec(self.use_case)

    @property
    def schema(self):
        return self.spec.dataset

    @property
    def model_name(self) -> str:
        """The registered model: the spec's (``registry.model_name``) unless given."""
        return self._model_name or self.spec.model_name

    @property
    def task(self):
        """The use case's task type: every train/gate/score call goes through it."""
        return self.spec.task_type

    def batch_id(self, context: Context) -> str:
        run_id = str(context["run_id"]).replace(":", "").replace("+", "")
        return f"{run_id}__try{context['ti'].try_number}"

    def execute(self, context: Context) -> Any:
        try:
            return self.run(context)
        except PipelineError as exc:
            if exc.quarantine_path:
                self.record_link(
                    links.QUARANTINE,
                    links.location_url(exc.quarantine_path, self.settings.data_root),
                )
            if not exc.retryable:
                raise AirflowFailException(
                    f"[{type(exc).__name__}] ({runbook_ref(exc.runbook)})\n{exc}"
                ) from exc
            self.log.error("[%s] (%s) %s", type(exc).__name__, runbook_ref(exc.runbook), exc)
            raise

    def run(self, context: Context) -> Any:
        raise NotImplementedError

    def _mlflow_ui(self) -> str:
        return links.mlflow_ui_base(self.settings.mlflow_tracking_uri)

    def _record_run_link(self, run_id: str) -> None:
        from mlops_core import registry

        run = registry.client(self.settings.mlflow_tracking_uri).get_run(run_id)
        self.record_link(
            links.MLFLOW_RUN,
            links.mlflow_run_url(self._mlflow_ui(), run.info.experiment_id, run_id),
        )

    def _record_version_link(self, version: str) -> None:
        self.record_link(
            links.MODEL_VERSION,
            links.model_version_url(self._mlflow_ui(), self.model_name, str(version)),
        )


class LandSampleDataOperator(MlopsBaseOperator):
    """Generate a day of synthetic data into the landing zone (demo producer) with the use
    case's ``sample_data`` generator; ``rows``/``seed``/``drift`` override the spec."""

    template_fields: Sequence[str] = ("day", "rows", "seed", "drift")

    def __init__(
        self,
        *,
        rows: int | str | None = None,
        seed: int | str | None = None,
        drift: float | str | None = None,
        fmt: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rows, self.seed, self.drift, self.fmt = rows, seed, drift, fmt

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core.generators import land_sample

        def number(value, cast):
            return None if value is None or str(value) in {"", "None"} else cast(value)

        day = resolve_day(self.day, context)
        result = land_sample(
            self.lake_hook.get_conn(),
            self.spec,
            day,
            rows=number(self.rows, int),
            seed=number(self.seed, int),
            drift=number(self.drift, float),
            fmt=self.fmt,
        )
        self.log.info("Landed %s rows for %s at %s", result["rows"], day, result["key"])
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"day": day.isoformat()}
        return {**result, "day": day.isoformat()}


class ExtractPartitionOperator(MlopsBaseOperator):
    operator_extra_links = (links.QuarantineLink(),)
    """Landing partition(s) -> working-zone Parquet. ``window_days`` > 1 extracts the whole
    lookback window ending at the run's day (training)."""

    template_fields: Sequence[str] = ("day", "window_days")

    def __init__(self, *, window_days: int | str = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.window_days = window_days

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        day = resolve_day(self.day, context)
        days = steps.extract_window(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            int(self.window_days),
            self.batch_id(context),
        )
        self.log.info("Working partitions ready for %s: %s", self.schema.name, days)
        return {"day": day.isoformat(), "days": days}


class ValidatePartitionOperator(MlopsBaseOperator):
    """Great Expectations validation of the working partition(s); quarantines bad batches."""

    operator_extra_links = (links.DataDocsLink(), links.QuarantineLink())

    template_fields: Sequence[str] = ("day", "window_days")

    def __init__(
        self, *, window_days: int | str = 1, with_label: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.window_days = window_days
        self.with_label = with_label

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        storage = self.lake_hook.get_conn()
        day = resolve_day(self.day, context)
        days = steps.days_to_validate(storage, self.schema, day, int(self.window_days))
        batch = self.batch_id(context)
        # Data Docs are built whether the batch passes or not.
        docs = self.settings.reports_dir / "data_docs" / self.schema.name / "index.html"
        self.record_link(links.DATA_DOCS, links.location_url(str(docs), self.settings.data_root))
        if self.with_label:
            result = steps.validate_window(
                storage, self.schema, days, settings=self.settings, batch_id=batch
            )
        else:
            report = steps.validate(
                storage, self.schema, day, settings=self.settings, batch_id=batch, with_label=False
            )
            result = {
                "validated": [report.day],
                "warnings": [w.describe() for w in report.warnings],
            }
        self.log.info("Validated %s partitions: %s", self.schema.name, result["validated"])
        return result


class TrainModelOperator(MlopsBaseOperator):
    """Train on the validated window ending at the run's day with the spec's model; Params
    in ``overrides`` (estimator, window, ...) replace the spec's values for this run."""

    operator_extra_links = (links.MlflowRunLink(),)

    template_fields: Sequence[str] = ("day", "overrides")

    def __init__(self, *, overrides: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.overrides = overrides or {}

    def run(self, context: Context) -> dict[str, Any]:
        params = with_overrides(self.spec.train, self.overrides)
        day = resolve_day(self.day, context)
        result = self.task.train(
            self.lake_hook.get_conn(),
            self.spec,
            day,
            settings=self.settings,
            params=params,
            run_tags=airflow_run_tags(context),
        )
        self.log.info("Trained run %s: %s", result["run_id"], result["metrics"])
        self._record_run_link(result["run_id"])
        if self.spec.monitoring is not None:
            from mlops_core.monitoring import record_training

            trigger = run_trigger(context)
            record_training(
                self.lake_hook.get_conn(),
                self.model_name,
                at=context.get("logical_date") or context["dag_run"].run_after,
                trigger=trigger,
                run_id=result["run_id"],
            )
            self.log.info("Recorded this %s training run for the retraining policy", trigger)
        return result


def run_trigger(context: Context) -> str:
    """What started this DAG run: ``manual``, ``backfill``, ``scheduled`` (the cron),
    ``retrain_request`` (only retrain-request Asset events) or ``landing`` (new data)."""
    run_type = str(getattr(context["dag_run"], "run_type", "manual")).lower()
    if "backfill" in run_type:
        return "backfill"
    if "scheduled" in run_type:
        return "scheduled"
    if "asset" in run_type or "dataset" in run_type:
        events = context.get("triggering_asset_events") or {}
        names = [getattr(asset, "name", str(asset)) for asset in events]
        if names and all(str(n).endswith("_retrain_requested") for n in names):
            return "retrain_request"
        return "landing"
    return "manual"


class RegisterModelOperator(MlopsBaseOperator):
    """Register the trained model as a new version, without an alias (aliases move only after
    the gate: ``champion`` on promotion, ``challenger`` when it enters shadow)."""

    operator_extra_links = (links.ModelVersionLink(),)

    template_fields: Sequence[str] = ("model_uri", "run_id")

    def __init__(self, *, model_uri: str, run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_uri, self.run_id = model_uri, run_id

    def run(self, context: Context) -> dict[str, str]:
        from mlops_core import steps

        ref = steps.register(self.settings, self.model_name, self.model_uri, self.run_id)
        self._record_version_link(ref["version"])
        self.log.info("Registered %s version %s (candidate)", self.model_name, ref["version"])
        return ref


class EvaluationGateOperator(MlopsBaseOperator):
    """The task type's gate (floors, baselines, challenger vs champion on the same evaluation
    data) with the spec's thresholds, overridden per run by ``thresholds``. Rejection fails
    the task (no retries) and nothing downstream runs; the verdict is saved either way."""

    operator_extra_links = (links.GateVerdictLink(), links.ModelVersionLink())
    template_fields: Sequence[str] = ("version", "thresholds")

    def __init__(
        self, *, version: str, thresholds: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.version = version
        self.thresholds = thresholds or {}

    def run(self, context: Context) -> dict[str, Any]:
        thresholds = with_overrides(self.spec.gate, self.thresholds)
        self._record_version_link(str(self.version))
        # The verdict is written whether the gate passes or not.
        verdict = self.settings.reports_dir / "gates" / self.model_name / f"v{self.version}"
        self.record_link(
            links.GATE_VERDICT,
            links.location_url(str(verdict / "verdict.md"), self.settings.data_root),
        )
        verdict = self.task.gate(
            self.settings, self.spec, self.model_name, str(self.version), thresholds
        )
        self.log.info("Gate %s for version %s: %s", verdict.decision, self.version, verdict.reasons)
        return verdict.to_dict()


class PromoteModelOperator(MlopsBaseOperator):
    """Move alias ``champion`` to a version with a passing gate verdict.

    ``mode="shadow"`` makes the gate-passed version the challenger (unless another one is in
    shadow and frozen) and skips: scoring scores it in shadow and the use case's monitoring
    promotes it once matured labels give evidence.
    """

    operator_extra_links = (links.ModelVersionLink(),)
    template_fields: Sequence[str] = ("version", "mode")

    def __init__(
        self,
        *,
        version: str,
        mode: str = "direct",
        automatic_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.version, self.mode = version, mode
        # For runs nobody triggered by hand (cron, landing); None: the spec's.
        self.automatic_mode = automatic_mode

    def _mode(self, context: Context) -> str:
        trigger = run_trigger(context)
        if trigger not in ("scheduled", "landing"):
            return self.mode
        mode = self.automatic_mode or self.spec.automatic_promotion
        self.log.info(
            "A %s run: promotion follows training.automatic_promotion=%s (not the %s default)",
            trigger,
            mode,
            self.mode,
        )
        return mode

    def run(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from mlops_core import steps

        self._record_version_link(str(self.version))
        mode = self._mode(context)
        if mode == "none":
            raise AirflowSkipException(
                f"{self.model_name} v{self.version} passed the gate; runs nobody triggered by "
                "hand only register and gate it (training.automatic_promotion: none). Promote "
                f"it by triggering {self.spec.dag_id('training')} by hand"
            )
        if mode == "shadow":
            at = context.get("logical_date") or context["dag_run"].run_after
            entry = steps.enter_shadow(self.settings, self.model_name, str(self.version), at=at)
            raise AirflowSkipException(
                f"{self.model_name} v{self.version} passed the gate; shadow mode: "
                + (
                    f"it is now the challenger, promoted only on evidence from matured labels "
                    f"({self.spec.dag_id('monitoring')})"
                    if entry["entered"]
                    else entry["reason"]
                )
            )
        record = steps.promote(
            self.settings,
            self.lake_hook.get_conn(),
            self.model_name,
            str(self.version),
            actor=_actor(context),
            at=context.get("logical_date") or context["dag_run"].run_after,
        )
        self.log.info("Promotion of %s v%s: %s", self.model_name, self.version, record)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "model": self.model_name,
                "version": str(self.version),
                "day": resolve_day(None, context).isoformat(),
            }
        return record


def _actor(context: Context) -> str:
    dag_run = context["dag_run"]
    user = getattr(dag_run, "triggering_user_name", None) or "scheduler"
    return f"{user} via {dag_run.dag_id}/{dag_run.run_id}"


class BatchScoreOperator(MlopsBaseOperator):
    """Score the day's validated partition with the registry's model, as the use case's task
    type defines scoring (rows scored in batches; top-K items for every user; ...).

    ``model_selection``: an alias (``champion``, ``challenger``), or ``as_of`` for the model
    that was champion on the partition's day according to the promotion ledger.
    ``overrides``: Params replacing the spec's ``scoring`` values for this run.
    """

    template_fields: Sequence[str] = ("day", "model_selection", "overrides")

    def __init__(
        self,
        *,
        model_selection: str = "champion",
        overrides: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_selection = model_selection
        self.overrides = overrides or {}

    def choice(self):
        from mlops_core.tasks import ModelChoice

        as_of = self.model_selection == "as_of"
        return ModelChoice(
            model_name=self.model_name,
            alias="champion" if as_of else self.model_selection,
            selection="as_of" if as_of else "alias",
        )

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import lake

        day = resolve_day(self.day, context)
        storage = self.lake_hook.get_conn()
        params = with_overrides(self.spec.scoring, self.overrides)
        self.task.wait_for_inputs(storage, self.spec, day, params, log=self.log)
        manifest = self.task.score(
            storage,
            self.spec,
            day,
            settings=self.settings,
            model=self.choice(),
            params=params,
            zone=lake.SCORED,
        )
        self.log.info("%s", self.task.describe_scoring(manifest))
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "day": day.isoformat(),
                "model_version": manifest.model_version,
            }
        return manifest.to_dict()


class ShadowScoreOperator(BatchScoreOperator):
    """Score the day's partition with the gate-passed challenger into ``scored_shadow/``,
    next to the champion's output; skipped when there is no such challenger or shadow
    scoring is off (the ``shadow`` scoring setting)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("model_selection", "challenger")
        super().__init__(**kwargs)

    def run(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from mlops_core import lake, steps

        params = with_overrides(self.spec.scoring, self.overrides)
        if not getattr(params, "shadow", False):
            raise AirflowSkipException("shadow scoring is switched off for this run")
        candidate, why = steps.shadow_candidate(self.settings, self.model_name)
        if candidate is None:
            raise AirflowSkipException(why)
        day = resolve_day(self.day, context)
        manifest = self.task.score(
            self.lake_hook.get_conn(),
            self.spec,
            day,
            settings=self.settings,
            model=self.choice(),
            params=params,
            zone=lake.SHADOW,
        )
        self.log.info("Shadow: %s", self.task.describe_scoring(manifest))
        return manifest.to_dict()


class MonitorModelOperator(MlopsBaseOperator):
    """Drift and matured-label performance of the champion on the run's day, plus the
    retraining decision (stored in the lake, reported as JSON/HTML, logged to MLflow).
    ``drift``/``performance``/``policy`` override the spec's monitoring settings."""

    operator_extra_links = (links.DriftReportLink(),)

    template_fields: Sequence[str] = ("day", "drift", "performance", "policy")

    def __init__(
        self,
        *,
        drift: dict[str, Any] | None = None,
        performance: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.drift, self.performance, self.policy = drift or {}, performance or {}, policy or {}

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import monitoring

        spec_monitoring = self.spec.monitoring
        if spec_monitoring is None:
            raise AirflowFailException(
                f"use case {self.spec.name} ({self.spec.source}) has no monitoring section"
            )
        day = resolve_day(self.day, context)
        result = monitoring.monitor(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            model_name=self.model_name,
            thresholds=with_overrides(spec_monitoring.drift, self.drift),
            perf=with_overrides(spec_monitoring.performance, self.performance),
            policy=with_overrides(spec_monitoring.policy, self.policy),
            training=self.spec.train,
            # The run's time, not the clock: a rerun decides the same, and the budget and
            # cooldown see when earlier runs of the day really were.
            at=context.get("logical_date") or context["dag_run"].run_after,
        )
        decision = result["decision"]
        self.record_link(
            links.DRIFT_REPORT, links.location_url(result["report"], self.settings.data_root)
        )
        self.log.info(
            "Monitoring %s on %s: drift %s (%s), performance %s, prevalence %s; retrain=%s "
            "because %s; report %s",
            self.model_name,
            day,
            result["drift_level"],
            result["drifted_features"],
            result["performance_level"],
            result["prevalence_level"],
            decision["retrain"],
            decision["reason"],
            result["report"],
        )
        return result


class RequestRetrainOperator(BaseOperator):
    """Emit the retrain-request Asset event when the monitoring decision says so; otherwise
    skip (a skipped task emits no Asset event), with the policy's reason in the log."""

    def __init__(self, *, monitor_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.monitor_task_id = monitor_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        result = context["ti"].xcom_pull(task_ids=self.monitor_task_id)
        decision = result["decision"]
        if not decision["retrain"]:
            raise AirflowSkipException(f"no retraining: {decision['reason']}")
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "day": result["day"],
                "reason": decision["reason"],
                "drifted_features": result["drifted_features"],
            }
        self.log.info("Retraining requested for %s: %s", result["day"], decision["reason"])
        return decision


class RollbackChampionOperator(MlopsBaseOperator):
    """Move alias ``champion`` back to a version (or ``previous``), recorded in the ledger."""

    template_fields: Sequence[str] = ("target",)

    def __init__(self, *, target: str = "previous", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        record = steps.rollback(
            self.settings,
            self.lake_hook.get_conn(),
            self.model_name,
            str(self.target),
            actor=_actor(context),
            at=context.get("logical_date") or context["dag_run"].run_after,
        )
        self.log.info("Rollback of %s: %s", self.model_name, record)
        return record


class ShadowEvaluationOperator(MlopsBaseOperator):
    """Judge the shadow-scored challenger against the champion on every matured day of its
    sequence (a sequential test valid over daily looks, minimum sample, horizon) and promote
    it when the evidence says it is better."""

    template_fields: Sequence[str] = ("day", "label_delay_days", "min_positives")

    def __init__(
        self,
        *,
        label_delay_days: int | str | None = None,
        min_positives: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.label_delay_days, self.min_positives = label_delay_days, min_positives

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import monitoring

        spec_monitoring = self.spec.monitoring
        if spec_monitoring is None:
            raise AirflowFailException(
                f"use case {self.spec.name} ({self.spec.source}) has no monitoring section"
            )
        day = resolve_day(self.day, context)
        result = monitoring.shadow_evaluation(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            model_name=self.model_name,
            perf=with_overrides(
                spec_monitoring.performance, {"label_delay_days": self.label_delay_days}
            ),
            policy=with_overrides(spec_monitoring.shadow, {"min_positives": self.min_positives}),
        )
        self.log.info(
            "Shadow evaluation of %s on %s: %s (%s)",
            self.model_name,
            day,
            result["status"],
            result["reason"],
        )
        return result
