"""Factor models for top-K recommendation.

``PureSVD`` (truncated SVD of the confidence-weighted user x item matrix, scikit-learn's
randomized solver) is the learned model; item popularity is the baseline and the fallback
for users without history. A user's vector is *folded in* from their interactions,
``u = x_u V``, so users who arrived after training get recommendations from their history
without retraining (for users seen in training this is exactly their training factor). The
training matrix is kept with the factors: items a user was trained on are never recommended
back, and a user the model knows keeps a vector when they have been quiet lately.

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

from mlops_core.knobs import RANKING_HYPERPARAMETERS, RecTrainParams  # noqa: F401

FACTORS_FILE, IDS_FILE, META_FILE = "factors.npz", "ids.json", "model.json"


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
        """User vectors from interaction rows over this model's items."""
        return np.asarray(history @ self.item_factors, dtype=np.float32)

    def save(self, directory: Path) -> dict[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "factors": directory / FACTORS_FILE,
            "ids": directory / IDS_FILE,
            "meta": directory / META_FILE,
        }
        np.savez(
            paths["factors"],
            user_factors=self.user_factors,
            item_factors=self.item_factors,
            popularity=self.popularity,
            seen_indptr=self.seen.indptr,
            seen_indices=self.seen.indices,
            seen_data=self.seen.data,
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
        )


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
