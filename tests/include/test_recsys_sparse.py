"""The recommender on sparse, real-shaped ratings (as in public film-ratings tables): most
users were active only early in the window, and only a few users rate on the newest days.

300 users, 600 items in 10 taste clusters, 28 days: 240 users rate on 3 of the first 12 days
only; 20 of 60 steady users rate on each day. Built here, deterministic, no download.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from mlops_core import registry, steps
from mlops_core.config import Settings
from mlops_core.errors import GateRejectedError
from mlops_core.recsys import steps as rec_steps
from mlops_core.recsys.data import land_interactions
from mlops_core.recsys.evaluate import (
    EvalSet,
    RecGateThresholds,
    choose_holdout,
)
from mlops_core.recsys.model import RecTrainParams
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

SCHEMA = load_schema("recommender")
END = dt.date(2026, 11, 28)
WINDOW = 28
N_USERS, N_ITEMS, N_CLUSTERS, EARLY_USERS = 300, 600, 10, 240
MODEL = "rec_sparse_model"
INSUFFICIENT = "insufficient"  # the gate's verdict when too few users could be evaluated


def sparse_ratings(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = steps.window_days(END, WINDOW)
    item_cluster = np.arange(N_ITEMS) % N_CLUSTERS
    weight = (rng.permutation(N_ITEMS) + 1.0) ** -1.0
    taste = rng.integers(0, N_CLUSTERS, N_USERS)
    active: dict[int, list[int]] = {d: [] for d in range(WINDOW)}
    for user in range(EARLY_USERS):
        for d in rng.choice(12, 3, replace=False):
            active[int(d)].append(user)
    for d in range(WINDOW):
        active[d].extend(int(u) for u in rng.choice(np.arange(EARLY_USERS, N_USERS), 20, False))
    rows = []
    for d, users in active.items():
        start = pd.Timestamp(days[d], tz="UTC")
        for user in sorted(users):
            members = np.flatnonzero(item_cluster == taste[user])
            own = rng.choice(members, 6, p=weight[members] / weight[members].sum())
            other = rng.choice(N_ITEMS, 6, p=weight / weight.sum())
            items = np.where(rng.random(6) < 0.8, own, other)
            for item, second in zip(items, rng.integers(0, 86_400, 6), strict=True):
                rows.append(
                    (
                        f"u{user:04d}",
                        f"m{item:04d}",
                        float(rng.integers(1, 6)),
                        start + pd.Timedelta(seconds=int(second)),
                    )
                )
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    return frame.drop_duplicates(["user_id", "item_id", "timestamp"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def sparse_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("recsys-sparse")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    frame = sparse_ratings()
    land_interactions(storage, SCHEMA, frame)
    days = steps.extract_window(storage, SCHEMA, END, WINDOW, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    return settings, storage, frame


@pytest.fixture(scope="module")
def trained(sparse_lake):
    settings, storage, frame = sparse_lake
    params = RecTrainParams(window_days=WINDOW, factors=16)  # default holdout_days
    result = rec_steps.train(
        storage, SCHEMA, END, settings=settings, params=params, experiment="rec-sparse"
    )
    ref = steps.register(settings, MODEL, result["model_uri"], result["run_id"])
    # Scored below as a challenger without a gate (the gate is what these tests look at).
    registry.set_challenger(settings.mlflow_tracking_uri, MODEL, ref["version"])
    return settings, storage, frame, result, ref


def test_sparse_data_leaves_too_few_users_in_three_holdout_days():
    # The premise: the newest 3 days hold fewer distinct users than the gate's floor of 50.
    frame = sparse_ratings()
    recent = frame[frame["timestamp"] >= pd.Timestamp(END - dt.timedelta(days=2), tz="UTC")]
    assert recent["user_id"].nunique() < RecGateThresholds().min_users_evaluated


def test_holdout_extends_until_the_gate_has_enough_evaluated_users(trained):
    *_, result, _ = trained
    assert result["metrics"]["users_evaluated"] >= RecGateThresholds().min_users_evaluated
    assert result["holdout_days"] > RecTrainParams().holdout_days
    assert result["holdout_days"] <= RecTrainParams().max_holdout_days


def test_known_users_get_model_recommendations_that_exclude_training_items(trained):
    settings, storage, frame, _, ref = trained
    history_days = 7
    manifest = rec_steps.score(
        storage,
        SCHEMA,
        END,
        settings=settings,
        model_name=MODEL,
        alias=registry.CHALLENGER,
        k=10,
        history_days=history_days,
    )
    out = pd.read_parquet(storage.root / manifest.output_key)
    model = rec_steps.load_factor_model(
        settings.mlflow_tracking_uri,
        registry.resolve(settings.mlflow_tracking_uri, MODEL, registry.CHALLENGER),
    )
    rows, cols = model.seen.nonzero()
    users, items = np.asarray(model.user_ids), np.asarray(model.item_ids)
    trained_on = set(zip(users[rows], items[cols], strict=True))
    since = pd.Timestamp(END - dt.timedelta(days=history_days - 1), tz="UTC")
    window = frame[frame["timestamp"] >= since]
    seen = trained_on | set(zip(window["user_id"], window["item_id"], strict=True))
    pairs = set(zip(out["user_id"], out["item_id"], strict=True))
    assert not pairs & seen, f"{len(pairs & seen)} of {len(pairs)} recommended pairs were seen"
    # Every user the model knows is scored by the model, recent activity or not.
    known = out[out["user_id"].isin(model.user_ids)]
    assert set(known["source"]) == {"model"}
    assert manifest["users_popularity"] == 0
    assert manifest["users_model"] == manifest["users"]
    assert out.groupby("user_id").size().eq(10).all()


def test_gate_names_missing_evaluated_users_and_keeps_the_champion(trained):
    settings, storage, *_, ref = trained
    thresholds = RecGateThresholds(min_users_evaluated=N_USERS + 1)
    with pytest.raises(GateRejectedError, match=r"not enough evaluated users: \d+ of 301 needed"):
        rec_steps.gate(settings, MODEL, ref["version"], thresholds)
    verdict = json.loads(
        (settings.reports_dir / "gates" / MODEL / f"v{ref['version']}" / "verdict.json").read_text()
    )
    assert verdict["decision"] == INSUFFICIENT
    md = (settings.reports_dir / "gates" / MODEL / f"v{ref['version']}" / "verdict.md").read_text()
    assert "not enough evaluated users" in md
    with pytest.raises(GateRejectedError, match="no passing gate verdict"):
        steps.promote(
            settings, storage, MODEL, ref["version"], actor="t", at=dt.datetime.now(dt.UTC)
        )
    assert registry.resolve(settings.mlflow_tracking_uri, MODEL) is None


def test_only_users_without_any_known_history_fall_back_to_popularity(trained):
    settings, storage, *_ = trained
    uri = settings.mlflow_tracking_uri
    model = rec_steps.load_factor_model(uri, registry.resolve(uri, MODEL, registry.CHALLENGER))
    day = END + dt.timedelta(days=1)
    start = pd.Timestamp(day, tz="UTC")
    rows = []
    for n in range(20):
        for j in range(6):
            at = start + pd.Timedelta(seconds=60 * n + j)
            # New users on new items only: nothing to fold in.
            rows.append((f"new{n:03d}", f"x{(n + j) % 30:03d}", 4.0, at))
            # New users on items the model knows: folded in from this day.
            rows.append((f"late{n:03d}", model.item_ids[(7 * n + j) % 100], 4.0, at))
    day_frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    land_interactions(storage, SCHEMA, day_frame)
    steps.extract_window(storage, SCHEMA, day, 1, "b2")
    steps.validate_window(storage, SCHEMA, [day.isoformat()], settings=settings, batch_id="b2")
    manifest = rec_steps.score(
        storage,
        SCHEMA,
        day,
        settings=settings,
        model_name=MODEL,
        alias=registry.CHALLENGER,
        k=10,
        history_days=7,
    )
    out = pd.read_parquet(storage.root / manifest.output_key)
    source = out.groupby("user_id")["source"].agg(set)
    new = source.index.str.startswith("new")
    assert (source[new] == {"popularity"}).all() and new.sum() == 20
    assert (source[~new] == {"model"}).all()
    assert manifest["users_popularity"] == 20
    assert manifest["users_model"] == manifest["users"] - 20
    fallback = out[out["user_id"].str.startswith("new")]
    assert fallback.groupby("user_id")["item_id"].apply(tuple).nunique() == 1
    late = day_frame[day_frame["user_id"].str.startswith("late")]
    pairs = set(zip(out["user_id"], out["item_id"], strict=True))
    assert not pairs & set(zip(late["user_id"], late["item_id"], strict=True))


def test_holdout_choice_counts_exactly_the_users_the_gate_evaluates():
    frame = sparse_ratings()
    for days in (1, 3, 5, 9):
        history, holdout, _ = rec_steps.time_split(frame, END, days)
        expected = len(EvalSet.build(history, holdout).users)
        chosen = choose_holdout(frame, END, min_days=days, max_days=days, min_users=10**6)
        assert chosen == (days, expected)
    days, users = choose_holdout(frame, END, min_days=3, max_days=14, min_users=50)
    assert users >= 50 and days > 3
    # Short of the floor even at the cap: the length that evaluates the most users.
    assert choose_holdout(frame, END, min_days=3, max_days=5, min_users=10**6)[0] <= 5
