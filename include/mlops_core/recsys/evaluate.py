"""Ranking metrics on a time split and the recommender's evaluation gate.

Every model is evaluated the same way: users who interact in the holdout days and have
history before them; their *relevant* items are the holdout items they had not interacted
with before (recommendations exclude seen items). A model's recommendations come from the
users' history folded into its item factors, so challenger, champion and popularity are
compared on the same users, the same history and the same relevant items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlops_core.evaluate import (
    INSUFFICIENT,
    PROMOTE,
    REJECT,
    GateVerdict,
    champion_regression,
)
from mlops_core.knobs import RecGateThresholds  # noqa: F401 - re-exported
from mlops_core.recsys.model import FactorModel, interaction_matrix, popularity_topk
from mlops_core.recsys.topk import topk


@dataclass(frozen=True)
class EvalSet:
    users: pd.Index  # evaluated users (sorted)
    history: pd.DataFrame  # interactions before the cutoff
    relevant: dict[str, set[str]]  # user -> new items in the holdout
    catalogue: int  # distinct items in the history

    @classmethod
    def build(cls, history: pd.DataFrame, holdout: pd.DataFrame) -> EvalSet:
        known = set(history["user_id"].unique())
        seen_pairs = set(zip(history["user_id"], history["item_id"], strict=True))
        relevant: dict[str, set[str]] = {}
        for user, item in zip(holdout["user_id"], holdout["item_id"], strict=True):
            if user in known and (user, item) not in seen_pairs:
                relevant.setdefault(user, set()).add(item)
        users = pd.Index(sorted(relevant))
        return cls(users, history, relevant, int(history["item_id"].nunique()))


def choose_holdout(
    frame: pd.DataFrame, end_day: dt.date, *, min_days: int, max_days: int, min_users: int
) -> tuple[int, int]:
    """How many whole days ending at ``end_day`` to hold out, and how many users that evaluates.

    Starts at ``min_days`` and extends the holdout backwards one day at a time, up to
    ``max_days``, until at least ``min_users`` users would be evaluated (``EvalSet``'s users:
    history before the cutoff and an item in the holdout they had not interacted with
    before). On sparse data the newest few days hold too few such users for the gate. If no
    length reaches ``min_users``, the one evaluating the most users (the shortest of equals).
    """
    first_of_user = frame.groupby("user_id")["timestamp"].min()
    # A user has a relevant item at cutoff c iff some (user, item) pair first occurs at or
    # after c; so they are evaluated iff first_of_user < c <= the latest such first occurrence.
    last_new = frame.groupby(["user_id", "item_id"])["timestamp"].min().groupby(level=0).max()
    first = first_of_user.reindex(last_new.index)
    best = (min_days, -1)
    for days in range(min_days, max(min_days, max_days) + 1):
        cutoff = pd.Timestamp(end_day - dt.timedelta(days=days - 1), tz="UTC")
        users = int(((first < cutoff) & (last_new >= cutoff)).sum())
        if users >= min_users:
            return days, users
        if users > best[1]:
            best = (days, users)
    return best


def ranking_metrics(
    users: pd.Index,
    recommended: list[list[str]],
    relevant: dict[str, set[str]],
    k: int,
    catalogue: int,
) -> dict[str, float]:
    """recall@K (hits / min(K, |relevant|)), NDCG@K (binary gains), catalogue coverage."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg, shown = [], [], set()
    for user, items in zip(users, recommended, strict=True):
        rel = relevant[user]
        items = items[:k]
        shown.update(items)
        hits = np.array([item in rel for item in items], dtype=float)
        recall.append(hits.sum() / min(k, len(rel)))
        ideal = discounts[: min(k, len(rel))].sum()
        ndcg.append(float((hits * discounts[: len(hits)]).sum() / ideal))
    n = len(recall)
    return {
        "recall_at_k": float(np.mean(recall)) if n else 0.0,
        "ndcg_at_k": float(np.mean(ndcg)) if n else 0.0,
        "coverage": len(shown) / catalogue if catalogue else 0.0,
        "users_evaluated": float(n),
    }


def _lists(idx: np.ndarray, item_ids: list[str]) -> list[list[str]]:
    items = np.asarray(item_ids, dtype=object)
    return [[items[j] for j in row if j >= 0] for row in idx]


def evaluate_model(model: FactorModel, data: EvalSet, k: int) -> dict[str, float]:
    history = interaction_matrix(data.history, data.users, model.item_index)
    idx, _ = topk(model.fold_in(history), model.item_factors, history, k)
    return ranking_metrics(
        data.users, _lists(idx, model.item_ids), data.relevant, k, data.catalogue
    )


def recommended_lists(model: FactorModel, data: EvalSet, k: int) -> list[list[str]]:
    """The model's top-``k`` unseen items for each evaluated user (for curves over K)."""
    history = interaction_matrix(data.history, data.users, model.item_index)
    idx, _ = topk(model.fold_in(history), model.item_factors, history, k)
    return _lists(idx, model.item_ids)


def evaluate_popularity(data: EvalSet, k: int) -> dict[str, float]:
    items = pd.Index(np.sort(data.history["item_id"].unique()))
    counts = data.history.groupby("item_id").size().reindex(items).to_numpy(np.float32)
    history = interaction_matrix(data.history, data.users, items)
    idx, _ = popularity_topk(counts, history, k)
    return ranking_metrics(data.users, _lists(idx, list(items)), data.relevant, k, data.catalogue)


GATED = ("recall_at_k", "ndcg_at_k")


def evaluate_rec_gate(
    challenger: dict[str, float],
    popularity: dict[str, float],
    champion: dict[str, float] | None,
    thresholds: RecGateThresholds,
) -> GateVerdict:
    reasons: list[str] = []
    ok = True
    n = int(challenger.get("users_evaluated", 0))
    need = thresholds.min_users_evaluated
    short = n < need
    if short:
        reasons.append(
            f"not enough evaluated users: {n} of {need} needed ({need - n} more users with "
            "history before the holdout and new items in it are missing); too little evidence "
            "to decide, the champion is kept. Land more days, or allow a longer holdout "
            "(max_holdout_days)"
        )
    for metric in GATED:
        need = popularity[metric] * (1 + thresholds.min_lift_over_popularity)
        value = challenger[metric]
        verdict = "beats" if value >= need else "does not beat"
        ok = ok and value >= need
        reasons.append(
            f"{metric} {value:.4f} {verdict} popularity {popularity[metric]:.4f} by the "
            f"required {thresholds.min_lift_over_popularity:.0%} (needs {need:.4f})"
        )
    if challenger["coverage"] < thresholds.min_coverage:
        ok = False
        reasons.append(
            f"coverage {challenger['coverage']:.4f} is below the floor {thresholds.min_coverage}"
        )
    if champion is None:
        reasons.append("no champion yet: popularity margin and floors decide")
    else:
        kept, why = champion_regression(challenger, champion, GATED, thresholds.max_regression)
        ok, reasons = ok and kept, reasons + why
    return GateVerdict(
        decision=INSUFFICIENT if short else PROMOTE if ok else REJECT,
        reasons=reasons,
        challenger=challenger,
        champion=champion,
        thresholds=asdict(thresholds),
        context={"popularity": popularity},
    )


def relevant_matrix(data: EvalSet, items: pd.Index) -> sp.csr_matrix:
    """(users x items) of the relevant items; for checks."""
    pairs = [(u, i) for u in data.users for i in sorted(data.relevant[u])]
    frame = pd.DataFrame(pairs, columns=["user_id", "item_id"]).assign(rating=1.0)
    return interaction_matrix(frame, data.users, items)
