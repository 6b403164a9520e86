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

from mlops_core.evaluate import INSUFFICIENT, REJECT, GateVerdict, decide_on_evidence
from mlops_core.evidence import paired_means
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


def per_user_metrics(
    users: pd.Index, recommended: list[list[str]], relevant: dict[str, set[str]], k: int
) -> dict[str, np.ndarray]:
    """recall@K (hits / min(K, |relevant|)) and NDCG@K (binary gains) of each user, in the
    order of ``users``: the units the gate resamples."""
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    recall, ndcg = np.zeros(len(users)), np.zeros(len(users))
    for i, (user, items) in enumerate(zip(users, recommended, strict=True)):
        rel = relevant[user]
        hits = np.array([item in rel for item in items[:k]], dtype=float)
        recall[i] = hits.sum() / min(k, len(rel))
        ndcg[i] = float((hits * discounts[: len(hits)]).sum() / discounts[: min(k, len(rel))].sum())
    return {"recall_at_k": recall, "ndcg_at_k": ndcg}


def ranking_metrics(
    users: pd.Index,
    recommended: list[list[str]],
    relevant: dict[str, set[str]],
    k: int,
    catalogue: int,
) -> dict[str, float]:
    """Mean recall@K and NDCG@K over the users, and catalogue coverage of their lists."""
    per_user = per_user_metrics(users, recommended, relevant, k)
    shown = {item for items in recommended for item in items[:k]}
    n = len(users)
    return {
        "recall_at_k": float(per_user["recall_at_k"].mean()) if n else 0.0,
        "ndcg_at_k": float(per_user["ndcg_at_k"].mean()) if n else 0.0,
        "coverage": len(shown) / catalogue if catalogue else 0.0,
        "users_evaluated": float(n),
    }


def _lists(idx: np.ndarray, item_ids: list[str]) -> list[list[str]]:
    items = np.asarray(item_ids, dtype=object)
    return [[items[j] for j in row if j >= 0] for row in idx]


def evaluate_model(model: FactorModel, data: EvalSet, k: int) -> dict[str, float]:
    return ranking_metrics(
        data.users, recommended_lists(model, data, k), data.relevant, k, data.catalogue
    )


def recommended_lists(model: FactorModel, data: EvalSet, k: int) -> list[list[str]]:
    """The model's top-``k`` unseen items for each evaluated user."""
    history = interaction_matrix(data.history, data.users, model.item_index)
    idx, _ = topk(model.fold_in(history), model.item_factors, history, k)
    return _lists(idx, model.item_ids)


def popularity_lists(data: EvalSet, k: int) -> list[list[str]]:
    """The ``k`` items most users interacted with in the history, unseen by each user: the
    same popularity (distinct users per item) that serving falls back to."""
    items = pd.Index(np.sort(data.history["item_id"].unique()))
    users_per_item = (
        data.history.groupby("item_id")["user_id"].nunique().reindex(items).to_numpy(np.float32)
    )
    history = interaction_matrix(data.history, data.users, items)
    idx, _ = popularity_topk(users_per_item, history, k)
    return _lists(idx, list(items))


def evaluate_popularity(data: EvalSet, k: int) -> dict[str, float]:
    return ranking_metrics(data.users, popularity_lists(data, k), data.relevant, k, data.catalogue)


GATED = ("recall_at_k", "ndcg_at_k")


def evaluate_rec_gate(
    data: EvalSet,
    challenger: list[list[str]],
    popularity: list[list[str]],
    champion: list[list[str]] | None,
    thresholds: RecGateThresholds,
) -> GateVerdict:
    """The ranking gate on the evaluated users' top-K lists (same users, same order, for each
    model): paired bootstrap over users of recall@K and NDCG@K against popularity plus the
    required lift and against the champion; coverage (a property of the whole catalogue, not
    a per-user mean) against its floor."""
    k = thresholds.k
    lists = {"challenger": challenger, "popularity": popularity}
    if champion is not None:
        lists["champion"] = champion
    summary = {
        name: ranking_metrics(data.users, recs, data.relevant, k, data.catalogue)
        for name, recs in lists.items()
    }
    decision, reasons, record = decide_on_evidence(
        lambda: paired_means(
            {n: per_user_metrics(data.users, r, data.relevant, k) for n, r in lists.items()},
            n_boot=thresholds.n_boot,
            seed=thresholds.bootstrap_seed,
        ),
        GATED,
        thresholds,
        count=len(data.users),
        need=thresholds.min_users_evaluated,
        unit="evaluated users",
        floors={},
        baselines={"popularity": thresholds.min_lift_over_popularity},
        champion=champion is not None,
    )
    coverage = summary["challenger"]["coverage"]
    if decision != INSUFFICIENT and coverage < thresholds.min_coverage:
        decision = REJECT
        reasons.append(f"coverage {coverage:.4f} is below the floor {thresholds.min_coverage}")
    return GateVerdict(
        decision=decision,
        reasons=reasons,
        challenger=summary["challenger"],
        champion=summary.get("champion"),
        thresholds=asdict(thresholds),
        context={"popularity": summary["popularity"]},
        evidence=record,
    )


def relevant_matrix(data: EvalSet, items: pd.Index) -> sp.csr_matrix:
    """(users x items) of the relevant items; for checks."""
    pairs = [(u, i) for u in data.users for i in sorted(data.relevant[u])]
    frame = pd.DataFrame(pairs, columns=["user_id", "item_id"]).assign(rating=1.0)
    return interaction_matrix(frame, data.users, items)
