"""Model monitoring: drift against the champion's training reference, performance of the
champion's version on matured labels against its own baseline, prevalence, and the
retraining decision, with a JSON + HTML report per run.

Every signal carries its sampling noise: drift bars account for the day's row count, a
performance drop must be supported by a bootstrap interval, a prevalence shift by the
interval of the rate difference. The decision record holds the counts and intervals.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_core import lake, registry
from mlops_core.config import Settings
from mlops_core.drift import (
    ALERT,
    OK,
    WARN,
    DriftReport,
    DriftThresholds,
    drift_report,
    persistent_drift,
    worst,
)
from mlops_core.errors import InputMissingError, SelfEvaluationError
from mlops_core.evaluate import classification_metrics
from mlops_core.knobs import PerformanceThresholds  # noqa: F401 - re-exported
from mlops_core.maturity import (
    cutoff_timestamp,
    end_of_day,
    matured_for_training,
    matured_within,
)
from mlops_core.performance import Sample, compare_performance, prevalence_check
from mlops_core.policy import Decision, PolicyInput, RetrainPolicy, decide
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

log = logging.getLogger(__name__)

REFERENCE_SAMPLE = 50_000


def decisions_prefix(model: str) -> str:
    return f"monitoring/{model}/decisions/"


def trainings_prefix(model: str) -> str:
    """Every training run of ``model`` (whatever triggered it), so the policy's cooldown and
    budget see scheduled and landing-triggered runs, not only the retrains it requested."""
    return f"monitoring/{model}/trainings/"


def record_training(
    storage: Storage, model: str, *, at: dt.datetime, trigger: str, run_id: str
) -> str:
    """Append (idempotently: one file per run) a training run to the policy's log.

    ``trigger``: ``manual``, ``backfill``, ``scheduled``, ``landing`` or ``retrain_request``
    (the last is already counted through its request and is not counted twice)."""
    stamp = at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    key = trainings_prefix(model) + f"at={stamp}__run={run_id}.json"
    storage.write_bytes(
        key,
        registry.dumps({"at": at.isoformat(), "trigger": trigger, "run_id": run_id}).encode(),
    )
    return key


def retrains_prefix(model: str) -> str:
    """One create-once entry per retrain request: the daily decision record of a day is
    rewritten by a rerun, this log is not, so budget and cooldown see every request."""
    return f"monitoring/{model}/retrains/"


@dataclass(frozen=True)
class Champion:
    """What monitoring needs of the champion: its version and model, the partitions it was
    trained on, its training holdout (None when the run has none) and its training split."""

    version: int
    model: Any
    reference_days: list[str]
    trained_through: str
    holdout: pd.DataFrame | None = None
    window_days: int = 7
    holdout_fraction: float = 0.2
    cutoff: str = ""  # its first holdout timestamp (training rows are all before it)


def load_champion(settings: Settings, model_name: str) -> Champion:
    """The champion from the registry, with its training run's tags, params and holdout."""
    uri = settings.mlflow_tracking_uri
    ref = registry.require(uri, model_name)
    mlc = registry.client(uri)
    run = mlc.get_run(ref.run_id)
    holdout = None
    if [a for a in mlc.list_artifacts(ref.run_id, "holdout") if a.path.endswith(".parquet")]:
        with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as tmp:
            folder = registry.download_run_artifact(uri, ref.run_id, "holdout", Path(tmp))
            holdout = pd.read_parquet(next(folder.rglob("*.parquet")))
    else:
        log.warning(
            "%s v%s: training run %s has no holdout artifact; its baseline is its matured "
            "days only",
            model_name,
            ref.version,
            ref.run_id,
        )
    params = run.data.params
    return Champion(
        version=int(ref.version),
        model=registry.load_model(uri, ref),
        reference_days=[d for d in run.data.tags.get("data_partitions", "").split(",") if d],
        trained_through=run.data.tags.get("logical_date", ""),
        holdout=holdout,
        window_days=int(params.get("window_days", 7)),
        holdout_fraction=float(params.get("holdout_fraction", 0.2)),
        cutoff=params.get("cutoff", ""),
    )


def _read_working(storage: Storage, schema: DatasetSchema, day: str) -> pd.DataFrame | None:
    key = lake.working_data_key(schema.name, day)
    if not storage.exists(lake.working_prefix(schema.name, day) + lake.VALIDATED_MARKER):
        return None
    with storage.local_copy(key) as path:
        return pd.read_parquet(path)


def _read_scores(
    storage: Storage, schema: DatasetSchema, day: str, zone: str = lake.SCORED
) -> pd.DataFrame | None:
    prefix = lake.scored_prefix(schema.name, day, zone)
    if not storage.exists(prefix + lake.MANIFEST):
        return None
    with storage.local_copy(prefix + "scores.parquet") as path:
        return pd.read_parquet(path, columns=[schema.id_column, "score", "model_version"])


def _matured_labels(
    storage: Storage, schema: DatasetSchema, day: str, delay_days: int
) -> pd.DataFrame | None:
    """The day's rows whose labels were final within ``delay_days`` of the day's end (all of
    them without a label time column), so every matured day has the same completeness."""
    labels = _read_working(storage, schema, day)
    if labels is None or schema.label_column not in labels.columns:
        return None
    matured = matured_within(labels, schema, delay_days)
    if matured.excluded:
        log.info(
            "%s dt=%s: %d of %d labels were not final within %d day(s); left out",
            schema.name,
            day,
            matured.excluded,
            len(labels),
            delay_days,
        )
    return matured.frame


def _labelled_scores(
    storage: Storage,
    schema: DatasetSchema,
    day: str,
    version: int,
    delay_days: int = 0,
    cluster: str = "",
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, int]:
    """(matured labels of the day, the version's scores joined with them (and the
    ``cluster`` column when the day has it), rows scored by other versions and left out)."""
    labels = _matured_labels(storage, schema, day, delay_days)
    if labels is None:
        return None, None, 0
    scores = _read_scores(storage, schema, day)
    if scores is None:
        return labels, None, 0
    own = scores[scores["model_version"] == version]
    columns = [schema.id_column, schema.label_column]
    columns += [cluster] if cluster and cluster in labels.columns else []
    joined = own.merge(labels[columns], on=schema.id_column)
    return labels, joined, len(scores) - len(own)


def _version_days(
    storage: Storage,
    schema: DatasetSchema,
    version: int,
    after: str,
    until: str,
    zone: str = lake.SCORED,
) -> list[str]:
    """Days in (after, until] whose published scores in ``zone`` are the version's, oldest
    first."""
    days = []
    for key in storage.list(f"{zone}/{schema.name}/"):
        if not key.endswith(lake.MANIFEST) or "dt=" not in key:
            continue
        part = key.split("dt=")[1].split("/")[0]
        if after < part <= until:
            manifest = json.loads(storage.read_bytes(key))
            if str(manifest.get("model_version")) == str(version):
                days.append(part)
    return sorted(days)


def _sample(frames: list[pd.DataFrame], schema: DatasetSchema, cluster: str = "") -> Sample:
    """Labels and scores of ``frames``; groups from ``cluster`` when every frame has it."""
    if not frames:
        return Sample(np.zeros(0, dtype=np.int64), np.zeros(0))
    joined = pd.concat(frames, ignore_index=True)
    grouped = cluster and all(cluster in f.columns for f in frames)
    return Sample(
        np.asarray(schema.target(joined[schema.label_column]), dtype=np.int64),
        joined["score"].to_numpy(dtype=float),
        joined[cluster].astype(str).to_numpy() if grouped else None,
    )


def matured_performance(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    perf: PerformanceThresholds,
    champion: Champion,
) -> dict[str, Any]:
    """The champion version's performance on the matured window against its own baseline,
    and the prevalence of the matured days.

    Only scores whose ``model_version`` is the champion's count (rows scored by other
    versions are left out and logged). The baseline is the version's training holdout,
    scored now, pooled with the first ``perf.baseline_days`` matured days it scored outside
    the current window.

    Returns ``performance`` (point metrics of the window, or None), ``performance_check``
    (level, reason, counts, intervals), ``prevalence`` (per-day rates with intervals and
    the shift check) and ``level`` (the worst of the two checks).
    """
    last = day - dt.timedelta(days=perf.label_delay_days)
    window = [(last - dt.timedelta(days=o)).isoformat() for o in range(perf.window_days)][::-1]
    frames, used, per_day, dropped = [], [], [], 0
    for current in window:
        labels, joined, other = _labelled_scores(
            storage,
            schema,
            current,
            champion.version,
            perf.label_delay_days,
            perf.cluster_column,
        )
        dropped += other
        if labels is not None:
            y = schema.target(labels[schema.label_column])
            per_day.append((current, len(labels), int(np.sum(y))))
        if joined is not None and len(joined):
            frames.append(joined)
            used.append(current)
    if dropped:
        log.warning(
            "%s on %s: %s matured scored rows are from other model versions than v%s; left out",
            schema.name,
            day,
            dropped,
            champion.version,
        )
    base_frames, base_days = [], []
    if champion.holdout is not None and len(champion.holdout):
        holdout = champion.holdout
        if schema.label_time_column and champion.trained_through:
            # Only holdout days that had label_delay_days to mature before training: the
            # newest rows' labels were less complete than any monitored day's.
            complete = end_of_day(
                dt.date.fromisoformat(champion.trained_through[:10])
                - dt.timedelta(days=perf.label_delay_days)
            )
            holdout = holdout[pd.to_datetime(holdout[schema.timestamp_column], utc=True) < complete]
        holdout = matured_within(holdout, schema, perf.label_delay_days).frame
        if len(holdout):
            scores = champion.model.predict_proba(holdout[schema.model_input_columns])[:, 1]
            base = pd.DataFrame({schema.label_column: holdout[schema.label_column]})
            base["score"] = scores
            if perf.cluster_column in holdout.columns:
                base[perf.cluster_column] = holdout[perf.cluster_column].to_numpy()
            base_frames.append(base)
    for candidate in _version_days(
        storage, schema, champion.version, champion.trained_through, last.isoformat()
    ):
        if len(base_days) >= perf.baseline_days:
            break
        if candidate in window:
            continue
        _, joined, _ = _labelled_scores(
            storage,
            schema,
            candidate,
            champion.version,
            perf.label_delay_days,
            perf.cluster_column,
        )
        if joined is not None and len(joined):
            base_frames.append(joined)
            base_days.append(candidate)
    current_sample = _sample(frames, schema, perf.cluster_column)
    baseline_sample = _sample(base_frames, schema, perf.cluster_column)
    holdout_rows = 0 if champion.holdout is None else len(champion.holdout)
    baseline_info = {"days": base_days, "holdout_rows": holdout_rows}
    if current_sample.rows == 0:
        check = None
        level, reason = OK, f"no matured labels of v{champion.version} yet"
    elif baseline_sample.rows == 0:
        check = None
        level, reason = OK, f"v{champion.version} has no baseline yet (no holdout, no days)"
        log.warning("%s on %s: %s", schema.name, day, reason)
    else:
        check = compare_performance(current_sample, baseline_sample, perf, champion.version)
        level, reason = check.level, check.reason
        if not check.changes:
            log.warning("%s on %s: performance %s", schema.name, day, reason)
    performance = None
    y = current_sample.y
    if current_sample.rows and 0 < y.sum() < len(y):
        metrics = classification_metrics(y, current_sample.scores, perf.fpr_target)
        performance = {
            "days": used,
            "rows": current_sample.rows,
            "positives": current_sample.positives,
            "model_version": champion.version,
            **metrics,
        }
    prevalence = prevalence_check(
        per_day, (baseline_sample.rows, baseline_sample.positives), perf.prevalence_confidence
    )
    if prevalence.level != OK:
        log.warning("%s on %s: %s", schema.name, day, prevalence.reason)
    return {
        "performance": performance,
        "performance_check": {
            **(check.to_dict() if check else {"level": level, "reason": reason}),
            "baseline": {**baseline_info, **(check.baseline if check else {})},
            "other_version_rows_dropped": dropped,
        },
        "performance_level": level,
        "performance_reason": reason,
        "prevalence": prevalence.to_dict(),
        "prevalence_level": prevalence.level,
    }


def _read_json(storage: Storage, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(storage.read_bytes(k)) for k in storage.list(prefix) if k.endswith(".json")]


def _partition_rows(storage: Storage, schema: DatasetSchema) -> dict[str, int]:
    rows = {}
    for key in storage.list(f"working/{schema.name}/"):
        if key.endswith(lake.VALIDATED_MARKER):
            part = key.split("dt=")[1].split("/")[0]
            rows[part] = int(json.loads(storage.read_bytes(key))["rows"])
    return rows


@dataclass(frozen=True)
class RetrainSplit:
    """How a retrain on some day would split its window: the spec's training settings
    (``window_days``, ``holdout_fraction``, ``holdout_positives``, ``max_holdout_fraction``,
    ``embargo_days``) and the champion's cutoff (the holdout never starts before it)."""

    params: Any  # mlops_core.train.TrainParams
    evaluate_after: pd.Timestamp | None = None

    def rows(
        self, storage: Storage, schema: DatasetSchema, day: dt.date, new_days: list[str]
    ) -> tuple[int, int] | None:
        """(holdout rows, rows of ``new_days`` the training split keeps) of a retrain on
        ``day``, split exactly as :func:`mlops_core.train.train_model` splits (the same
        code); ``None`` without labelled partitions to read."""
        from mlops_core.train import split_for_gate

        frames = []
        for offset in range(self.params.window_days):
            part = (day - dt.timedelta(days=offset)).isoformat()
            frame = _read_working(storage, schema, part)
            if frame is not None:
                frames.append(frame.assign(_partition=part))
        if not frames or any(schema.label_column not in f.columns for f in frames):
            return None
        window = matured_for_training(pd.concat(frames, ignore_index=True), schema, day).frame
        try:
            train, holdout, _ = split_for_gate(window, schema, self.params, self.evaluate_after)
        except SelfEvaluationError:  # every row is after the champion's cutoff: none trains
            return len(window), 0
        return len(holdout), int(train["_partition"].isin(new_days).sum())


def _policy_state(
    storage: Storage,
    schema: DatasetSchema,
    model: str,
    day: dt.date,
    level: str,
    trained_through: str,
    perf: PerformanceThresholds,
    *,
    policy: RetrainPolicy | None = None,
    champion_version: int | str | None = None,
    window_days: int = 7,
    holdout_fraction: float = 0.2,
    at: dt.datetime | None = None,
    retrain: RetrainSplit | None = None,
) -> PolicyInput:
    """Past decisions and retrain requests, and the new labelled data that could teach a
    retrained model something.

    This run's own earlier output (a rerun: same day, same ``at``) is left out, so a rerun
    decides the same; earlier runs of the same calendar day count toward the budget.
    Persistence counts the alert days among the last ``alert_days_window`` days of the same
    champion version. New labelled rows are counted after the champion's training data,
    after the last retrain, and from the first day of the ongoing breach (retraining on labels
    from before a drift cannot learn it), inside the window a retrain on ``day`` reads; the
    newest ``holdout_fraction`` of that window goes to the holdout, unmatured days first, and
    ``in_holdout`` says how many of the new rows it would take. With ``retrain`` (the spec's
    training settings and the champion's cutoff), the retrain's split is computed as training
    computes it instead (labels final by ``day``, the holdout pooled to
    ``holdout_positives``, the embargo): a pooled holdout can take far more than
    ``holdout_fraction``, and the newest, post-breach rows first.
    """
    policy = policy or RetrainPolicy()
    at = at or dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    all_records = {r["day"]: r for r in _read_json(storage, decisions_prefix(model))}
    records = {d: r for d, r in all_records.items() if d != day.isoformat()}
    requested = {e["at"] for e in _read_json(storage, retrains_prefix(model))}
    requested |= {r["at"] for r in all_records.values() if r["decision"]["retrain"]}
    # Trainings the policy did not request (cron, landing, by hand) count as retrains too.
    requested |= {
        e["at"]
        for e in _read_json(storage, trainings_prefix(model))
        if e.get("trigger") != "retrain_request"
    }
    # Strictly earlier: this run's own request (a rerun) does not count against it.
    retrains = sorted(t for t in (dt.datetime.fromisoformat(a) for a in requested) if t < at)
    last_retrain = retrains[-1] if retrains else None
    breach_start = day
    previous = records.get((day - dt.timedelta(days=1)).isoformat())
    while (
        previous and previous["decision"]["level"] == ALERT and not previous["decision"]["retrain"]
    ):
        breach_start = dt.date.fromisoformat(previous["day"])
        previous = records.get((breach_start - dt.timedelta(days=1)).isoformat())
    alert_days = int(level == ALERT)
    for offset in range(1, policy.alert_days_window):
        past = records.get((day - dt.timedelta(days=offset)).isoformat())
        same_version = champion_version is None or str(past and past.get("champion_version")) == (
            str(champion_version)
        )
        alert_days += bool(past and same_version and past["decision"]["level"] == ALERT)
    since = max(
        trained_through,
        last_retrain.date().isoformat() if last_retrain else "",
        (breach_start - dt.timedelta(days=1)).isoformat() if level == ALERT else "",
    )
    matured_until = (day - dt.timedelta(days=perf.label_delay_days)).isoformat()
    window_start = (day - dt.timedelta(days=window_days - 1)).isoformat()
    rows = {p: n for p, n in _partition_rows(storage, schema).items() if p <= day.isoformat()}
    window_rows = sum(n for p, n in rows.items() if p >= window_start)
    holdout_rows = window_rows - int(window_rows * (1 - holdout_fraction))
    unmatured = sum(n for p, n in rows.items() if p > matured_until)
    new_days = {p for p in rows if since < p <= matured_until and p >= window_start}
    new_rows = sum(rows[p] for p in new_days)
    in_holdout = min(new_rows, max(0, holdout_rows - unmatured))
    split = retrain and retrain.rows(storage, schema, day, sorted(new_days))
    if split is not None:
        holdout_rows, kept = split
        in_holdout = new_rows - min(new_rows, kept)
    return PolicyInput(
        level=level,
        at=at,
        last_retrain_at=last_retrain,
        retrains_today=sum(1 for r in retrains if r.date() == at.date()),
        new_labelled_rows=new_rows,
        alert_days=alert_days,
        in_holdout=in_holdout,
        window_rows=window_rows,
        holdout_rows=holdout_rows,
    )


def _drift_persistence(
    storage: Storage,
    model: str,
    day: dt.date,
    version: int,
    report: DriftReport,
    days: int,
) -> dict[str, Any]:
    """Features at warn level today that were drifted on each of the ``days - 1`` days
    before under the same champion version (from the decision records): a warn that holds
    for ``days`` consecutive days is an alert."""
    warned = [f.feature for f in report.features if f.level == WARN]
    past: list[list[str] | None] = []
    if warned and days >= 2:
        for offset in range(1, days):
            key = (
                decisions_prefix(model) + f"dt={(day - dt.timedelta(days=offset)).isoformat()}.json"
            )
            record = json.loads(storage.read_bytes(key)) if storage.exists(key) else None
            same = record is not None and str(record.get("champion_version")) == str(version)
            past.append(record["drifted_features"] if same else None)
    features = persistent_drift(warned, past, days)
    reason = (
        f"{', '.join(features)} drifted on {days} consecutive days: a persistent shift alerts"
        if features
        else ""
    )
    return {"days": days, "features": features, "reason": reason}


@dataclass
class Assessment:
    """One day's monitoring outcome: the decision record (as stored in the lake) and what
    the report renders."""

    record: dict[str, Any]
    drift: DriftReport
    reference: pd.DataFrame
    current: pd.DataFrame


def assess(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    champion: Champion,
    *,
    model_name: str,
    thresholds: DriftThresholds,
    perf: PerformanceThresholds,
    policy: RetrainPolicy,
    training: Any = None,
    at: dt.datetime | None = None,
) -> Assessment:
    """Drift, performance and prevalence of ``day`` and the retraining decision; writes the
    decision record (and a retrain request entry when it retrains) to the lake.

    ``training`` (the spec's train params: ``window_days``, ``holdout_fraction``) says what
    a retrain would read; without it the champion's own training split is assumed. ``at``
    is when the decision is taken (the run's logical time; midnight of ``day`` without it).
    """
    at = at or dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    parts = [_read_working(storage, schema, d) for d in champion.reference_days]
    parts = [f for f in parts if f is not None] or [pd.DataFrame()]
    reference = pd.concat(parts, ignore_index=True)
    if reference.empty:
        raise InputMissingError(
            f"the champion's training partitions {champion.reference_days} are gone from the lake"
        )
    reference = reference.sample(min(len(reference), REFERENCE_SAMPLE), random_state=0)
    current = _read_working(storage, schema, day.isoformat())
    scores = _read_scores(storage, schema, day.isoformat())
    if current is None or scores is None:
        raise InputMissingError(
            f"{schema.name} dt={day} is not validated and scored yet; run the use case's "
            "scoring DAG for that day first"
        )
    watched = set(thresholds.features or schema.feature_columns)
    numeric = [c.name for c in schema.numeric if c.name in watched]
    report = drift_report(
        day.isoformat(),
        reference,
        current,
        numeric=numeric,
        categorical=[c for c in schema.categorical if c in watched],
        thresholds=thresholds,
        reference_scores=champion.model.predict_proba(reference[schema.model_input_columns])[:, 1],
        current_scores=scores["score"].to_numpy(),
    )
    matured = matured_performance(storage, schema, day, perf, champion)
    persistence = _drift_persistence(
        storage, model_name, day, champion.version, report, thresholds.persistent_warn_days
    )
    drift_level = ALERT if persistence["features"] else report.level
    level = worst([drift_level, matured["performance_level"], matured["prevalence_level"]])
    state = _policy_state(
        storage,
        schema,
        model_name,
        day,
        level,
        champion.trained_through,
        perf,
        policy=policy,
        champion_version=champion.version,
        window_days=getattr(training, "window_days", champion.window_days),
        holdout_fraction=getattr(training, "holdout_fraction", champion.holdout_fraction),
        at=at,
        # Counted on the split the retrain would really make (labels final by ``day``, the
        # pooled holdout, the embargo): post-breach rows sit in the holdout and the embargo
        # first, so a retrain waits until they reach its training split.
        retrain=training and RetrainSplit(training, cutoff_timestamp(champion.cutoff)),
    )
    decision = decide(policy, state)
    record = {
        "day": day.isoformat(),
        "at": state.at.isoformat(),
        "model": model_name,
        "champion_version": str(champion.version),
        "drift_level": drift_level,
        **matured,
        "drifted_features": [f.feature for f in report.drifted],
        "drift_persistence": persistence,
        "policy_state": {
            **asdict(state),
            "rows_for_training": state.rows_for_training,
            "at": state.at.isoformat(),
            "last_retrain_at": state.last_retrain_at.isoformat() if state.last_retrain_at else None,
        },
        "decision": decision.to_dict(),
    }
    storage.write_bytes(
        decisions_prefix(model_name) + f"dt={day.isoformat()}.json", registry.dumps(record).encode()
    )
    if decision.retrain:
        stamp = state.at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        storage.write_bytes(
            retrains_prefix(model_name) + f"at={stamp}.json",
            registry.dumps(
                {
                    "at": state.at.isoformat(),
                    "day": day.isoformat(),
                    "champion_version": str(champion.version),
                    "reason": decision.reason,
                }
            ).encode(),
        )
    return Assessment(record, report, reference, current)


def monitor(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    model_name: str,
    thresholds: DriftThresholds,
    perf: PerformanceThresholds,
    policy: RetrainPolicy,
    training: Any = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Compare the day's partition with the champion's reference and decide on retraining.

    Writes ``monitoring/<model>/decisions/dt=<day>.json`` to the lake (and a retrain request
    under ``monitoring/<model>/retrains/``), the report (JSON and HTML with plots) under
    ``<data root>/reports/monitoring/<model>/dt=<day>/``, and logs both to an MLflow run in
    experiment ``<model>_monitoring``. ``training`` and ``at``: see :func:`assess`.
    """
    champion = load_champion(settings, model_name)
    outcome = assess(
        storage,
        schema,
        day,
        champion,
        model_name=model_name,
        thresholds=thresholds,
        perf=perf,
        policy=policy,
        training=training,
        at=at,
    )
    record, report = outcome.record, outcome.drift
    out = settings.reports_dir / "monitoring" / model_name / f"dt={day.isoformat()}"
    out.mkdir(parents=True, exist_ok=True)
    full = {**record, "drift": report.to_dict()}
    (out / "report.json").write_text(registry.dumps(full))
    history = _history(storage, model_name)
    (out / "report.html").write_text(
        render_html(full, report, outcome.reference, outcome.current, history)
    )
    decision = Decision(**record["decision"])
    _log_to_mlflow(settings, model_name, day, report, record, decision, out)
    return {**record, "report": str(out / "report.html")}


def _history(storage: Storage, model: str) -> list[dict[str, Any]]:
    return [json.loads(storage.read_bytes(k)) for k in storage.list(decisions_prefix(model))]


def _log_to_mlflow(
    settings, model_name, day, report: DriftReport, record: dict, decision: Decision, out
) -> None:
    mlc = registry.client(settings.mlflow_tracking_uri)
    experiment = registry.ensure_experiment(
        settings.mlflow_tracking_uri, f"{model_name}_monitoring", settings.mlflow_artifact_location
    )
    tags = {
        "day": day.isoformat(),
        "drift_level": record["drift_level"],
        "performance_level": record["performance_level"],
        "prevalence_level": record["prevalence_level"],
        "retrain": str(decision.retrain),
        "decision_reason": decision.reason,
    }
    metrics = {f"psi_{f.feature}": f.psi for f in report.features}
    if report.prediction is not None:
        metrics["psi_prediction_score"] = report.prediction.psi
    performance = record["performance"]
    if performance:
        metrics["matured_pr_auc"] = performance["pr_auc"]
        metrics["matured_recall_at_fpr"] = performance["recall_at_fpr"]
        metrics["matured_positives"] = performance["positives"]
    for change in record["performance_check"].get("changes", []):
        metrics[f"{change['metric']}_relative_change"] = change["relative_change"]
        metrics[f"{change['metric']}_relative_change_high"] = change["ci_high"]
    days = record["prevalence"]["days"]
    if days:
        metrics["positive_rate_newest_day"] = days[-1]["rate"]
    with registry.open_run(mlc, experiment, f"monitoring-{day.isoformat()}", tags) as run_id:
        registry.log_values(mlc, run_id, metrics=metrics)
        mlc.log_artifacts(run_id, str(out), artifact_path="monitoring")


def _plot(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _bar(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_html(
    record: dict[str, Any],
    report: DriftReport,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    history: list[dict[str, Any]],
) -> str:
    """A self-contained page: decision, per-feature PSI table, plots of drifted features and
    of the matured-label PR-AUC over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for feat in report.drifted[:6]:
        fig, ax = plt.subplots(figsize=(5, 2.6))
        if feat.kind == "numeric":
            bins = np.quantile(reference[feat.feature], np.linspace(0, 1, 21))
            ax.hist(
                reference[feat.feature],
                bins=np.unique(bins),
                alpha=0.5,
                density=True,
                label="reference",
            )
            ax.hist(
                current[feat.feature].clip(bins[0], bins[-1]),
                bins=np.unique(bins),
                alpha=0.5,
                density=True,
                label="current",
            )
        else:
            ref = reference[feat.feature].value_counts(normalize=True)
            cur = (
                current[feat.feature].value_counts(normalize=True).reindex(ref.index, fill_value=0)
            )
            pos = np.arange(len(ref))
            ax.bar(pos - 0.2, ref.to_numpy(), 0.4, label="reference")
            ax.bar(pos + 0.2, cur.to_numpy(), 0.4, label="current")
            ax.set_xticks(pos, ref.index, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{feat.feature}: PSI {feat.psi:.3f} ({feat.level})")
        ax.legend(fontsize=7)
        images.append(_plot(fig))
        plt.close(fig)
    points = sorted((h["day"], h["performance"]["pr_auc"]) for h in history if h.get("performance"))
    if points:
        fig, ax = plt.subplots(figsize=(5, 2.6))
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
        ax.set_title("PR-AUC on matured labels")
        ax.tick_params(axis="x", rotation=45, labelsize=7)
        images.append(_plot(fig))
        plt.close(fig)
    rows = "".join(
        f"<tr><td>{html.escape(f.feature)}</td><td>{f.kind}</td><td>{f.psi:.4f}</td>"
        f"<td>{_bar(f.warn_at)} / {_bar(f.alert_at)}</td>"
        f"<td>{'' if f.ks_pvalue is None else f'{f.ks_pvalue:.2e}'}</td><td>{f.level}</td></tr>"
        for f in report.features + ([report.prediction] if report.prediction else [])
    )
    prevalence = record.get("prevalence") or {}
    prevalence_rows = "".join(
        f"<tr><td>{d['day']}</td><td>{d['rows']}</td><td>{d['positives']}</td>"
        f"<td>{d['rate']:.2%} [{d['ci_low']:.2%}, {d['ci_high']:.2%}]</td></tr>"
        for d in prevalence.get("days", [])
    )
    decision = record["decision"]
    imgs = "".join(f'<img src="data:image/png;base64,{i}">' for i in images)
    return (
        "<!doctype html><meta charset='utf-8'><title>Monitoring "
        f"{html.escape(record['model'])} {record['day']}</title>"
        f"<h1>{html.escape(record['model'])} v{record['champion_version']} on {record['day']}</h1>"
        f"<p><b>Decision: {'RETRAIN' if decision['retrain'] else 'no retrain'}</b> "
        f"({html.escape(decision['reason'])}); drift {record['drift_level']}, performance "
        f"{record['performance_level']}: {html.escape(record['performance_reason'])}</p>"
        f"<p>Prevalence {record.get('prevalence_level', OK)}: "
        f"{html.escape(prevalence.get('reason', ''))}</p>"
        "<table border=1 cellpadding=4><tr><th>matured day</th><th>rows</th><th>positives</th>"
        f"<th>positive rate [interval]</th></tr>{prevalence_rows}</table>"
        "<table border=1 cellpadding=4><tr><th>feature</th><th>kind</th><th>PSI</th>"
        "<th>warn / alert at (this sample size)</th><th>KS p</th>"
        f"<th>level</th></tr>{rows}</table>{imgs}"
    )


def shadow_prefix(model: str) -> str:
    """One record per judged day, ``dt=<day>.json``; a rerun of the day rewrites it."""
    return f"monitoring/{model}/shadow/"


def shadow_sequence(
    storage: Storage,
    schema: DatasetSchema,
    last_matured: dt.date,
    *,
    champion_version: int,
    challenger_version: int,
    max_looks: int,
    label_delay_days: int = 0,
    cluster: str = "",
) -> tuple[pd.DataFrame | None, list[str]]:
    """The sequence's evidence: every matured day up to ``last_matured`` on which the frozen
    challenger version was shadow-scored, joined row by row with the champion version's
    scores and the labels (rows either model did not score are left out), oldest first.

    Returns the rows of the first ``max_looks`` such days (the horizon; ``None`` when there
    are none) and all the sequence's days: look ``k`` is its ``k``-th matured day, so a new
    challenger (or champion) version starts at look 1 with none of the earlier rows."""
    frames, days = [], []
    shadow_days = _version_days(
        storage, schema, challenger_version, "", last_matured.isoformat(), lake.SHADOW
    )
    for current in shadow_days:
        if len(frames) == max_looks:
            days.append(current)  # past the horizon: counted as a look, not read
            continue
        labels = _matured_labels(storage, schema, current, label_delay_days)
        champ = _read_scores(storage, schema, current)
        shadow = _read_scores(storage, schema, current, lake.SHADOW)
        if labels is None or champ is None or shadow is None:
            continue
        champ = champ[champ["model_version"] == int(champion_version)]
        shadow = shadow[shadow["model_version"] == int(challenger_version)]
        keep = [schema.id_column, schema.label_column] + ([cluster] if cluster else [])
        joined = (
            labels[keep]
            .merge(champ[[schema.id_column, "score"]], on=schema.id_column)
            .merge(
                shadow[[schema.id_column, "score"]],
                on=schema.id_column,
                suffixes=("_champion", "_challenger"),
            )
        )
        if len(joined):
            frames.append(joined)
            days.append(current)
    return (pd.concat(frames, ignore_index=True) if frames else None), days


def _previous_judgement(storage: Storage, model: str, day: dt.date) -> dict[str, Any] | None:
    """The newest shadow record of a day before ``day`` that judged a challenger."""
    for key in reversed(storage.list(shadow_prefix(model))):
        part = key.rsplit("dt=", 1)[-1].removesuffix(".json")
        if part < day.isoformat():
            record = json.loads(storage.read_bytes(key))
            if record.get("challenger_version") is not None:
                return record
    return None


def judge_shadow(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    model_name: str,
    champion_version: int | str,
    challenger_version: int | str,
    perf: PerformanceThresholds,
    policy: Any,
) -> dict[str, Any]:
    """Look at the shadow sequence of (champion, challenger) versions on ``day``: pool its
    matured days (labels ``perf.label_delay_days`` old) and decide with the sequential test
    of ``mlops_core.shadow``. Nothing is written; the result says whether the sequence
    restarted since the last judged day (another challenger or champion version)."""
    from mlops_core.evaluate import cluster_groups
    from mlops_core.shadow import INSUFFICIENT, ShadowVerdict, compare

    last = day - dt.timedelta(days=perf.label_delay_days)
    data, days = shadow_sequence(
        storage,
        schema,
        last,
        champion_version=int(champion_version),
        challenger_version=int(challenger_version),
        max_looks=policy.max_looks,
        label_delay_days=perf.label_delay_days,
        cluster=policy.cluster_column,
    )
    look = len(days)
    if data is None:
        verdict = ShadowVerdict(
            INSUFFICIENT,
            f"no matured partition up to {last} scored by both champion version "
            f"{champion_version} and challenger version {challenger_version} yet",
            0,
            0,
            look=0,
            max_looks=policy.max_looks,
        )
    else:
        verdict = compare(
            schema.target(data[schema.label_column]),
            data["score_champion"].to_numpy(),
            data["score_challenger"].to_numpy(),
            policy,
            look=look,
            groups=cluster_groups(data, policy.cluster_column),
        )
    sequence: dict[str, Any] = {
        "first_day": days[0] if days else None,
        "looks": look,
        "restarted": None,
    }
    previous = _previous_judgement(storage, model_name, day)
    if previous is not None and (
        str(previous["challenger_version"]) != str(challenger_version)
        or str(previous["champion_version"]) != str(champion_version)
    ):
        sequence["restarted"] = (
            f"the sequence restarted at look 1 on {sequence['first_day'] or 'its first day'}: "
            f"champion v{champion_version} vs challenger v{challenger_version} replaces "
            f"champion v{previous['champion_version']} vs challenger "
            f"v{previous['challenger_version']} (last judged {previous['day']}); none of the "
            "earlier evidence counts"
        )
        log.warning("%s shadow: %s", model_name, sequence["restarted"])
    reason = verdict.reason
    if sequence["restarted"]:
        reason = f"{reason} ({sequence['restarted']})"
    return {
        "day": day.isoformat(),
        "champion_version": str(champion_version),
        "challenger_version": str(challenger_version),
        "status": verdict.decision,
        "days": days[: policy.max_looks],
        "sequence": sequence,
        "verdict": verdict.to_dict(),
        "reason": reason,
    }


def shadow_evaluation(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    model_name: str,
    perf: PerformanceThresholds,
    policy: Any,
) -> dict[str, Any]:
    """Judge the shadow-scored challenger against the champion on all matured labels of its
    sequence (:func:`judge_shadow`); promote it when the sequential test says it is better
    (recorded in the ledger). Writes ``monitoring/<model>/shadow/dt=<day>.json``.

    A rerun of a day decides the same: the evidence is read from the lake and the bootstrap
    is seeded; a rerun after that day's promotion returns its record unchanged."""
    from mlops_core import steps
    from mlops_core.shadow import KEEP, PROMOTE

    key = shadow_prefix(model_name) + f"dt={day.isoformat()}.json"
    challenger, why = steps.shadow_candidate(settings, model_name)
    champion = registry.require(settings.mlflow_tracking_uri, model_name)
    if storage.exists(key):
        stored = json.loads(storage.read_bytes(key))
        if stored.get("status") == PROMOTE and str(stored.get("challenger_version")) == str(
            champion.version
        ):
            log.info("%s: %s already promoted v%s", model_name, day, champion.version)
            return stored
    if challenger is None:
        return {
            "day": day.isoformat(),
            "champion_version": champion.version,
            "status": "skipped",
            "reason": why,
        }
    result = judge_shadow(
        storage,
        schema,
        day,
        model_name=model_name,
        champion_version=champion.version,
        challenger_version=challenger.version,
        perf=perf,
        policy=policy,
    )
    if result["status"] in (PROMOTE, KEEP):
        # The comparison concluded: the challenger is no longer frozen in shadow, and a newer
        # gate-passed version may take its place (steps.enter_shadow).
        registry.tag_version(
            settings.mlflow_tracking_uri, challenger, {steps.SHADOW_OUTCOME: result["status"]}
        )
    if result["status"] == KEEP:
        registry.release_challenger(settings.mlflow_tracking_uri, model_name, challenger.version)
        log.warning(
            "%s: shadow comparison of challenger v%s concluded keep on %s; alias challenger "
            "released, champion v%s stays",
            model_name,
            challenger.version,
            day,
            champion.version,
        )
    if result["status"] == PROMOTE:
        at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        result["promotion"] = steps.promote(
            settings,
            storage,
            model_name,
            challenger.version,
            actor=f"shadow evaluation {day.isoformat()}",
            at=at,
        )
    storage.write_bytes(key, registry.dumps(result).encode())
    return result
