"""Task-sized units: each composes the domain modules for one pipeline step.

Operators in plugins/ call exactly one of these, passing plain values (dates, names,
thresholds); the functions return small JSON-able dicts suitable for XCom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_core import delivery, lake, ledger, outputs, registry
from mlops_core.config import Settings
from mlops_core.domains import categorical_domains, read_domains, write_domains
from mlops_core.errors import (
    GateRejectedError,
    InputMissingError,
    PipelineError,
    RegistryConflictError,
    RegistryError,
    ScoringInputError,
    SelfEvaluationError,
)
from mlops_core.evaluate import (
    REJECT,
    GateThresholds,
    GateVerdict,
    cluster_groups,
    evaluate_gate,
)
from mlops_core.extract import ExtractResult, list_landing
from mlops_core.incidents import runbook_ref
from mlops_core.maturity import cutoff_timestamp, matured_for_training
from mlops_core.outputs import OutputManifest
from mlops_core.provenance import log_training_dataset
from mlops_core.schema import DatasetSchema
from mlops_core.score import file_sha256, score_file
from mlops_core.storage import Storage
from mlops_core.train import TrainParams, compare_candidates, load_training_set, train_model
from mlops_core.validate import ValidationReport
from mlops_core.windows import window_days

_REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def extract(storage: Storage, schema: DatasetSchema, day: dt.date, batch_id: str) -> ExtractResult:
    """Extract the day's complete landing partition into a staging candidate, unless nothing
    new landed (then the current validated version, or the pending candidate, is returned).

    A delivery that cannot be read is quarantined before the typed error is raised.
    """
    return delivery.prepare(storage, schema, day, batch_id)


def extract_window(
    storage: Storage, schema: DatasetSchema, end_day: dt.date, days: int, batch_id: str
) -> list[str]:
    """Extract every complete landed day of the window; returns the days with data.

    The end day must have a complete delivery or validated data (it is the partition this run
    is for). Older days are read only when their ``_SUCCESS`` marker is there: a day whose
    delivery is in progress keeps its validated version (or is left out), with a warning.
    Every day is attempted before the first error is raised.
    """
    ready, errors = [], []
    for day in window_days(end_day, days):
        listing = list_landing(storage, schema, day)
        if day != end_day and not listing.complete:
            has_current = delivery.current(storage, schema, day) is not None
            if listing.data:
                log.warning(
                    "%s dt=%s: %d file(s) without %s (delivery in progress) are not read; %s",
                    schema.name,
                    day,
                    len(listing.data),
                    lake.SUCCESS_MARKER,
                    "its validated version is used" if has_current else "the day is left out",
                )
            if has_current:
                ready.append(day.isoformat())
            continue
        try:
            extract(storage, schema, day, batch_id)
            ready.append(day.isoformat())
        except PipelineError as exc:
            errors.append(exc)
    _raise_first(errors)
    return ready


def days_to_validate(
    storage: Storage, schema: DatasetSchema, end_day: dt.date, days: int
) -> list[str]:
    """Days of the window with a pending candidate or a validated version (end day always)."""
    return [
        d.isoformat()
        for d in window_days(end_day, days)
        if d == end_day
        or delivery.pending(storage, schema, d) is not None
        or delivery.current(storage, schema, d) is not None
    ]


def validate_window(
    storage: Storage, schema: DatasetSchema, days: list[str], *, settings: Settings, batch_id: str
) -> dict[str, Any]:
    """Validate (with labels) each listed day; quarantines and reports every failing day."""
    passed, errors = [], []
    for value in days:
        try:
            validate(
                storage,
                schema,
                lake.parse_day(value),
                settings=settings,
                batch_id=batch_id,
                with_label=True,
            )
            passed.append(value)
        except PipelineError as exc:
            errors.append(exc)
    _raise_first(errors)
    return {"validated": passed}


def _raise_first(errors: list[PipelineError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = errors[0]
        joined = "\n\n".join(str(e) for e in errors)
        raise type(first)(
            f"{len(errors)} partitions failed:\n\n{joined}",
            quarantine_path=first.quarantine_path,
            check=first.check,
            files=[f for e in errors for f in e.files],
            rows=[r for e in errors for r in e.rows],
        )


def validate(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    batch_id: str,
    with_label: bool,
) -> ValidationReport:
    """Validate the day's candidate and publish it to ``working/`` (the previous version is
    archived), or quarantine it and raise; ``working/`` is never emptied by a failure.

    Scoring data (``with_label=False``) is also checked against the categorical values of the
    latest training data: a larger share of unseen values than the schema allows fails.

    Raises:
        DataValidationError: any critical check failed. The message lists each failing check
            with counts and sample rows, and where the raw batch now is.
    """
    return delivery.validate_and_publish(
        storage,
        schema,
        day,
        docs_dir=settings.reports_dir / "data_docs" / schema.name,
        batch_id=batch_id,
        with_label=with_label,
        domains=read_domains(storage, schema),
    )


def code_version() -> str:
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no user input
            ["git", "-C", str(_REPO_ROOT), "rev-parse", "--short=12", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def lock_hash() -> str:
    lock = _REPO_ROOT / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest()[:16] if lock.exists() else "unknown"


def train(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    params: TrainParams,
    experiment: str,
    run_tags: dict[str, str] | None = None,
    search: tuple[TrainParams, ...] = (),
    model_name: str | None = None,
) -> dict[str, Any]:
    """Train on the validated window ending at ``day`` and log the run to MLflow;
    ``run_tags`` (e.g. the Airflow dag/run/task ids) are added to the run's tags.

    Only labels final by the end of ``day`` are read. With ``model_name``, the holdout (the
    gate's evaluation rows) starts no earlier than the current champion's training cutoff, so
    the gate never scores the champion on rows it was trained on.

    With ``search`` candidates, ``params`` and each candidate are compared on a validation
    slice of the training split (nested MLflow runs under the training run); the best is
    refitted on the whole training split and becomes the run's model.
    """
    data = load_training_set(storage, schema, day, params.window_days)
    matured = matured_for_training(data.frame, schema, day)
    frame = matured.frame
    trials = compare_candidates(frame, schema, [params, *search]) if search else []
    if trials:
        params = next(t.params for t in trials if t.selected)
        log.info(
            "Model search over %d candidates on the validation slice: %s",
            len(trials),
            "; ".join(
                f"{t.params.estimator} pr_auc={t.metrics['pr_auc']:.4f}"
                + (" (selected)" if t.selected else "")
                for t in trials
            ),
        )
    champion_cutoff = _champion_cutoff(settings, model_name) if model_name else None
    result = train_model(frame, schema, params, evaluate_after=champion_cutoff)
    result.metrics["unmatured_rows_excluded"] = float(matured.excluded)
    suite_hashes = sorted(
        {
            json.loads(
                storage.read_bytes(lake.working_prefix(schema.name, d) + lake.VALIDATED_MARKER)
            )["suite_hash"]
            for d in data.partitions
        }
    )
    tags = {
        "data_fingerprint": data.fingerprint,
        "data_partitions": ",".join(sorted(data.partitions)),
        "code_version": code_version(),
        "lock_hash": lock_hash(),
        "expectation_suite_hash": ",".join(suite_hashes),
        "schema_fingerprint": schema.fingerprint(),
        "logical_date": day.isoformat(),
        "labels_final_by": matured.as_of,
        "evaluation_not_before": str(champion_cutoff) if champion_cutoff is not None else "none",
        **(run_tags or {}),
    }
    experiment_id = registry.ensure_experiment(
        settings.mlflow_tracking_uri, experiment, settings.mlflow_artifact_location
    )
    # MLflow signatures only take timezone-naive datetimes; the pipeline reads both as UTC.
    example = result.holdout[schema.model_input_columns].head(100).copy()
    ts = schema.timestamp_column
    if ts in example.columns:  # only when time features derive from it
        example[ts] = example[ts].dt.tz_convert("UTC").dt.tz_localize(None)
    with tempfile.TemporaryDirectory(prefix="mlops-train-") as tmp:
        holdout = Path(tmp) / "holdout.parquet"
        result.holdout.to_parquet(holdout, index=False)
        run_id, model_uri = registry.log_training_run(
            tracking_uri=settings.mlflow_tracking_uri,
            experiment_id=experiment_id,
            run_name=f"{schema.name}-{day.isoformat()}",
            model=registry.sklearn_model(result.pipeline, example),
            params={
                **params.to_dict(),
                "train_rows": result.train_rows,
                "cutoff": result.cutoff,
                "search_candidates": len(trials),
            },
            metrics=result.metrics,
            tags=tags,
            artifacts={"holdout": holdout},
        )
    _log_evaluation(settings.mlflow_tracking_uri, run_id, result, schema, params)
    log_training_dataset(
        settings.mlflow_tracking_uri,
        run_id,
        frame,
        name=schema.name,
        source_partitions={
            storage.uri(lake.working_data_key(schema.name, lake.parse_day(d))): h
            for d, h in data.partitions.items()
        },
        digest=data.fingerprint,
        targets=schema.label_column,
    )
    for i, trial in enumerate(trials):
        registry.log_child_run(
            settings.mlflow_tracking_uri,
            experiment_id,
            parent_run_id=run_id,
            run_name=f"{schema.name}-{day.isoformat()}-candidate-{i}-{trial.params.estimator}",
            params=trial.params.to_dict(),
            metrics={f"validation_{k}": v for k, v in trial.metrics.items()},
            tags={"search_selected": str(trial.selected).lower()},
        )
    write_domains(storage, schema, run_id, categorical_domains(frame, schema))
    out = {
        "run_id": run_id,
        "model_uri": model_uri,
        "metrics": result.metrics,
        "tags": tags,
        "maturity": matured.to_dict(),
    }
    if trials:
        out["search"] = [
            {"estimator": t.params.estimator, "validation": t.metrics, "selected": t.selected}
            for t in trials
        ]
    return out


def _champion_cutoff(settings: Settings, model_name: str) -> pd.Timestamp | None:
    """The current champion's training cutoff (its first holdout timestamp), or None."""
    uri = settings.mlflow_tracking_uri
    champion = registry.resolve(uri, model_name)
    if champion is None:
        return None
    return cutoff_timestamp(registry.client(uri).get_run(champion.run_id).data.params.get("cutoff"))


def _log_evaluation(uri: str, run_id: str, result: Any, schema: DatasetSchema, params) -> None:
    """PR and ROC curves, calibration, the confusion matrix at the operating threshold (the
    score at ``fpr_target`` on the holdout) and feature importance, as run artifacts."""
    from mlops_core.tracking_artifacts import (
        feature_importances,
        log_classification_evaluation,
        threshold_at_fpr,
    )

    y = schema.target(result.holdout[schema.label_column])
    scores = result.pipeline.predict_proba(result.holdout[schema.model_input_columns])[:, 1]
    threshold = threshold_at_fpr(y, scores, params.fpr_target)
    log_classification_evaluation(
        uri, run_id, y, scores, threshold, feature_importances(result.pipeline)
    )


def register(settings: Settings, model_name: str, model_uri: str, run_id: str) -> dict[str, str]:
    """Register the run's model as a new version without an alias (a candidate for the gate)."""
    ref = registry.register_version(
        settings.mlflow_tracking_uri, model_name, model_uri, run_id, {"source_run": run_id}
    )
    return ref.to_dict()


SHADOW_STARTED, SHADOW_OUTCOME = "shadow_started_at", "shadow_outcome"


def enter_shadow(
    settings: Settings, model_name: str, version: str, *, at: dt.datetime
) -> dict[str, Any]:
    """Make a gate-passed ``version`` the challenger that scoring shadows, unless another
    challenger is in shadow: its evidence accumulates per version, so it stays frozen until
    its shadow comparison concludes (tag ``shadow_outcome``) and ``version`` waits.

    Raises:
        GateRejectedError: ``version`` has no passing gate verdict.
    """
    uri = settings.mlflow_tracking_uri
    mlc = registry.client(uri)
    mv = mlc.get_model_version(model_name, str(version))
    if mv.tags.get("gate_decision") != "promote":
        raise GateRejectedError(
            f"{model_name} version {version} has no passing gate verdict "
            f"(gate_decision={mv.tags.get('gate_decision')!r}); it cannot enter shadow"
        )
    current, _ = shadow_candidate(settings, model_name)
    if current is not None and current.version != str(version):
        tags = registry.version_tags(uri, current)
        if not tags.get(SHADOW_OUTCOME):
            reason = (
                f"challenger version {current.version} is in shadow since "
                f"{tags.get(SHADOW_STARTED, 'an earlier run')}; its evidence is counted per "
                f"version, so it stays frozen until its comparison concludes. Version {version} "
                "passed the gate and waits (promote it directly, or train again later)"
            )
            log.warning("%s", reason)
            return {"challenger": current.version, "entered": False, "reason": reason}
    ref = registry.set_challenger(uri, model_name, str(version))
    registry.tag_version(uri, ref, {SHADOW_STARTED: at.isoformat()})
    return {"challenger": ref.version, "entered": True, "reason": "shadow scoring starts"}


def gate(
    settings: Settings,
    schema: DatasetSchema,
    model_name: str,
    version: str,
    thresholds: GateThresholds,
) -> GateVerdict:
    """Score the challenger and the champion on the challenger's holdout and decide.

    Raises:
        GateRejectedError: the challenger failed a threshold; it stays registered but never
            becomes champion.
    """
    uri = settings.mlflow_tracking_uri
    challenger, champion = gate_candidates(uri, model_name, version)
    with tempfile.TemporaryDirectory(prefix="mlops-gate-") as tmp:
        holdout_dir = registry.download_run_artifact(uri, challenger.run_id, "holdout", Path(tmp))
        holdout = pd.read_parquet(next(holdout_dir.rglob("*.parquet")))
    y = schema.target(holdout[schema.label_column])
    inputs = holdout[schema.model_input_columns]
    if champion is not None:
        ensure_not_self_evaluation(uri, champion, challenger)

    def scores_of(ref: registry.ModelRef) -> np.ndarray:
        return registry.load_model(uri, ref).predict_proba(inputs)[:, 1]

    verdict = evaluate_gate(
        y,
        scores_of(challenger),
        scores_of(champion) if champion else None,
        thresholds,
        groups=cluster_groups(holdout, thresholds.cluster_column),
    )
    run_metrics = registry.client(uri).get_run(challenger.run_id).data.metrics
    baseline = {
        k[len("baseline_") :]: v for k, v in run_metrics.items() if k.startswith("baseline_")
    }
    if baseline:
        verdict.context["logistic_regression_baseline"] = baseline
        verdict.reasons.append(
            f"for scale: a default logistic regression on the same split reaches pr_auc "
            f"{baseline.get('pr_auc', float('nan')):.4f}, recall_at_fpr "
            f"{baseline.get('recall_at_fpr', float('nan')):.4f}"
        )
    return record_gate_verdict(settings, challenger, champion, verdict)


def ensure_not_self_evaluation(
    uri: str, champion: registry.ModelRef, challenger: registry.ModelRef
) -> None:
    """Refuse to judge ``champion`` on the challenger's holdout when that holdout starts
    before the champion's training cutoff: the champion's training rows may be among it, and
    it would look far better than it is. Both runs log their ``cutoff`` (the first holdout
    timestamp: training rows are all before it).

    Raises:
        SelfEvaluationError: the champion's cutoff is after the challenger's.
    """
    mlc = registry.client(uri)
    cutoffs = {}
    for role, ref in (("champion", champion), ("challenger", challenger)):
        value = mlc.get_run(ref.run_id).data.params.get("cutoff")
        if value is None:
            log.warning(
                "%s v%s records no training cutoff; cannot check that the gate's evaluation "
                "window is after the champion's training data",
                role,
                ref.version,
            )
            return
        stamp = pd.Timestamp(value)
        cutoffs[role] = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    if cutoffs["champion"] > cutoffs["challenger"]:
        raise SelfEvaluationError(
            f"champion {champion.name} v{champion.version} was trained on rows up to "
            f"{cutoffs['champion']} but the challenger v{challenger.version}'s evaluation "
            f"window starts at {cutoffs['challenger']}: the gate would score the champion on "
            "its own training rows. Train for a day after the champion's cutoff, or roll the "
            "champion back first if the older model is wanted; nothing was promoted "
            f"({runbook_ref('self-evaluation')})",
            check="champion_cutoff_before_evaluation",
        )


def gate_candidates(
    uri: str, model_name: str, version: str
) -> tuple[registry.ModelRef, registry.ModelRef | None]:
    """The challenger version and the champion it is judged against (None when there is no
    champion, or when the challenger already is it)."""
    mv = registry.client(uri).get_model_version(model_name, version)
    challenger = registry.ModelRef(model_name, str(version), mv.run_id, f"version:{version}")
    champion = registry.resolve(uri, model_name)
    if champion is not None and champion.version == challenger.version:
        champion = None
    return challenger, champion


def record_gate_verdict(
    settings: Settings,
    challenger: registry.ModelRef,
    champion: registry.ModelRef | None,
    verdict: GateVerdict,
) -> GateVerdict:
    """Write the verdict (JSON + markdown) to the reports folder and the challenger's run, tag
    the version with the decision; raise GateRejectedError when it did not pass."""
    uri, model_name = settings.mlflow_tracking_uri, challenger.name
    verdict.challenger_version = challenger.version
    verdict.champion_version = champion.version if champion else None
    out = settings.reports_dir / "gates" / model_name / f"v{challenger.version}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "verdict.json").write_text(verdict.to_json())
    (out / "verdict.md").write_text(verdict.to_markdown())
    registry.log_run_text(uri, challenger.run_id, verdict.to_json(), "gate/verdict.json")
    registry.log_run_text(uri, challenger.run_id, verdict.to_markdown(), "gate/verdict.md")
    registry.tag_version(
        uri,
        challenger,
        {
            "gate_decision": verdict.decision,
            "gate_verdict": str(out / "verdict.json"),
            "gate_champion_version": verdict.champion_version or "none",
        },
    )
    if not verdict.passed:
        outcome = "rejected" if verdict.decision == REJECT else f"held back ({verdict.decision})"
        raise GateRejectedError(
            f"evaluation gate {outcome} {model_name} version {challenger.version}:\n  "
            + "\n  ".join(verdict.reasons)
            + f"\nVerdict: {out / 'verdict.md'}. The champion "
            f"({verdict.champion_version or 'none'}) is unchanged."
        )
    return verdict


def promote(
    settings: Settings,
    storage: Storage,
    model_name: str,
    version: str,
    *,
    actor: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """Make ``version`` the champion: ledger entry first, then MLflow tags and alias.

    The ledger entry is the commitment; moving the alias is one registry call. A retry after
    a failure in between finds its own entry and only moves the alias, so a promotion happens
    exactly once. A concurrent promotion, or a champion that changed since the gate ran,
    raises RegistryConflictError and leaves the champion alone.

    Raises:
        GateRejectedError: the version has no passing gate verdict.
        RegistryConflictError: another promotion won or is half-applied; the gate is stale.
        RegistryError: MLflow failed; the alias was not moved.
    """

    def check(mv: Any, current: str | None) -> None:
        if mv.tags.get("gate_decision") != "promote":
            raise GateRejectedError(
                f"{model_name} version {version} has no passing gate verdict "
                f"(gate_decision={mv.tags.get('gate_decision')!r}); refusing to promote it"
            )
        gated_against = mv.tags.get("gate_champion_version", "none")
        if current != str(version) and gated_against != (current or "none"):
            raise RegistryConflictError(
                f"version {version} was gated against champion {gated_against} but the champion "
                f"is now {current}; re-run the gate before promoting"
            )

    return _move_champion(
        settings,
        storage,
        model_name,
        str(version),
        kind=ledger.PROMOTION,
        actor=actor,
        at=at,
        reason="evaluation gate passed",
        check=check,
    )


def rollback(
    settings: Settings,
    storage: Storage,
    model_name: str,
    target: str,
    *,
    actor: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """Move the champion back to ``target``: a version number, or ``previous`` (the champion
    before the current one, from the ledger). Recorded in the ledger as a rollback."""
    uri = settings.mlflow_tracking_uri
    current = registry.require(uri, model_name)
    if target == "previous":
        entries = ledger.read_ledger(storage, model_name)
        made_current = next((e for e in reversed(entries) if e.to_version == current.version), None)
        if made_current is None or made_current.from_version is None:
            raise RegistryError(
                f"the promotion ledger of {model_name} records no champion before version "
                f"{current.version}; pass an explicit version to roll back to"
            )
        target = made_current.from_version
    if not str(target).isdigit():
        raise ValueError(f"rollback target must be a version number or 'previous', got {target!r}")
    return _move_champion(
        settings,
        storage,
        model_name,
        str(target),
        kind=ledger.ROLLBACK,
        actor=actor,
        at=at,
        reason=f"rollback from version {current.version}",
        check=None,
    )


def _move_champion(
    settings: Settings,
    storage: Storage,
    model_name: str,
    version: str,
    *,
    kind: str,
    actor: str,
    at: dt.datetime,
    reason: str,
    check: Any,
) -> dict[str, Any]:
    uri = settings.mlflow_tracking_uri
    try:
        mv = registry.client(uri).get_model_version(model_name, version)
        current = registry.resolve(uri, model_name)
        current_version = current.version if current else None
        if check is not None:
            check(mv, current_version)
        ref = registry.ModelRef(model_name, version, mv.run_id, f"version:{version}")
        if current_version == version:
            return {
                "model_name": model_name,
                "version": version,
                "promoted": False,
                "reason": "already champion",
            }
        entries = ledger.read_ledger(storage, model_name)
        last = entries[-1] if entries else None
        if last is not None and last.to_version == version and last.from_version == current_version:
            entry = last  # an earlier attempt recorded this change; finish applying it
        elif last is not None and last.to_version != current_version:
            raise RegistryConflictError(
                f"the ledger's latest entry ({last.seq}: version {last.to_version} by "
                f"{last.actor}) is not applied (champion is {current_version}); finish or "
                "retry that promotion first"
            )
        else:
            entry = ledger.append(
                storage,
                model=model_name,
                kind=kind,
                from_version=current_version,
                to_version=version,
                at=at,
                actor=actor,
                reason=reason,
                verdict=mv.tags.get("gate_verdict"),
                expected_last_seq=last.seq if last else 0,
            )
        record = registry.promote(
            uri, ref, reason=f"{reason}: {mv.tags.get('gate_verdict')}", actor=actor, at=at
        )
    except PipelineError:
        raise
    except Exception as exc:  # noqa: BLE001 - MLflow client errors vary by transport
        raise RegistryError(
            f"MLflow at {uri} failed while moving {model_name}'s champion to version {version}: "
            f"{type(exc).__name__}: {str(exc)[:300]}. The champion alias was not moved; retry "
            "the task once MLflow is reachable (the retry completes the change exactly once)."
        ) from exc
    return {**dict(record.__dict__), "ledger_seq": entry.seq, "kind": kind}


def shadow_candidate(settings: Settings, model_name: str) -> tuple[registry.ModelRef | None, str]:
    """The challenger worth shadow-scoring: registered, gate passed, not the champion."""
    uri = settings.mlflow_tracking_uri
    challenger = registry.resolve(uri, model_name, registry.CHALLENGER)
    champion = registry.resolve(uri, model_name)
    if challenger is None:
        return None, "no challenger registered"
    if champion is not None and challenger.version == champion.version:
        return None, f"the challenger (version {challenger.version}) is already champion"
    decision = registry.version_tags(uri, challenger).get("gate_decision")
    if decision != "promote":
        return None, f"challenger version {challenger.version} did not pass the gate ({decision})"
    return challenger, f"shadow-scoring challenger version {challenger.version}"


def select_model(
    storage: Storage,
    settings: Settings,
    model_name: str,
    day: dt.date,
    *,
    selection: str,
    alias: str = registry.CHAMPION,
) -> registry.ModelRef:
    """``alias``: today's model behind the alias. ``as_of``: the champion responsible for
    ``day`` according to the promotion ledger (for historical rescoring)."""
    if selection == "as_of":
        entry = ledger.champion_as_of(storage, model_name, day)
        mv = registry.client(settings.mlflow_tracking_uri).get_model_version(
            model_name, entry.to_version
        )
        return registry.ModelRef(
            model_name, entry.to_version, mv.run_id, f"as_of:{day.isoformat()}"
        )
    if selection != "alias":
        raise ValueError(f"unknown model selection {selection!r}: use 'alias' or 'as_of'")
    return registry.require(settings.mlflow_tracking_uri, model_name, alias)


def score(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    model_name: str,
    alias: str = registry.CHAMPION,
    selection: str = "alias",
    batch_rows: int = 250_000,
    zone: str = lake.SCORED,
    batch_id: str | None = None,
) -> OutputManifest:
    """Score the validated working partition with the model behind ``alias``.

    Output and manifest go to ``scored/<dataset>/dt=<day>/``; the manifest is written last.
    The output depends only on the input bytes and the model version, so reruns and
    backfills rewrite identical bytes.

    Raises:
        ScoringInputError: the model refuses the validated data; a copy of the partition and
            the model's error are in ``quarantine/<dataset>/dt=<day>/<batch_id>/`` (by default
            named after the zone, model version and validated version; the working version
            stays), and nothing is written to ``zone``.
    """
    ref = select_model(storage, settings, model_name, day, selection=selection, alias=alias)
    model = registry.load_model(settings.mlflow_tracking_uri, ref)
    in_key = lake.working_data_key(schema.name, day)
    validated = delivery.current(storage, schema, day)
    if validated is None:
        raise InputMissingError(
            f"{schema.name} dt={day} has no validated data ({storage.uri(in_key)}); run the "
            "extract and validate tasks for this day first"
        )
    out_prefix = lake.scored_prefix(schema.name, day, zone)
    out_key = out_prefix + "scores.parquet"
    with (
        storage.local_copy(in_key) as src,
        tempfile.TemporaryDirectory(prefix="mlops-score-") as tmp,
    ):
        unseen = _unseen_at_scoring(storage, schema, src, ref)
        out_path = Path(tmp) / "scores.parquet"
        try:
            rows_in, rows_out = score_file(
                src, out_path, model, schema, model_version=ref.version, batch_rows=batch_rows
            )
        except (ValueError, TypeError, KeyError) as exc:
            refusal = f"{type(exc).__name__}: {str(exc)[:300]}"
            where = delivery.quarantine_batch(
                storage,
                schema,
                day,
                batch_id or _refusal_folder(zone, ref, validated),
                {
                    "success": False,
                    "check": "model_accepts_input",
                    "model": f"{ref.name} v{ref.version} ({ref.rule})",
                    "error": refusal,
                },
                keys=[in_key],
                move=False,  # validated data stays in working/; quarantine holds a copy
            )
            raise ScoringInputError(
                f"model {ref.name} version {ref.version} cannot score {storage.uri(in_key)}: "
                f"{refusal}. The data passed validation but has types or values the fitted "
                "pipeline refuses; compare the partition's column types with the training "
                "data's (schema, producer change). Nothing was written; a copy of the "
                f"partition is in {where} (validation.json beside it) and the validated "
                "version stays in working/.",
                quarantine_path=where,
                check="model_accepts_input",
                files=[in_key],
            ) from exc
        columns = [schema.id_column, schema.timestamp_column, *schema.passthrough]
        manifest = OutputManifest(
            dataset=schema.name,
            day=day.isoformat(),
            output_key=out_key,
            output_sha256=file_sha256(out_path),
            rows_in=rows_in,
            rows_out=rows_out,
            inputs={in_key: file_sha256(src)},
            model_name=ref.name,
            model_version=ref.version,
            model_rule=ref.rule,
            columns=[*columns, "score", "model_version"],
            details={"unseen_categories": unseen},
        )
        outputs.publish(storage, schema, day, zone, out_path, manifest)
    return manifest


def _refusal_folder(zone: str, ref: registry.ModelRef, validated: ExtractResult) -> str:
    """One quarantine folder per output zone, model version and validated version, so a rerun
    refused the same way rewrites the same bytes."""
    data_version = validated.version or validated.data_sha256[:16]
    return f"{zone}__model-v{ref.version}__data-{data_version}"


def _unseen_at_scoring(
    storage: Storage, schema: DatasetSchema, path: Path, ref: registry.ModelRef
) -> dict[str, Any]:
    """Categorical values the model never saw in training, per column (logged, in the
    manifest); empty when the run recorded no domains."""
    from mlops_core.validate import unseen_categories

    domains = read_domains(storage, schema, ref.run_id)
    if not domains:
        return {}
    frame = pd.read_parquet(path, columns=[c for c in schema.categorical if c in domains])
    found = {}
    for check in unseen_categories(frame, schema, domains, fail=False):
        log.warning("Scoring with version %s: %s", ref.version, check.describe())
        found[check.column] = {"count": check.unexpected_count, "values": check.sample_values}
    return found
