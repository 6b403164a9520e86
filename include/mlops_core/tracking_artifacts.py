"""Evaluation plots and tables for a run's ``evaluation/`` artifacts.

Classification: precision-recall and ROC curves with the operating point marked, a
reliability (calibration) plot, the confusion matrix at the operating threshold and the
model's feature importances. Ranking: recall@K, NDCG@K and coverage over several K, as a plot
and a JSON table.

Figures are built as ``matplotlib.figure.Figure`` objects drawn by the Agg canvas, never
through ``pyplot``: no global figure state, no GUI backend, nothing left open in a
long-lived worker. Files are written to temporary folders and uploaded with an explicit
client (:func:`registry.client`); nothing lands in the current directory.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EVALUATION = "evaluation"
PRECISION_RECALL = "precision_recall.png"
ROC = "roc.png"
CALIBRATION = "calibration.png"
CONFUSION_MATRIX = "confusion_matrix.png"
CONFUSION_JSON = "confusion_matrix.json"
FEATURE_IMPORTANCE = "feature_importance.png"
RANKING_PLOT = "ranking_at_k.png"
RANKING_JSON = "ranking_at_k.json"


@dataclass(frozen=True)
class FeatureImportances:
    """Importances per model input feature; ``kind`` says what they are (``|coef|``,
    ``impurity``)."""

    names: list[str]
    values: list[float]
    kind: str

    def top(self, n: int) -> FeatureImportances:
        order = np.argsort(np.abs(np.asarray(self.values)))[::-1][:n]
        return FeatureImportances(
            [self.names[i] for i in order], [float(self.values[i]) for i in order], self.kind
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "importances": dict(zip(self.names, self.values, strict=True))}


def _figure(width: float = 5.5, height: float = 4.5) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` through its own Agg canvas."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _arrays(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=float).ravel()
    if y.shape != s.shape:
        raise ValueError(f"y_true has {y.size} values but scores has {s.size}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    return y, s


def threshold_at_fpr(y_true: Any, scores: Any, fpr_target: float) -> float:
    """The lowest score threshold whose false-positive rate stays within ``fpr_target``: the
    operating point behind ``recall_at_fpr`` (predicted positive when score >= threshold)."""
    from sklearn.metrics import roc_curve

    y, s = _arrays(y_true, scores)
    fpr, _, thresholds = roc_curve(y, s, drop_intermediate=False)
    within = np.flatnonzero(fpr <= fpr_target)
    if not within.size or not np.isfinite(thresholds[within[-1]]):
        return float(np.nextafter(s.max(), np.inf))  # nothing is called positive
    return float(thresholds[within[-1]])


def confusion_counts(y_true: Any, scores: Any, threshold: float) -> dict[str, int]:
    """True/false positives/negatives when ``score >= threshold`` is called positive."""
    y, s = _arrays(y_true, scores)
    predicted = s >= threshold
    actual = y == 1
    return {
        "tn": int((~predicted & ~actual).sum()),
        "fp": int((predicted & ~actual).sum()),
        "fn": int((~predicted & actual).sum()),
        "tp": int((predicted & actual).sum()),
    }


def precision_recall_figure(y_true: Any, scores: Any, threshold: float) -> Any:
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, s = _arrays(y_true, scores)
    precision, recall, _ = precision_recall_curve(y, s)
    c = confusion_counts(y, s, threshold)
    fig = _figure()
    ax = fig.add_subplot()
    ax.step(recall, precision, where="post", label=f"AP = {average_precision_score(y, s):.3f}")
    ax.axhline(y.mean(), color="grey", linestyle=":", label=f"positive rate {y.mean():.3f}")
    op_precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    op_recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    ax.plot(op_recall, op_precision, "o", color="C3", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("Precision-recall (holdout)")
    ax.legend(loc="upper right")
    return fig


def roc_figure(y_true: Any, scores: Any, threshold: float) -> Any:
    from sklearn.metrics import roc_auc_score, roc_curve

    y, s = _arrays(y_true, scores)
    fpr, tpr, _ = roc_curve(y, s)
    c = confusion_counts(y, s, threshold)
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"AUC = {roc_auc_score(y, s):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":")
    op_fpr = c["fp"] / (c["fp"] + c["tn"]) if c["fp"] + c["tn"] else 0.0
    op_tpr = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
    ax.plot(op_fpr, op_tpr, "o", color="C3", label=f"threshold {threshold:.3g}")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.02))
    ax.set_title("ROC (holdout)")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(y_true: Any, scores: Any, bins: int = 10) -> Any:
    """Observed positive rate against mean score per quantile bin of the scores."""
    y, s = _arrays(y_true, scores)
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, s, side="right") - 1, 0, max(len(edges) - 2, 0))
    mean_score = np.array([s[which == b].mean() for b in np.unique(which)])
    observed = np.array([y[which == b].mean() for b in np.unique(which)])
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot(mean_score, observed, "o-", label="model")
    ax.set(xlabel="mean predicted score", ylabel="observed positive rate", xlim=(0, 1))
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Reliability ({len(mean_score)} quantile bins)")
    ax.legend(loc="upper left")
    return fig


def confusion_matrix_figure(counts: Mapping[str, int], threshold: float) -> Any:
    """Counts per cell, shaded by the share of their actual class (so the rare class shows)."""
    matrix = np.array([[counts["tn"], counts["fp"]], [counts["fn"], counts["tp"]]])
    totals = matrix.sum(axis=1, keepdims=True)
    rates = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    fig = _figure(4.5, 4.0)
    ax = fig.add_subplot()
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        colour = "white" if rates[i, j] > 0.5 else "black"
        ax.text(j, i, f"{value:,}\n({rates[i, j]:.1%})", ha="center", va="center", color=colour)
    ax.set_xticks([0, 1], ["predicted 0", "predicted 1"])
    ax.set_yticks([0, 1], ["actual 0", "actual 1"])
    ax.set_title(f"Confusion matrix at threshold {threshold:.3g}")
    return fig


def feature_importance_figure(importances: FeatureImportances, top: int = 20) -> Any:
    shown = importances.top(top)
    fig = _figure(6.5, 1.2 + 0.3 * len(shown.names))
    ax = fig.add_subplot()
    positions = np.arange(len(shown.names))[::-1]
    ax.barh(positions, shown.values)
    ax.set_yticks(positions, shown.names)
    ax.set_xlabel(shown.kind)
    ax.set_title(f"Feature importance (top {len(shown.names)})")
    return fig


def write_classification_plots(
    out_dir: Path,
    y_true: Any,
    scores: Any,
    threshold: float,
    importances: FeatureImportances | None = None,
) -> dict[str, Path]:
    """Write every classification plot (and the confusion counts as JSON) into ``out_dir``;
    returns file name -> path."""
    counts = confusion_counts(y_true, scores, threshold)
    figures = {
        PRECISION_RECALL: precision_recall_figure(y_true, scores, threshold),
        ROC: roc_figure(y_true, scores, threshold),
        CALIBRATION: calibration_figure(y_true, scores),
        CONFUSION_MATRIX: confusion_matrix_figure(counts, threshold),
    }
    if importances is not None and importances.names:
        figures[FEATURE_IMPORTANCE] = feature_importance_figure(importances)
    written = {name: save_png(fig, out_dir / name) for name, fig in figures.items()}
    (out_dir / CONFUSION_JSON).write_text(
        json.dumps({"threshold": threshold, **counts}, indent=2, sort_keys=True)
    )
    written[CONFUSION_JSON] = out_dir / CONFUSION_JSON
    if importances is not None and importances.names:
        path = out_dir / "feature_importance.json"
        path.write_text(json.dumps(importances.to_dict(), indent=2, sort_keys=True))
        written[path.name] = path
    return written


def ranking_curves(
    users: Sequence[str],
    recommended: Sequence[Sequence[str]],
    relevant: Mapping[str, set[str]],
    ks: Sequence[int],
    catalogue: int,
) -> dict[str, dict[int, float]]:
    """recall@K, NDCG@K and coverage for each K in ``ks``, from lists at least ``max(ks)``
    long (the recommender's own :func:`ranking_metrics`, truncated per K).

    Returns:
        ``{"recall": {k: value}, "ndcg": {k: value}, "coverage": {k: value}}``
    """
    from mlops_core.recsys.evaluate import ranking_metrics

    curves: dict[str, dict[int, float]] = {"recall": {}, "ndcg": {}, "coverage": {}}
    for k in sorted(set(ks)):
        m = ranking_metrics(
            list(users), [list(r)[:k] for r in recommended], dict(relevant), k, catalogue
        )
        curves["recall"][k] = m["recall_at_k"]
        curves["ndcg"][k] = m["ndcg_at_k"]
        curves["coverage"][k] = m["coverage"]
    return curves


def ranking_table(curves: Mapping[str, Mapping[int, float]]) -> list[dict[str, float]]:
    """One row per K: ``{"k": 10, "recall": ..., "ndcg": ..., "coverage": ...}``."""
    ks = sorted({int(k) for series in curves.values() for k in series})
    return [
        {"k": k, **{name: float(series[k]) for name, series in curves.items() if k in series}}
        for k in ks
    ]


def ranking_figure(curves: Mapping[str, Mapping[int, float]]) -> Any:
    fig = _figure(6.0, 4.5)
    ax = fig.add_subplot()
    for name, series in curves.items():
        ks = sorted(int(k) for k in series)
        ax.plot(ks, [series[k] for k in ks], "o-", label=f"{name}@K")
    ax.set(xlabel="K", ylabel="value", ylim=(0, 1.02))
    ax.set_title("Ranking quality by list length (holdout)")
    ax.legend(loc="best")
    return fig


def write_ranking_plots(
    out_dir: Path, curves: Mapping[str, Mapping[int, float]]
) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {RANKING_PLOT: save_png(ranking_figure(curves), out_dir / RANKING_PLOT)}
    (out_dir / RANKING_JSON).write_text(json.dumps(ranking_table(curves), indent=2))
    written[RANKING_JSON] = out_dir / RANKING_JSON
    return written


def feature_importances(pipeline: Any) -> FeatureImportances | None:
    """Importances the fitted estimator already holds, per column after the pipeline's
    ``columns`` step: ``|coef_|`` for linear models (on standardised inputs, as
    :func:`train.build_pipeline` builds them), ``feature_importances_`` for forests. None for
    estimators that have neither (hist gradient boosting) or a pipeline without named
    output columns; nothing is permuted or re-scored."""
    steps = getattr(pipeline, "named_steps", {})
    estimator = steps.get("classifier") if steps else pipeline
    columns = steps.get("columns") if steps else None
    if estimator is None:
        return None
    if hasattr(estimator, "coef_"):
        values, kind = np.abs(np.asarray(estimator.coef_)).reshape(-1), "|coefficient|"
    elif hasattr(estimator, "feature_importances_"):
        values, kind = np.asarray(estimator.feature_importances_).reshape(-1), "impurity decrease"
    else:
        return None
    try:
        names = [str(n) for n in columns.get_feature_names_out()] if columns is not None else None
    except Exception:  # noqa: BLE001 - a transformer without feature names
        names = None
    if names is None:
        names = [str(n) for n in getattr(estimator, "feature_names_in_", [])]
    if len(names) != len(values):
        return None
    return FeatureImportances(names, [float(v) for v in values], kind)


def _upload(tracking_uri: str, run_id: str, folder: Path) -> list[str]:
    from mlops_core import registry

    registry.client(tracking_uri).log_artifacts(run_id, str(folder), artifact_path=EVALUATION)
    return sorted(f"{EVALUATION}/{p.name}" for p in folder.iterdir())


def log_classification_evaluation(
    tracking_uri: str,
    run_id: str,
    y: Any,
    scores: Any,
    threshold: float,
    importances: FeatureImportances | None = None,
) -> list[str]:
    """Log the classification plots and tables of a holdout as ``evaluation/*`` artifacts of
    run ``run_id``; returns their artifact paths."""
    with tempfile.TemporaryDirectory(prefix="mlops-eval-") as tmp:
        folder = Path(tmp)
        write_classification_plots(folder, y, scores, threshold, importances)
        return _upload(tracking_uri, run_id, folder)


def log_ranking_evaluation(
    tracking_uri: str, run_id: str, curves: Mapping[str, Mapping[int, float]]
) -> list[str]:
    """Log the ranking plot and table (from :func:`ranking_curves`) as ``evaluation/*``
    artifacts of run ``run_id``; returns their artifact paths."""
    with tempfile.TemporaryDirectory(prefix="mlops-eval-") as tmp:
        folder = Path(tmp)
        write_ranking_plots(folder, curves)
        return _upload(tracking_uri, run_id, folder)
