"""Drift statistics: PSI per feature (numeric on reference quantile bins, categorical by
category with an "unseen" bucket), a two-sample KS test for numeric features, and the same
PSI on the model's scores. A PSI is judged against its thresholds and against the PSI that
sampling noise alone reaches at the day's and the reference's row counts, so a small day
does not alarm. A feature that stays at warn level for ``persistent_warn_days`` consecutive
days alerts (``persistent_drift``): a moderate shift that holds is a shift, not noise."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mlops_core.knobs import DriftThresholds  # noqa: F401 - re-exported

OK, WARN, ALERT = "ok", "warn", "alert"
_LEVELS = {OK: 0, WARN: 1, ALERT: 2}
_EPS = 1e-4
UNSEEN = "__unseen__"


def _psi(ref_share: np.ndarray, cur_share: np.ndarray) -> float:
    ref = np.clip(ref_share, _EPS, None)
    cur = np.clip(cur_share, _EPS, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def quantile_edges(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates dropped for discrete data)."""
    return np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_counts(
    reference: np.ndarray, current: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Row counts per bin cut at the reference's quantiles; the outer bins are open-ended."""
    edges = quantile_edges(np.asarray(reference, dtype=float), bins)
    size = len(edges) + 1
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=size)
    cur = np.bincount(np.searchsorted(edges, current, side="right"), minlength=size)
    return ref, cur


def categorical_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Row counts per reference category plus one bucket for categories it never saw."""
    known = set(reference.unique())
    cur = current.where(current.isin(known), UNSEEN)
    categories = sorted(known) + [UNSEEN]
    ref_counts = reference.value_counts().reindex(categories, fill_value=0).to_numpy()
    cur_counts = cur.value_counts().reindex(categories, fill_value=0).to_numpy()
    return ref_counts, cur_counts


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else counts.astype(float)


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over bins cut at the reference's quantiles; the outer bins are open-ended."""
    ref, cur = numeric_counts(reference, current, bins)
    return _psi(_shares(ref), _shares(cur))


def psi_categorical(reference: pd.Series, current: pd.Series) -> float:
    """PSI over the reference's categories plus one bucket for categories it never saw."""
    ref, cur = categorical_counts(reference, current)
    return _psi(_shares(ref), _shares(cur))


def psi_null_quantiles(
    ref_counts: np.ndarray,
    cur_rows: int,
    quantiles: tuple[float, ...],
    draws: int = 2_000,
    seed: int = 0,
) -> tuple[float, ...]:
    """Quantiles of the PSI that sampling noise alone gives with no drift at these sample
    sizes: both samples drawn (multinomially) from the reference's bin shares, the PSI
    computed exactly as for the real ones. Roughly ``chi2(bins - 1) * (1/n_ref + 1/n_cur)``,
    but exact for the clipped, sparse bins of small days."""
    ref_rows = int(ref_counts.sum())
    if ref_rows == 0 or cur_rows == 0:
        return tuple(float("inf") for _ in quantiles)
    rng = np.random.default_rng(seed)
    p = ref_counts / ref_rows
    ref = np.clip(rng.multinomial(ref_rows, p, size=draws) / ref_rows, _EPS, None)
    cur = np.clip(rng.multinomial(cur_rows, p, size=draws) / cur_rows, _EPS, None)
    psi = np.sum((cur - ref) * np.log(cur / ref), axis=1)
    return tuple(float(v) for v in np.quantile(psi, quantiles))


def level_of(
    psi: float,
    thresholds: DriftThresholds,
    ks_pvalue: float | None = None,
    null: tuple[float, float] | None = None,
) -> str:
    """``null``: the PSI's (warn, alert) quantiles under no drift at the actual sample sizes;
    a level needs the PSI beyond both its threshold and the noise bar."""
    warn_at, alert_at = _bars(thresholds, null)
    if psi >= alert_at and (ks_pvalue is None or ks_pvalue < thresholds.ks_pvalue):
        return ALERT
    if psi >= warn_at:
        return WARN
    return OK


def _bars(thresholds: DriftThresholds, null: tuple[float, float] | None) -> tuple[float, float]:
    if null is None:
        return thresholds.psi_warn, thresholds.psi_alert
    return max(thresholds.psi_warn, null[0]), max(thresholds.psi_alert, null[1])


def worst(levels: list[str]) -> str:
    return max(levels, key=_LEVELS.__getitem__, default=OK)


@dataclass
class FeatureDrift:
    feature: str
    kind: str
    psi: float
    level: str
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    # The PSI at which this feature warns / alerts at today's sample sizes.
    warn_at: float | None = None
    alert_at: float | None = None


def _judged(
    feature: str,
    kind: str,
    ref_counts: np.ndarray,
    cur_counts: np.ndarray,
    thresholds: DriftThresholds,
    ks: Any = None,
) -> FeatureDrift:
    psi = _psi(_shares(ref_counts), _shares(cur_counts))
    null = psi_null_quantiles(
        ref_counts,
        int(cur_counts.sum()),
        (thresholds.null_quantile_warn, thresholds.null_quantile_alert),
        thresholds.null_draws,
    )
    warn_at, alert_at = _bars(thresholds, (null[0], null[1]))
    pvalue = None if ks is None else float(ks.pvalue)
    return FeatureDrift(
        feature,
        kind,
        psi,
        level_of(psi, thresholds, pvalue, (null[0], null[1])),
        None if ks is None else float(ks.statistic),
        pvalue,
        warn_at,
        alert_at,
    )


@dataclass
class DriftReport:
    day: str
    reference_rows: int
    current_rows: int
    features: list[FeatureDrift]
    prediction: FeatureDrift | None
    thresholds: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def level(self) -> str:
        levels = [f.level for f in self.features]
        if self.prediction is not None:
            levels.append(self.prediction.level)
        return worst(levels)

    @property
    def drifted(self) -> list[FeatureDrift]:
        return [f for f in self.features if f.level != OK]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["level"] = self.level
        return data


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    thresholds: DriftThresholds,
) -> list[FeatureDrift]:
    out = []
    for col in numeric:
        ref = reference[col].to_numpy(dtype=float)
        cur = current[col].to_numpy(dtype=float)
        ref_counts, cur_counts = numeric_counts(ref, cur)
        out.append(
            _judged(col, "numeric", ref_counts, cur_counts, thresholds, stats.ks_2samp(ref, cur))
        )
    for col in categorical:
        ref_counts, cur_counts = categorical_counts(
            reference[col].astype(str), current[col].astype(str)
        )
        out.append(_judged(col, "categorical", ref_counts, cur_counts, thresholds))
    return out


def drift_report(
    day: str,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    thresholds: DriftThresholds,
    reference_scores: np.ndarray | None = None,
    current_scores: np.ndarray | None = None,
) -> DriftReport:
    """Compare a current partition with the champion's training reference."""
    prediction = None
    if reference_scores is not None and current_scores is not None:
        ref_counts, cur_counts = numeric_counts(reference_scores, current_scores)
        ks = stats.ks_2samp(reference_scores, current_scores)
        prediction = _judged("prediction_score", "score", ref_counts, cur_counts, thresholds, ks)
    return DriftReport(
        day=day,
        reference_rows=len(reference),
        current_rows=len(current),
        features=feature_drift(reference, current, numeric, categorical, thresholds),
        prediction=prediction,
        thresholds=asdict(thresholds),
    )


def persistent_drift(today: list[str], past: list[list[str] | None], days: int) -> list[str]:
    """The features drifted (warn or worse) today and on each of the ``days - 1`` days
    before; ``past`` holds those days' drifted features, newest first, None for a day without
    a comparable record (not monitored, or another champion version). Empty when ``days`` is
    below 2 or the run of days is broken."""
    if days < 2 or len(past) < days - 1:
        return []
    held = set(today)
    for features in past[: days - 1]:
        if features is None:
            return []
        held &= set(features)
    return sorted(held)
