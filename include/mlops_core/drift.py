"""Drift statistics: PSI per feature (numeric on reference quantile bins, categorical by
category with an "unseen" bucket), a two-sample KS test for numeric features, and the same
PSI on the model's scores."""

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


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over bins cut at the reference's quantiles; the outer bins are open-ended."""
    edges = quantile_edges(np.asarray(reference, dtype=float), bins)
    ref_counts = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1
    )
    cur_counts = np.bincount(
        np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1
    )
    return _psi(ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum())


def psi_categorical(reference: pd.Series, current: pd.Series) -> float:
    """PSI over the reference's categories plus one bucket for categories it never saw."""
    known = set(reference.unique())
    cur = current.where(current.isin(known), UNSEEN)
    categories = sorted(known) + [UNSEEN]
    ref_share = reference.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
    cur_share = cur.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
    return _psi(ref_share, cur_share)


def level_of(psi: float, thresholds: DriftThresholds, ks_pvalue: float | None = None) -> str:
    if psi >= thresholds.psi_alert and (ks_pvalue is None or ks_pvalue < thresholds.ks_pvalue):
        return ALERT
    if psi >= thresholds.psi_warn:
        return WARN
    return OK


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
        psi = psi_numeric(ref, cur)
        ks = stats.ks_2samp(ref, cur)
        pvalue = float(ks.pvalue)
        out.append(
            FeatureDrift(
                col, "numeric", psi, level_of(psi, thresholds, pvalue), float(ks.statistic), pvalue
            )
        )
    for col in categorical:
        psi = psi_categorical(reference[col].astype(str), current[col].astype(str))
        out.append(FeatureDrift(col, "categorical", psi, level_of(psi, thresholds)))
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
        psi = psi_numeric(reference_scores, current_scores)
        ks = stats.ks_2samp(reference_scores, current_scores)
        prediction = FeatureDrift(
            "prediction_score",
            "score",
            psi,
            level_of(psi, thresholds, float(ks.pvalue)),
            float(ks.statistic),
            float(ks.pvalue),
        )
    return DriftReport(
        day=day,
        reference_rows=len(reference),
        current_rows=len(current),
        features=feature_drift(reference, current, numeric, categorical, thresholds),
        prediction=prediction,
        thresholds=asdict(thresholds),
    )
