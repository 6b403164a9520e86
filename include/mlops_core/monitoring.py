"""Model monitoring: drift against the champion's training reference, performance on matured
labels, and the retraining decision, with a JSON + HTML report per run."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from mlops_core import lake, registry
from mlops_core.config import Settings
from mlops_core.drift import ALERT, OK, WARN, DriftReport, DriftThresholds, drift_report, worst
from mlops_core.errors import InputMissingError
from mlops_core.evaluate import classification_metrics
from mlops_core.knobs import PerformanceThresholds  # noqa: F401 - re-exported
from mlops_core.policy import Decision, PolicyInput, RetrainPolicy, decide
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage

REFERENCE_SAMPLE = 50_000


def decisions_prefix(model: str) -> str:
    return f"monitoring/{model}/decisions/"


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


def matured_performance(
    storage: Storage, schema: DatasetSchema, day: dt.date, perf: PerformanceThresholds
) -> dict[str, Any] | None:
    """PR-AUC / recall of the scores written for partitions whose labels have matured."""
    last = day - dt.timedelta(days=perf.label_delay_days)
    frames = []
    days = []
    for offset in range(perf.window_days):
        current = (last - dt.timedelta(days=offset)).isoformat()
        labels = _read_working(storage, schema, current)
        scores = _read_scores(storage, schema, current)
        if labels is None or scores is None or schema.label_column not in labels.columns:
            continue
        frames.append(
            scores.merge(labels[[schema.id_column, schema.label_column]], on=schema.id_column)
        )
        days.append(current)
    if not frames:
        return None
    joined = pd.concat(frames, ignore_index=True)
    y = schema.target(joined[schema.label_column])
    if y.min() == y.max():
        return None
    metrics = classification_metrics(y, joined["score"].to_numpy(), perf.fpr_target)
    return {"days": sorted(days), "rows": len(joined), **metrics}


def _performance_level(
    current: dict | None, champion: dict[str, float], perf: PerformanceThresholds
) -> tuple[str, str]:
    if current is None:
        return OK, "no matured labels yet"
    drop = champion["pr_auc"] - current["pr_auc"]
    level = ALERT if drop > perf.alert_drop else WARN if drop > perf.warn_drop else OK
    return level, (
        f"PR-AUC on matured labels {current['pr_auc']:.3f} vs champion's evaluation "
        f"{champion['pr_auc']:.3f} (drop {drop:+.3f}; warn {perf.warn_drop}, "
        f"alert {perf.alert_drop})"
    )


def _policy_state(
    storage: Storage,
    schema: DatasetSchema,
    model: str,
    day: dt.date,
    level: str,
    trained_through: str,
    perf: PerformanceThresholds,
) -> PolicyInput:
    """Past decisions (other days than this one, so a rerun decides the same) and the new
    labelled data that could teach a retrained model something.

    New labelled rows are counted after the champion's training data, after the last retrain,
    and from the first day of the ongoing breach: retraining on labels from before a drift
    cannot learn the drift, and the newest (drifted) rows would all land in the holdout.
    """
    records = {
        r["day"]: r
        for r in (json.loads(storage.read_bytes(k)) for k in storage.list(decisions_prefix(model)))
        if r["day"] != day.isoformat()
    }
    at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    retrains = [
        dt.datetime.fromisoformat(r["at"]) for r in records.values() if r["decision"]["retrain"]
    ]
    last_retrain = max((r for r in retrains if r < at), default=None)
    breach_start = day
    previous = records.get((day - dt.timedelta(days=1)).isoformat())
    while (
        previous and previous["decision"]["level"] == ALERT and not previous["decision"]["retrain"]
    ):
        breach_start = dt.date.fromisoformat(previous["day"])
        previous = records.get((breach_start - dt.timedelta(days=1)).isoformat())
    since = max(
        trained_through,
        last_retrain.date().isoformat() if last_retrain else "",
        (breach_start - dt.timedelta(days=1)).isoformat() if level == ALERT else "",
    )
    matured_until = (day - dt.timedelta(days=perf.label_delay_days)).isoformat()
    new_rows = 0
    for key in storage.list(f"working/{schema.name}/"):
        if key.endswith(lake.VALIDATED_MARKER):
            part = key.split("dt=")[1].split("/")[0]
            if since < part <= matured_until:
                new_rows += json.loads(storage.read_bytes(key))["rows"]
    return PolicyInput(
        level=level,
        at=at,
        last_retrain_at=last_retrain,
        retrains_today=sum(1 for r in retrains if r.date() == day),
        new_labelled_rows=new_rows,
    )


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
) -> dict[str, Any]:
    """Compare the day's partition with the champion's reference and decide on retraining.

    Writes ``monitoring/<model>/decisions/dt=<day>.json`` to the lake, the report (JSON and
    HTML with plots) under ``<data root>/reports/monitoring/<model>/dt=<day>/``, and logs both
    to an MLflow run in experiment ``<model>_monitoring``.
    """
    uri = settings.mlflow_tracking_uri
    champion = registry.require(uri, model_name)
    run = registry.client(uri).get_run(champion.run_id)
    reference_days = [d for d in run.data.tags.get("data_partitions", "").split(",") if d]
    reference = pd.concat(
        [f for f in (_read_working(storage, schema, d) for d in reference_days) if f is not None],
        ignore_index=True,
    )
    if reference.empty:
        raise InputMissingError(
            f"the champion's training partitions {reference_days} are gone from the lake"
        )
    reference = reference.sample(min(len(reference), REFERENCE_SAMPLE), random_state=0)
    current = _read_working(storage, schema, day.isoformat())
    scores = _read_scores(storage, schema, day.isoformat())
    if current is None or scores is None:
        raise InputMissingError(
            f"{schema.name} dt={day} is not validated and scored yet; run the use case's "
            "scoring DAG for that day first"
        )
    model = registry.load_model(uri, champion)
    watched = set(thresholds.features or schema.feature_columns)
    numeric = [c.name for c in schema.numeric if c.name in watched]
    report = drift_report(
        day.isoformat(),
        reference,
        current,
        numeric=numeric,
        categorical=[c for c in schema.categorical if c in watched],
        thresholds=thresholds,
        reference_scores=model.predict_proba(reference[schema.model_input_columns])[:, 1],
        current_scores=scores["score"].to_numpy(),
    )
    performance = matured_performance(storage, schema, day, perf)
    champion_metrics = dict(run.data.metrics)
    perf_level, perf_reason = _performance_level(performance, champion_metrics, perf)
    level = worst([report.level, perf_level])
    state = _policy_state(
        storage, schema, model_name, day, level, run.data.tags.get("logical_date", ""), perf
    )
    decision = decide(policy, state)
    record = {
        "day": day.isoformat(),
        "at": state.at.isoformat(),
        "model": model_name,
        "champion_version": champion.version,
        "drift_level": report.level,
        "performance_level": perf_level,
        "performance": performance,
        "performance_reason": perf_reason,
        "drifted_features": [f.feature for f in report.drifted],
        "policy_state": {
            **asdict(state),
            "at": state.at.isoformat(),
            "last_retrain_at": state.last_retrain_at.isoformat() if state.last_retrain_at else None,
        },
        "decision": decision.to_dict(),
    }
    storage.write_bytes(
        decisions_prefix(model_name) + f"dt={day.isoformat()}.json", registry.dumps(record).encode()
    )
    out = settings.reports_dir / "monitoring" / model_name / f"dt={day.isoformat()}"
    out.mkdir(parents=True, exist_ok=True)
    full = {**record, "drift": report.to_dict()}
    (out / "report.json").write_text(registry.dumps(full))
    history = _history(storage, model_name)
    (out / "report.html").write_text(render_html(full, report, reference, current, history))
    _log_to_mlflow(settings, model_name, day, report, performance, decision, out)
    return {**record, "report": str(out / "report.html")}


def _history(storage: Storage, model: str) -> list[dict[str, Any]]:
    return [json.loads(storage.read_bytes(k)) for k in storage.list(decisions_prefix(model))]


def _log_to_mlflow(
    settings, model_name, day, report: DriftReport, performance, decision: Decision, out
) -> None:
    mlc = registry.client(settings.mlflow_tracking_uri)
    experiment = registry.ensure_experiment(
        settings.mlflow_tracking_uri, f"{model_name}_monitoring", settings.mlflow_artifact_location
    )
    tags = {
        "day": day.isoformat(),
        "drift_level": report.level,
        "retrain": str(decision.retrain),
        "decision_reason": decision.reason,
    }
    metrics = {f"psi_{f.feature}": f.psi for f in report.features}
    if report.prediction is not None:
        metrics["psi_prediction_score"] = report.prediction.psi
    if performance:
        metrics["matured_pr_auc"] = performance["pr_auc"]
        metrics["matured_recall_at_fpr"] = performance["recall_at_fpr"]
    with registry.open_run(mlc, experiment, f"monitoring-{day.isoformat()}", tags) as run_id:
        registry.log_values(mlc, run_id, metrics=metrics)
        mlc.log_artifacts(run_id, str(out), artifact_path="monitoring")


def _plot(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


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
        f"<td>{'' if f.ks_pvalue is None else f'{f.ks_pvalue:.2e}'}</td><td>{f.level}</td></tr>"
        for f in report.features + ([report.prediction] if report.prediction else [])
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
        "<table border=1 cellpadding=4><tr><th>feature</th><th>kind</th><th>PSI</th><th>KS p</th>"
        f"<th>level</th></tr>{rows}</table>{imgs}"
    )


def shadow_evaluation(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    model_name: str,
    perf: PerformanceThresholds,
    policy: Any,
    window_days: int = 7,
) -> dict[str, Any]:
    """Compare the shadow-scored challenger with the champion on matured labels; promote the
    challenger when the bootstrap interval says it is better (recorded in the ledger)."""
    from mlops_core import steps
    from mlops_core.shadow import PROMOTE, compare

    challenger, why = steps.shadow_candidate(settings, model_name)
    champion = registry.require(settings.mlflow_tracking_uri, model_name)
    result: dict[str, Any] = {"day": day.isoformat(), "champion_version": champion.version}
    if challenger is None:
        return {**result, "status": "skipped", "reason": why}
    last = day - dt.timedelta(days=perf.label_delay_days)
    frames, days = [], []
    for offset in range(window_days):
        current = (last - dt.timedelta(days=offset)).isoformat()
        labels = _read_working(storage, schema, current)
        champ = _read_scores(storage, schema, current)
        shadow = _read_scores(storage, schema, current, lake.SHADOW)
        if labels is None or champ is None or shadow is None:
            continue
        champ = champ[champ["model_version"] == int(champion.version)]
        shadow = shadow[shadow["model_version"] == int(challenger.version)]
        joined = (
            labels[[schema.id_column, schema.label_column]]
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
    if frames:
        data = pd.concat(frames, ignore_index=True)
        verdict = compare(
            schema.target(data[schema.label_column]),
            data["score_champion"].to_numpy(),
            data["score_challenger"].to_numpy(),
            policy,
        )
    else:
        from mlops_core.shadow import INSUFFICIENT, ShadowVerdict

        verdict = ShadowVerdict(
            INSUFFICIENT, "no matured partition scored by both models yet", 0, 0
        )
    result.update(
        {
            "status": verdict.decision,
            "challenger_version": challenger.version,
            "days": sorted(days),
            "verdict": verdict.to_dict(),
            "reason": verdict.reason,
        }
    )
    if verdict.decision == PROMOTE:
        at = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        result["promotion"] = steps.promote(
            settings,
            storage,
            model_name,
            challenger.version,
            actor=f"shadow evaluation {day.isoformat()}",
            at=at,
        )
    storage.write_bytes(
        f"monitoring/{model_name}/shadow/dt={day.isoformat()}.json", registry.dumps(result).encode()
    )
    return result
