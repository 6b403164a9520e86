"""Recommender metrics, gate decisions, and the domain flow train -> register -> gate ->
promote -> top-K scoring on a local lake and a local MLflow store."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mlops_core import lake, registry, steps
from mlops_core.config import Settings
from mlops_core.errors import GateRejectedError
from mlops_core.evaluate import INSUFFICIENT, PROMOTE, REJECT
from mlops_core.recsys import steps as rec_steps
from mlops_core.recsys.evaluate import (
    EvalSet,
    RecGateThresholds,
    evaluate_rec_gate,
    ranking_metrics,
)
from mlops_core.recsys.model import RecTrainParams
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

SCHEMA = load_schema("recommender")
END = dt.date(2026, 11, 14)
WINDOW = 14
MODEL = "rec_test_model"


def test_ranking_metrics_by_hand():
    users = pd.Index(["a", "b"])
    recs = [["x", "y", "z"], ["p", "q", "r"]]
    relevant = {"a": {"y"}, "b": {"s", "t"}}
    m = ranking_metrics(users, recs, relevant, 3, catalogue=12)
    assert m["recall_at_k"] == pytest.approx(0.5)  # a: 1/min(3,1); b: 0
    assert m["ndcg_at_k"] == pytest.approx((1 / np.log2(3)) / 2)
    assert m["coverage"] == pytest.approx(6 / 12)
    assert m["users_evaluated"] == 2


def _gate_data(users: int = 400, seed: int = 0):
    """Each user has one relevant (held-out) item among 40; lists of 10 hit it or not."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"u{i:04d}" for i in range(users)])
    relevant = {u: {f"i{rng.integers(40):02d}"} for u in ids}
    history = pd.DataFrame(
        {"user_id": list(ids), "item_id": ["h"] * users, "rating": np.ones(users)}
    )
    data = EvalSet(ids, history, relevant, catalogue=41)
    return rng, data


def _lists(rng, data, hit_rate: float) -> list[list[str]]:
    """Top-10 lists that contain the user's relevant item (at a random rank) with
    probability ``hit_rate``; fillers never hit."""
    out = []
    for user in data.users:
        (target,) = data.relevant[user]
        fill = [f"f{j}" for j in range(10)]
        if rng.random() < hit_rate:
            fill[rng.integers(10)] = target
        out.append(fill)
    return out


@pytest.mark.parametrize(
    ("challenger", "champion", "decision", "needle"),
    [
        (0.40, None, PROMOTE, "no champion yet"),
        (0.105, None, REJECT, "is shown short of popularity"),
        (0.30, 0.60, REJECT, "inferior"),
        (0.40, 0.40, PROMOTE, "non-inferior"),
    ],
)
def test_gate_decisions(challenger, champion, decision, needle):
    rng, data = _gate_data()
    model = _lists(rng, data, challenger)
    popularity = _lists(rng, data, 0.20)
    # The same lists for an equal champion: paired, so the difference is exactly zero.
    champ = (
        None
        if champion is None
        else model
        if champion == challenger
        else _lists(rng, data, champion)
    )
    verdict = evaluate_rec_gate(data, model, popularity, champ, RecGateThresholds())
    assert verdict.decision == decision, verdict.reasons
    assert any(needle in r for r in verdict.reasons), verdict.reasons
    assert verdict.context["popularity"]["users_evaluated"] == len(data.users)
    assert verdict.evidence["unit"] == "evaluated users" and verdict.evidence["n_boot"] == 2_000


def test_gate_with_too_few_users_is_insufficient():
    rng, data = _gate_data(users=10)
    lists = _lists(rng, data, 0.5)
    verdict = evaluate_rec_gate(data, lists, _lists(rng, data, 0.1), None, RecGateThresholds())
    assert verdict.decision == INSUFFICIENT
    assert verdict.reasons[0].startswith("not enough evaluated users: 10 of 50 needed")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("recsys")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    for day in steps.window_days(END, WINDOW):
        rec_steps.land_sample_partition(storage, SCHEMA, day, sessions=700)
    days = steps.extract_window(storage, SCHEMA, END, WINDOW, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    params = RecTrainParams(window_days=WINDOW, holdout_days=3, factors=16)
    result = rec_steps.train(
        storage, SCHEMA, END, settings=settings, params=params, experiment="rec-test"
    )
    ref = steps.register(settings, MODEL, result["model_uri"], result["run_id"])
    verdict = rec_steps.gate(settings, MODEL, ref["version"], RecGateThresholds())
    at = dt.datetime(2026, 11, 14, 6, tzinfo=dt.UTC)
    steps.promote(settings, storage, MODEL, ref["version"], actor="test", at=at)
    return settings, storage, result, ref, verdict


def test_trained_model_beats_popularity_and_is_champion(trained, tmp_path):
    settings, _, result, ref, verdict = trained
    assert verdict.passed
    assert result["metrics"]["recall_at_k"] > 1.1 * result["metrics"]["popularity_recall_at_k"]
    champion = registry.require(settings.mlflow_tracking_uri, MODEL)
    assert champion.version == ref["version"]
    # The logged pyfunc model answers for known and unknown users.
    import mlflow.pyfunc

    local = registry.download_model(settings.mlflow_tracking_uri, champion, tmp_path / "model")
    model = mlflow.pyfunc.load_model(str(local))
    out = model.predict(pd.DataFrame({"user_id": ["u0000001", "nobody"]}), params={"k": 5})
    assert out.groupby("user_id")["rank"].max().to_dict() == {"nobody": 5, "u0000001": 5}
    assert set(out.loc[out.user_id == "nobody", "source"]) == {"popularity"}


def test_top_k_for_every_user_excludes_seen_and_reruns_identically(trained):
    settings, storage, *_ = trained
    manifest = rec_steps.score(
        storage, SCHEMA, END, settings=settings, model_name=MODEL, k=10, history_days=2
    )
    out = pd.read_parquet(storage.root / manifest.output_key)
    model = rec_steps.load_factor_model(
        settings.mlflow_tracking_uri, registry.require(settings.mlflow_tracking_uri, MODEL)
    )
    assert manifest.rows_out == len(out)
    assert out["user_id"].nunique() == manifest["users"]
    # Users the model was trained on are scored by it, active in the 2 days or not.
    assert manifest["users_model"] >= len(model.user_ids)
    assert manifest["users_model"] + manifest["users_popularity"] == manifest["users"]
    # Seen items (training interactions and the 2-day history) are never recommended.
    history = pd.concat(
        pd.read_parquet(storage.root / lake.working_data_key(SCHEMA.name, d))
        for d in steps.window_days(END, 2)
    )
    seen = set(zip(history["user_id"], history["item_id"], strict=True))
    rows, cols = model.seen.nonzero()
    users, items = np.asarray(model.user_ids), np.asarray(model.item_ids)
    seen |= set(zip(users[rows], items[cols], strict=True))
    pairs = set(zip(out["user_id"], out["item_id"], strict=True))
    assert not (seen & pairs)
    # Ranks 1..K, scores non-increasing within a user.
    assert (
        out.groupby("user_id")["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1))).all()
    )
    assert (out.groupby("user_id")["score"].diff().dropna() <= 1e-6).all()
    # Users without any history on the model's items are marked and get the same items.
    fallback = out[out["source"] == "popularity"]
    assert fallback["user_id"].nunique() == manifest["users_popularity"]
    assert fallback.groupby("user_id")["item_id"].apply(tuple).nunique() <= 1
    assert set(out["model_version"]) == {manifest.model_version}
    again = rec_steps.score(
        storage, SCHEMA, END, settings=settings, model_name=MODEL, k=10, history_days=2
    )
    assert again.output_sha256 == manifest.output_sha256
    key = lake.scored_prefix(SCHEMA.name, END) + lake.MANIFEST
    assert storage.exists(key)


def test_as_of_selection_records_rule(trained):
    settings, storage, _, ref, _ = trained
    manifest = rec_steps.score(
        storage, SCHEMA, END, settings=settings, model_name=MODEL, selection="as_of", k=3
    )
    assert manifest.model_rule == f"as_of:{END.isoformat()}"
    assert manifest.model_version == ref["version"]


def test_weaker_challenger_is_rejected_and_champion_kept(trained):
    settings, storage, _, ref, _ = trained
    weak = rec_steps.train(
        storage,
        SCHEMA,
        END,
        settings=settings,
        params=RecTrainParams(window_days=WINDOW, holdout_days=3, factors=1),
        experiment="rec-test",
    )
    new = steps.register(settings, MODEL, weak["model_uri"], weak["run_id"])
    with pytest.raises(GateRejectedError) as info:
        rec_steps.gate(
            settings, MODEL, new["version"], RecGateThresholds(min_lift_over_popularity=0.0)
        )
    assert "inferior" in str(info.value) and "against a margin of" in str(info.value)
    assert f"The champion ({ref['version']}) is unchanged" in str(info.value)
    with pytest.raises(GateRejectedError, match="no passing gate verdict"):
        steps.promote(
            settings, storage, MODEL, new["version"], actor="t", at=dt.datetime.now(dt.UTC)
        )
    assert registry.require(settings.mlflow_tracking_uri, MODEL).version == ref["version"]
