"""Factor models for top-K recommendation.

Two learned models, chosen by ``RecTrainParams.estimator``: ``pure_svd`` (truncated SVD of
the confidence-weighted user x item matrix, scikit-learn's randomized solver) and ``als``
(weighted alternating least squares for implicit feedback, Hu, Koren & Volinsky 2008). Item
popularity is the baseline and the fallback for users without history. A user's vector is
*folded in* from their interactions, ``u = x_u P``, with ``P`` the model's projection, so users
who arrived after training get recommendations from their history without retraining. For
PureSVD ``P`` is the item factors and the fold-in of a training user is exactly their training
factor; for ALS ``P = Y (YᵀY + λI)⁻¹``, an unweighted approximation of the per-user weighted
solve. The training matrix is kept with the factors: items a user was trained on are never
recommended back, and a user the model knows keeps a vector when they have been quiet lately.

Artifacts are plain arrays (``factors.npz``, loaded with ``allow_pickle=False``) and JSON id
maps: nothing executable is unpickled when scoring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlops_core.errors import TrainingError
from mlops_core.knobs import RANKING_HYPERPARAMETERS, RecTrainParams  # noqa: F401 - re-exported

FACTORS_FILE, IDS_FILE, META_FILE = "factors.npz", "ids.json", "model.json"
ESTIMATORS = tuple(RANKING_HYPERPARAMETERS)
ALS_CG_STEPS = 3  # conjugate-gradient steps per row and half-iteration, warm-started


def confidence(ratings: np.ndarray) -> np.ndarray:
    """Interaction strength -> matrix weight; repeated events add up before the log."""
    return np.log1p(np.asarray(ratings, dtype=np.float32))


def interaction_matrix(
    frame: pd.DataFrame,
    user_index: pd.Index,
    item_index: pd.Index,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    rating_col: str = "rating",
) -> sp.csr_matrix:
    """(users x items) CSR of summed confidences; rows of unknown items are ignored."""
    rows = user_index.get_indexer(frame[user_col])
    cols = item_index.get_indexer(frame[item_col])
    keep = (rows >= 0) & (cols >= 0)
    values = frame[rating_col].to_numpy(dtype=np.float32)[keep]
    summed = sp.coo_matrix(
        (values, (rows[keep], cols[keep])), shape=(len(user_index), len(item_index))
    ).tocsr()
    summed.sum_duplicates()
    summed.data = confidence(summed.data)
    summed.sort_indices()
    return summed


@dataclass
class FactorModel:
    user_ids: list[str]
    item_ids: list[str]
    user_factors: np.ndarray  # (users, k) float32
    item_factors: np.ndarray  # (items, k) float32
    popularity: np.ndarray  # (items,) float32, training interaction counts
    seen: sp.csr_matrix  # (users, items) training interactions
    meta: dict[str, Any]
    projection: np.ndarray | None = None  # (items, k) float32 fold-in; None: item_factors

    @property
    def item_index(self) -> pd.Index:
        return pd.Index(self.item_ids)

    @property
    def user_index(self) -> pd.Index:
        return pd.Index(self.user_ids)

    def training_rows(self, users: pd.Index) -> sp.csr_matrix:
        """(len(users) x items) the training interactions of ``users``, in their order; rows
        of users the model was not trained on are empty. Stored entries (a rating of 0
        included) are kept: they mark items to exclude."""
        at = self.user_index.get_indexer(users)
        known = at >= 0
        picked = sp.csr_matrix(self.seen[at[known]])
        counts = np.zeros(len(users), dtype=np.int64)
        counts[known] = np.diff(picked.indptr)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return sp.csr_matrix(
            (picked.data, picked.indices, indptr), shape=(len(users), len(self.item_ids))
        )

    def fold_in(self, history: sp.csr_matrix) -> np.ndarray:
        """User vectors from interaction rows over this model's items: ``history @ P``."""
        projection = self.item_factors if self.projection is None else self.projection
        return np.asarray(history @ projection, dtype=np.float32)

    def save(self, directory: Path) -> dict[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "factors": directory / FACTORS_FILE,
            "ids": directory / IDS_FILE,
            "meta": directory / META_FILE,
        }
        # No projection key when it is the item factors: PureSVD files stay as they were.
        extra = {} if self.projection is None else {"projection": self.projection}
        np.savez(
            paths["factors"],
            user_factors=self.user_factors,
            item_factors=self.item_factors,
            popularity=self.popularity,
            seen_indptr=self.seen.indptr,
            seen_indices=self.seen.indices,
            seen_data=self.seen.data,
            **extra,
        )
        paths["ids"].write_text(json.dumps({"users": self.user_ids, "items": self.item_ids}))
        paths["meta"].write_text(json.dumps(self.meta, indent=2, sort_keys=True))
        return paths

    @classmethod
    def load(cls, directory: Path) -> FactorModel:
        """Load from a directory holding the three files (searched recursively)."""

        def find(name: str) -> Path:
            hits = sorted(Path(directory).rglob(name))
            if not hits:
                raise FileNotFoundError(f"{name} not found under {directory}")
            return hits[0]

        with np.load(find(FACTORS_FILE), allow_pickle=False) as arrays:
            data = {key: arrays[key] for key in arrays.files}
        ids = json.loads(find(IDS_FILE).read_text())
        meta = json.loads(find(META_FILE).read_text())
        shape = (len(ids["users"]), len(ids["items"]))
        seen = sp.csr_matrix(
            (data["seen_data"], data["seen_indices"], data["seen_indptr"]), shape=shape
        )
        return cls(
            user_ids=list(ids["users"]),
            item_ids=list(ids["items"]),
            user_factors=data["user_factors"],
            item_factors=data["item_factors"],
            popularity=data["popularity"],
            seen=seen,
            meta=meta,
            projection=data.get("projection"),
        )


def unknown_estimator(name: str) -> TrainingError:
    return TrainingError(
        f"unknown recommender estimator {name!r}; choose one of {', '.join(ESTIMATORS)}"
    )


def fit_ranking_model(frame: pd.DataFrame, params: RecTrainParams) -> FactorModel:
    """Fit the estimator ``params.estimator`` names on ``frame`` (user_id, item_id, rating).

    Raises:
        TrainingError: the name is not one of ``ESTIMATORS`` (a configuration error, not
            retried).
    """
    fits = {"pure_svd": fit_puresvd, "als": fit_als}
    if params.estimator not in fits:
        raise unknown_estimator(params.estimator)
    return fits[params.estimator](frame, params)


def fit_puresvd(frame: pd.DataFrame, params: RecTrainParams) -> FactorModel:
    """Fit PureSVD on the interactions in ``frame`` (user_id, item_id, rating)."""
    from sklearn.decomposition import TruncatedSVD

    users = pd.Index(np.sort(frame["user_id"].unique()))
    items = pd.Index(np.sort(frame["item_id"].unique()))
    matrix = interaction_matrix(frame, users, items)
    rank = max(1, min(params.factors, min(matrix.shape) - 1))
    svd = TruncatedSVD(
        n_components=rank, algorithm="randomized", n_iter=params.n_iter, random_state=params.seed
    )
    svd.fit(matrix)
    item_factors = np.ascontiguousarray(svd.components_.T, dtype=np.float32)
    user_factors = np.asarray(matrix @ item_factors, dtype=np.float32)
    popularity = np.asarray((matrix != 0).sum(axis=0), dtype=np.float32).ravel()
    return FactorModel(
        user_ids=[str(u) for u in users],
        item_ids=[str(i) for i in items],
        user_factors=user_factors,
        item_factors=item_factors,
        popularity=popularity,
        seen=matrix,
        meta={
            "algorithm": "puresvd",
            "factors": int(rank),
            "weighting": "log1p(sum of event strengths)",
            "explained_variance": float(svd.explained_variance_ratio_.sum()),
            **{f"param_{k}": v for k, v in params.to_dict().items()},
        },
    )


def fit_als(frame: pd.DataFrame, params: RecTrainParams) -> FactorModel:
    """Fit implicit-feedback ALS on the interactions in ``frame`` (user_id, item_id, rating).

    Minimises ``sum c_ui (p_ui - x_u·y_i)² + λ(|X|² + |Y|²)`` over all user x item pairs, with
    preference ``p = 1`` on observed pairs (0 elsewhere) and confidence ``c = 1 + alpha * w``
    (``w`` the log1p-summed interaction weight, 0 elsewhere). Each sweep solves every user
    then every item exactly as a ridge system by a few warm-started conjugate-gradient steps
    (Takács et al. 2011); cost per step is linear in the interactions, never users x items.
    Factors start from ``seed``; BLAS runs on one thread, so a seed gives the same bits.
    """
    from threadpoolctl import threadpool_limits

    users = pd.Index(np.sort(frame["user_id"].unique()))
    items = pd.Index(np.sort(frame["item_id"].unique()))
    matrix = interaction_matrix(frame, users, items)
    rank = max(1, min(params.factors, min(matrix.shape)))
    rng = np.random.default_rng(params.seed)
    user_factors = (0.01 * rng.standard_normal((matrix.shape[0], rank))).astype(np.float32)
    item_factors = (0.01 * rng.standard_normal((matrix.shape[1], rank))).astype(np.float32)
    by_item = sp.csr_matrix(matrix.T)
    # Multi-threaded BLAS on these small products is slower (much slower on a busy host) and
    # its reduction order may depend on the thread count.
    with threadpool_limits(1, "blas"):
        for _ in range(params.als_iterations):
            user_factors = _als_half_step(matrix, item_factors, user_factors, params)
            item_factors = _als_half_step(by_item, user_factors, item_factors, params)
        gram = item_factors.T.astype(np.float64) @ item_factors.astype(np.float64)
        inverse = np.linalg.inv(gram + params.regularization * np.eye(rank))
        projection = (item_factors @ inverse).astype(np.float32)
    popularity = np.asarray((matrix != 0).sum(axis=0), dtype=np.float32).ravel()
    return FactorModel(
        user_ids=[str(u) for u in users],
        item_ids=[str(i) for i in items],
        user_factors=user_factors,
        item_factors=item_factors,
        popularity=popularity,
        seen=matrix,
        projection=projection,
        meta={
            "algorithm": "als",
            "factors": int(rank),
            "weighting": "confidence 1 + alpha * log1p(sum of event strengths)",
            "fold_in": "Y (YᵀY + λI)⁻¹ (unweighted ridge approximation)",
            **{f"param_{k}": v for k, v in params.to_dict().items()},
        },
    )


def _als_half_step(
    confidence_rows: sp.csr_matrix, fixed: np.ndarray, start: np.ndarray, params: RecTrainParams
) -> np.ndarray:
    """New factors for every row of ``confidence_rows`` given the other side's ``fixed``:
    CG on ``(FᵀF + Fᵀ(C_r - I)F + λI) x_r = Fᵀ C_r p_r`` for all rows at once, from ``start``."""
    n, k = confidence_rows.shape[0], fixed.shape[1]
    indptr, cols = confidence_rows.indptr, confidence_rows.indices
    rows = np.repeat(np.arange(n), np.diff(indptr))
    extra = (params.alpha * confidence_rows.data).astype(np.float32)  # c - 1 on observed pairs
    gram = fixed.T @ fixed + np.float32(params.regularization) * np.eye(k, dtype=np.float32)
    fixed_at = fixed[cols]
    weighted = sp.csr_matrix((extra, cols, indptr), shape=confidence_rows.shape)

    def apply(vectors: np.ndarray) -> np.ndarray:
        weighted.data = extra * np.einsum("ij,ij->i", vectors[rows], fixed_at)
        return vectors @ gram + weighted @ fixed

    target = sp.csr_matrix((1 + extra, cols, indptr), shape=confidence_rows.shape) @ fixed
    x = start.copy()
    residual = target - apply(x)
    direction = residual.copy()
    norm = np.einsum("ij,ij->i", residual, residual)
    for _ in range(ALS_CG_STEPS):
        applied = apply(direction)
        curvature = np.einsum("ij,ij->i", direction, applied)
        step = np.divide(norm, curvature, out=np.zeros_like(norm), where=curvature > 0)
        x += step[:, None] * direction
        residual -= step[:, None] * applied
        new_norm = np.einsum("ij,ij->i", residual, residual)
        ratio = np.divide(new_norm, norm, out=np.zeros_like(norm), where=norm > 0)
        direction = residual + ratio[:, None] * direction
        norm = new_norm
    return x


def popularity_topk(
    popularity: np.ndarray, seen: sp.csr_matrix, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Most popular unseen items per user (ties: lower item index first)."""
    from mlops_core.recsys.topk import topk

    # A rank-1 factorisation: every user vector is 1, every item's factor its popularity.
    users = np.ones((seen.shape[0], 1), dtype=np.float32)
    return topk(users, popularity.reshape(-1, 1).astype(np.float32), seen, k)


def recommend_known(model: FactorModel, users: list[str], k: int) -> pd.DataFrame:
    """Top-K for the given users from the training factors; unknown users get popularity."""
    from mlops_core.recsys.topk import topk

    rows = model.user_index.get_indexer(users)
    known = rows >= 0
    seen = model.seen[np.where(known, rows, 0)]
    seen = sp.diags(known.astype(np.float32)) @ seen
    vectors = np.where(known[:, None], model.user_factors[np.where(known, rows, 0)], 0.0)
    idx, val = topk(vectors, model.item_factors, seen, k)
    pidx, pval = popularity_topk(model.popularity, sp.csr_matrix(seen.shape), k)
    idx = np.where(known[:, None], idx, pidx)
    val = np.where(known[:, None], val, pval)
    return to_frame(users, idx, val, np.where(known, "model", "popularity"), model.item_ids)


def to_frame(
    users: list[str], idx: np.ndarray, val: np.ndarray, source: np.ndarray, item_ids: list[str]
) -> pd.DataFrame:
    k = idx.shape[1]
    valid = idx >= 0
    items = np.asarray(item_ids, dtype=object)
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.asarray(users, dtype=object), k)[valid.ravel()],
            "rank": np.tile(np.arange(1, k + 1, dtype=np.int16), len(users))[valid.ravel()],
            "item_id": items[idx[valid]],
            "score": val[valid].astype(np.float32),
            "source": np.repeat(source, k)[valid.ravel()],
        }
    )
