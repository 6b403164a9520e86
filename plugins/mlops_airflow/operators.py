"""Operators: each resolves its partition day and settings, then calls one mlops_core step.

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

from mlops_airflow.hooks import DataLakeHook, MlflowHook
from mlops_airflow.partitions import resolve_day
from mlops_core.errors import InputMissingError, PipelineError


def _typed(cls, values: dict[str, Any]):
    """``cls`` built from (templated, possibly string) values, each cast to its default's type."""
    defaults = cls()
    return cls(**{k: type(getattr(defaults, k))(v) for k, v in values.items()})


class MlopsBaseOperator(BaseOperator):
    """Common plumbing: schema, partition day, lake and MLflow settings, error mapping."""

    template_fields: Sequence[str] = ("day",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        dataset_schema: str = "fraud",
        day: str | None = None,
        lake_conn_id: str | None = DataLakeHook.default_conn_name,
        mlflow_conn_id: str | None = MlflowHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset_schema = dataset_schema
        self.day = day
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
    def schema(self):
        from mlops_core.schema import load_schema

        return load_schema(self.dataset_schema)

    @property
    def is_recommender(self) -> bool:
        """Interaction datasets use the recommender's train/gate/score steps."""
        return self.schema.kind == "interactions"

    def batch_id(self, context: Context) -> str:
        run_id = str(context["run_id"]).replace(":", "").replace("+", "")
        return f"{run_id}__try{context['ti'].try_number}"

    def execute(self, context: Context) -> Any:
        try:
            return self.run(context)
        except PipelineError as exc:
            if not exc.retryable:
                raise AirflowFailException(
                    f"[{type(exc).__name__}] (runbook: #{exc.runbook})\n{exc}"
                ) from exc
            self.log.error("[%s] (runbook: #%s) %s", type(exc).__name__, exc.runbook, exc)
            raise

    def run(self, context: Context) -> Any:
        raise NotImplementedError


class LandSampleDataOperator(MlopsBaseOperator):
    """Generate a day of synthetic data into the landing zone (demo producer): ``rows``
    transactions for an events dataset, ``rows`` user sessions for an interactions one."""

    template_fields: Sequence[str] = ("day", "rows", "seed", "drift")

    def __init__(
        self,
        *,
        rows: int | str = 5_000,
        seed: int | str = 7,
        drift: float | str = 0.0,
        fmt: str = "csv",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.rows, self.seed, self.drift, self.fmt = rows, seed, drift, fmt

    def run(self, context: Context) -> dict[str, Any]:
        day = resolve_day(self.day, context)
        if self.is_recommender:
            from mlops_core.recsys import steps as rec_steps

            result = rec_steps.land_sample_partition(
                self.lake_hook.get_conn(),
                self.schema,
                day,
                seed=int(self.seed),
                sessions=int(self.rows),
            )
        else:
            result = self._land_events(day)
        self.log.info("Landed %s rows for %s at %s", result["rows"], day, result["key"])
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {"day": day.isoformat()}
        return {**result, "day": day.isoformat()}

    def _land_events(self, day) -> dict[str, Any]:
        from mlops_core import steps

        return steps.land_sample_partition(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            seed=int(self.seed),
            rows=int(self.rows),
            fmt=self.fmt,
            drift=float(self.drift),
        )


class ExtractPartitionOperator(MlopsBaseOperator):
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
    """Train on the validated window ending at the run's day; log the run to MLflow."""

    template_fields: Sequence[str] = ("day", "window_days", "train_params")

    def __init__(
        self,
        *,
        experiment: str,
        window_days: int | str = 7,
        train_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.experiment = experiment
        self.window_days = window_days
        self.train_params = train_params or {}

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps
        from mlops_core.recsys import steps as rec_steps
        from mlops_core.recsys.model import RecTrainParams
        from mlops_core.train import TrainParams

        cls = RecTrainParams if self.is_recommender else TrainParams
        params = _typed(cls, {**self.train_params, "window_days": self.window_days})
        day = resolve_day(self.day, context)
        result = (rec_steps.train if self.is_recommender else steps.train)(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            params=params,
            experiment=self.experiment,
        )
        self.log.info("Trained run %s: %s", result["run_id"], result["metrics"])
        return result


class RegisterModelOperator(MlopsBaseOperator):
    """Register the trained model as a new version with alias ``challenger``."""

    template_fields: Sequence[str] = ("model_uri", "run_id")

    def __init__(self, *, model_name: str, model_uri: str, run_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name, self.model_uri, self.run_id = model_name, model_uri, run_id

    def run(self, context: Context) -> dict[str, str]:
        from mlops_core import steps

        ref = steps.register(self.settings, self.model_name, self.model_uri, self.run_id)
        self.log.info("Registered %s version %s as challenger", self.model_name, ref["version"])
        return ref


class EvaluationGateOperator(MlopsBaseOperator):
    """Absolute thresholds + challenger vs champion on the same holdout. Rejection fails the
    task (no retries) and nothing downstream runs; the verdict is saved either way."""

    template_fields: Sequence[str] = ("version", "thresholds")

    def __init__(
        self,
        *,
        model_name: str,
        version: str,
        thresholds: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.version = model_name, version
        self.thresholds = thresholds or {}

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        if self.is_recommender:
            from mlops_core.recsys import steps as rec_steps
            from mlops_core.recsys.evaluate import RecGateThresholds

            thresholds = _typed(RecGateThresholds, self.thresholds)
            verdict = rec_steps.gate(self.settings, self.model_name, str(self.version), thresholds)
        else:
            from mlops_core.evaluate import GateThresholds

            thresholds = _typed(GateThresholds, self.thresholds)
            verdict = steps.gate(
                self.settings, self.schema, self.model_name, str(self.version), thresholds
            )
        self.log.info("Gate %s for version %s: %s", verdict.decision, self.version, verdict.reasons)
        return verdict.to_dict()


class PromoteModelOperator(MlopsBaseOperator):
    """Move alias ``champion`` to a version with a passing gate verdict.

    ``mode="shadow"`` leaves the gate-passed version as challenger: fraud_scoring scores it in
    shadow and model_monitoring promotes it once matured labels give evidence.
    """

    template_fields: Sequence[str] = ("version", "mode")

    def __init__(
        self, *, model_name: str, version: str, mode: str = "direct", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.version, self.mode = model_name, version, mode

    def run(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from mlops_core import steps

        if self.mode == "shadow":
            raise AirflowSkipException(
                f"{self.model_name} v{self.version} passed the gate and stays challenger: shadow "
                "mode promotes it only on evidence from matured labels (model_monitoring)"
            )
        dag_run = context["dag_run"]
        user = getattr(dag_run, "triggering_user_name", None) or "scheduler"
        actor = f"{user} via {dag_run.dag_id}/{dag_run.run_id}"
        at = context.get("logical_date") or dag_run.run_after
        record = steps.promote(
            self.settings,
            self.lake_hook.get_conn(),
            self.model_name,
            str(self.version),
            actor=actor,
            at=at,
        )
        self.log.info("Promotion of %s v%s: %s", self.model_name, self.version, record)
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "model": self.model_name,
                "version": str(self.version),
                "day": resolve_day(None, context).isoformat(),
            }
        return record


class BatchScoreOperator(MlopsBaseOperator):
    """Score the day's validated partition with the registry's model.

    ``model_selection``: an alias (``champion``, ``challenger``), or ``as_of`` for the model
    that was champion on the partition's day according to the promotion ledger.

    For an interactions dataset this writes top-``top_k`` recommendations for every user
    (seen items excluded, popularity fallback for users without history in the last
    ``history_days`` days), ``users_per_chunk`` users at a time.
    """

    template_fields: Sequence[str] = (
        "day",
        "model_selection",
        "batch_rows",
        "top_k",
        "history_days",
        "users_per_chunk",
        "history_wait_seconds",
    )

    def __init__(
        self,
        *,
        model_name: str,
        model_selection: str = "champion",
        batch_rows: int | str = 250_000,
        top_k: int | str = 10,
        history_days: int | str = 28,
        users_per_chunk: int | str = 50_000,
        history_wait_seconds: int | str = 1_200,
        history_poll_seconds: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name, self.model_selection, self.batch_rows = (
            model_name,
            model_selection,
            batch_rows,
        )
        self.top_k, self.history_days, self.users_per_chunk = top_k, history_days, users_per_chunk
        self.history_wait_seconds, self.history_poll_seconds = (
            history_wait_seconds,
            history_poll_seconds,
        )

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        day = resolve_day(self.day, context)
        as_of = self.model_selection == "as_of"
        storage = self.lake_hook.get_conn()
        model = {
            "settings": self.settings,
            "model_name": self.model_name,
            "alias": "champion" if as_of else self.model_selection,
            "selection": "as_of" if as_of else "alias",
        }
        if self.is_recommender:
            manifest = self._recommend(storage, day, model)
        else:
            manifest = steps.score(
                storage, self.schema, day, batch_rows=int(self.batch_rows), **model
            )
            self.log.info(
                "Scored %s rows of %s into %s with %s v%s (%s)",
                manifest.rows_out,
                day,
                manifest.output_key,
                manifest.model_name,
                manifest.model_version,
                manifest.model_rule,
            )
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = {
                "day": day.isoformat(),
                "model_version": manifest.model_version,
            }
        return manifest.to_dict()

    def _wait_for_history(self, storage, day) -> None:
        """Block until every landed day of the history window is validated (see
        ``pending_history``), so the output never depends on which runs finished first."""
        import time

        from mlops_core.recsys import steps as rec_steps

        days = int(self.history_days)
        deadline = time.monotonic() + float(self.history_wait_seconds)
        while pending := rec_steps.pending_history(storage, self.schema, day, days):
            if time.monotonic() >= deadline:
                raise InputMissingError(
                    f"history partitions of {self.schema.name} landed but not validated after "
                    f"{self.history_wait_seconds}s: {', '.join(pending)}. Top-K for {day} reads "
                    f"the last {days} days of histories. Run this DAG's extract and validate "
                    "for those days (e.g. airflow backfill create over them), then clear "
                    "this task."
                )
            self.log.info("Waiting for history partitions to be validated: %s", pending)
            time.sleep(self.history_poll_seconds)

    def _recommend(self, storage, day, model: dict[str, Any]):
        from mlops_core.recsys import steps as rec_steps

        self._wait_for_history(storage, day)
        manifest = rec_steps.score(
            storage,
            self.schema,
            day,
            k=int(self.top_k),
            history_days=int(self.history_days),
            users_per_chunk=int(self.users_per_chunk),
            **model,
        )
        self.log.info(
            "Top-%s for %s users of %s (%s from the model, %s popularity fallback): %s rows in "
            "%s with %s v%s (%s)",
            manifest.k,
            manifest.users,
            day,
            manifest.users_model,
            manifest.users_popularity,
            manifest.rows_out,
            manifest.output_key,
            manifest.model_name,
            manifest.model_version,
            manifest.model_rule,
        )
        return manifest


class MonitorModelOperator(MlopsBaseOperator):
    """Drift and matured-label performance of the champion on the run's day, plus the
    retraining decision (stored in the lake, reported as JSON/HTML, logged to MLflow)."""

    template_fields: Sequence[str] = ("day", "drift", "performance", "policy")

    def __init__(
        self,
        *,
        model_name: str,
        drift: dict[str, Any] | None = None,
        performance: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.drift, self.performance, self.policy = drift or {}, performance or {}, policy or {}

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import monitoring
        from mlops_core.drift import DriftThresholds
        from mlops_core.policy import RetrainPolicy

        day = resolve_day(self.day, context)
        result = monitoring.monitor(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            model_name=self.model_name,
            thresholds=_typed(DriftThresholds, self.drift),
            perf=_typed(monitoring.PerformanceThresholds, self.performance),
            policy=_typed(RetrainPolicy, self.policy),
        )
        decision = result["decision"]
        self.log.info(
            "Monitoring %s on %s: drift %s (%s), performance %s; retrain=%s because %s; report %s",
            self.model_name,
            day,
            result["drift_level"],
            result["drifted_features"],
            result["performance_level"],
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

    def __init__(self, *, model_name: str, target: str = "previous", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_name, self.target = model_name, target

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import steps

        dag_run = context["dag_run"]
        user = getattr(dag_run, "triggering_user_name", None) or "scheduler"
        record = steps.rollback(
            self.settings,
            self.lake_hook.get_conn(),
            self.model_name,
            str(self.target),
            actor=f"{user} via {dag_run.dag_id}/{dag_run.run_id}",
            at=context.get("logical_date") or dag_run.run_after,
        )
        self.log.info("Rollback of %s: %s", self.model_name, record)
        return record


class ShadowScoreOperator(BatchScoreOperator):
    """Score the day's partition with the gate-passed challenger into ``scored_shadow/``,
    next to the champion's output; skipped when there is no such challenger or it is off."""

    template_fields: Sequence[str] = ("day", "batch_rows", "enabled")

    def __init__(self, *, enabled: bool | str = True, **kwargs: Any) -> None:
        kwargs.setdefault("model_selection", "challenger")
        super().__init__(**kwargs)
        self.enabled = enabled

    def run(self, context: Context) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from mlops_core import lake, steps

        if str(self.enabled).lower() in {"false", "0", "no", ""}:
            raise AirflowSkipException("shadow scoring is switched off for this run")
        candidate, why = steps.shadow_candidate(self.settings, self.model_name)
        if candidate is None:
            raise AirflowSkipException(why)
        day = resolve_day(self.day, context)
        manifest = steps.score(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            model_name=self.model_name,
            alias="challenger",
            batch_rows=int(self.batch_rows),
            zone=lake.SHADOW,
        )
        self.log.info(
            "Shadow-scored %s rows of %s with challenger v%s into %s",
            manifest.rows_out,
            day,
            manifest.model_version,
            manifest.output_key,
        )
        return manifest.to_dict()


class ShadowEvaluationOperator(MlopsBaseOperator):
    """Compare the shadow-scored challenger with the champion on matured labels (bootstrap
    interval, minimum sample) and promote it when the evidence says it is better."""

    template_fields: Sequence[str] = ("day", "label_delay_days", "min_positives")

    def __init__(
        self,
        *,
        model_name: str,
        label_delay_days: int | str = 1,
        min_positives: int | str = 50,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name
        self.label_delay_days, self.min_positives = label_delay_days, min_positives

    def run(self, context: Context) -> dict[str, Any]:
        from mlops_core import monitoring
        from mlops_core.shadow import ShadowPolicy

        day = resolve_day(self.day, context)
        result = monitoring.shadow_evaluation(
            self.lake_hook.get_conn(),
            self.schema,
            day,
            settings=self.settings,
            model_name=self.model_name,
            perf=monitoring.PerformanceThresholds(label_delay_days=int(self.label_delay_days)),
            policy=ShadowPolicy(min_positives=int(self.min_positives)),
        )
        self.log.info(
            "Shadow evaluation of %s on %s: %s (%s)",
            self.model_name,
            day,
            result["status"],
            result["reason"],
        )
        return result
