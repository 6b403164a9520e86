"""The second ranking estimator: implicit-feedback ALS, chosen by ``RecTrainParams.estimator``,
folding users in through its stored projection; PureSVD models saved before it still load."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mlops_core import registry, steps
from mlops_core.config import Settings
from mlops_core.errors import TrainingError
from mlops_core.recsys import steps as rec_steps
from mlops_core.recsys.data import generate_interactions
from mlops_core.recsys.evaluate import EvalSet, evaluate_model, evaluate_popularity
from mlops_core.recsys.model import (
    ESTIMATORS,
    FACTORS_FILE,
    FactorModel,
    RecTrainParams,
    fit_als,
    fit_puresvd,
    fit_ranking_model,
    recommend_known,
)
from mlops_core.recsys.topk import topk
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

SCHEMA = load_schema("recommender")
END = dt.date(2026, 11, 14)
DAYS = 14
MODEL = "rec_als_test_model"


@pytest.fixture(scope="module")
def split():
    days = [END - dt.timedelta(days=offset) for offset in range(DAYS - 1, -1, -1)]
    frame = pd.concat([generate_interactions(day) for day in days], ignore_index=True)
    history, holdout, _ = rec_steps.time_split(frame, END, 3)
    return history, EvalSet.build(history, holdout)


@pytest.fixture(scope="module")
def als(split):
    return fit_ranking_model(split[0], RecTrainParams(estimator="als"))


def test_als_is_deterministic_for_a_seed(split):
    history, _ = split
    params = RecTrainParams(estimator="als", factors=8, als_iterations=3, seed=7)
    first, second = fit_als(history, params), fit_als(history, params)
    for field in ("user_factors", "item_factors", "projection"):
        assert np.array_equal(getattr(first, field), getattr(second, field)), field
    other = fit_als(history, dataclasses.replace(params, seed=8))
    assert not np.array_equal(first.item_factors, other.item_factors)


def test_als_beats_popularity_on_a_time_split(split, als):
    _, data = split
    assert als.meta["algorithm"] == "als" and als.meta["param_estimator"] == "als"
    metrics = evaluate_model(als, data, 10)
    baseline = evaluate_popularity(data, 10)
    assert metrics["users_evaluated"] >= 500
    # The gate's default margin over popularity, on both gated metrics.
    assert metrics["recall_at_k"] > 1.1 * baseline["recall_at_k"], (metrics, baseline)
    assert metrics["ndcg_at_k"] > 1.1 * baseline["ndcg_at_k"], (metrics, baseline)


def test_fold_in_of_a_training_users_history_ranks_like_their_factor(als):
    folded = als.fold_in(als.seen)
    assert np.allclose(folded, als.seen @ als.projection, atol=1e-5)
    trained, _ = topk(als.user_factors, als.item_factors, als.seen, 10)
    refolded, _ = topk(folded, als.item_factors, als.seen, 10)
    overlap = [len(set(a) & set(b)) / 10 for a, b in zip(trained, refolded, strict=True)]
    # Measured mean top-10 overlap: 0.78 on these 14 days, 0.78 on 28 days of this generator; the
    # ridge fold-in ignores per-user confidences, so it approximates the weighted solve.
    assert np.mean(overlap) >= 0.7, np.mean(overlap)
    # recommend_known serves the trained factors of users the model knows.
    user = als.user_ids[3]
    served = recommend_known(als, [user], 10)
    assert list(served["item_id"]) == [als.item_ids[j] for j in trained[3]]


def test_save_load_round_trip_keeps_the_projection(als, tmp_path):
    als.save(tmp_path / "model")
    with np.load(tmp_path / "model" / FACTORS_FILE, allow_pickle=False) as arrays:
        assert "projection" in arrays.files
    loaded = FactorModel.load(tmp_path)
    assert np.array_equal(loaded.projection, als.projection)
    assert np.array_equal(loaded.fold_in(als.seen[:50]), als.fold_in(als.seen[:50]))
    users = als.user_ids[:20] + ["nobody"]
    pd.testing.assert_frame_equal(
        recommend_known(loaded, users, 10), recommend_known(als, users, 10)
    )


def test_puresvd_factors_saved_without_a_projection_still_load(split, tmp_path):
    model = fit_puresvd(split[0], RecTrainParams(factors=8))
    model.save(tmp_path)
    with np.load(tmp_path / FACTORS_FILE, allow_pickle=False) as arrays:
        keys = set(arrays.files)
    # The key set PureSVD models were saved with before the projection existed.
    assert keys == {
        "user_factors",
        "item_factors",
        "popularity",
        "seen_indptr",
        "seen_indices",
        "seen_data",
    }
    loaded = FactorModel.load(tmp_path)
    assert loaded.projection is None
    assert np.array_equal(loaded.fold_in(loaded.seen), loaded.seen @ loaded.item_factors)
    assert np.allclose(loaded.fold_in(loaded.seen), loaded.user_factors, atol=1e-4)


def test_unknown_estimator_is_refused_naming_the_choices(split):
    message = r"unknown recommender estimator 'bpr'; choose one of pure_svd, als"
    with pytest.raises(TrainingError, match=message):
        RecTrainParams(estimator="bpr")
    params = RecTrainParams()
    object.__setattr__(params, "estimator", "bpr")  # past the dataclass check
    with pytest.raises(TrainingError, match=message):
        fit_ranking_model(split[0], params)
    with pytest.raises(TrainingError, match="regularization > 0"):
        RecTrainParams(estimator="als", regularization=0.0)


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_catalogue_fits_every_estimator(split, estimator):
    params = RecTrainParams(estimator=estimator, factors=4, n_iter=2, als_iterations=2)
    model = fit_ranking_model(split[0], params)
    assert model.meta["algorithm"] == {"pure_svd": "puresvd", "als": "als"}[estimator]
    assert model.fold_in(model.seen[:5]).shape == (5, 4)


def test_als_trains_logs_its_name_and_scores_through_the_pipeline(tmp_path):
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = LocalStorage(settings.storage_url)
    for day in steps.window_days(END, DAYS):
        rec_steps.land_sample_partition(storage, SCHEMA, day, sessions=700)
    days = steps.extract_window(storage, SCHEMA, END, DAYS, "b")
    steps.validate_window(storage, SCHEMA, days, settings=settings, batch_id="b")
    params = RecTrainParams(window_days=DAYS, factors=16, estimator="als")
    result = rec_steps.train(
        storage, SCHEMA, END, settings=settings, params=params, experiment="rec-als"
    )
    run = registry.client(settings.mlflow_tracking_uri).get_run(result["run_id"])
    assert run.data.params["estimator"] == "als"
    assert result["metrics"]["recall_at_k"] > result["metrics"]["popularity_recall_at_k"]
    ref = steps.register(settings, MODEL, result["model_uri"], result["run_id"])
    version = registry.set_challenger(settings.mlflow_tracking_uri, MODEL, ref["version"])
    model = rec_steps.load_factor_model(settings.mlflow_tracking_uri, version)
    assert model.projection is not None and model.meta["algorithm"] == "als"
    import mlflow.pyfunc

    local = registry.download_model(settings.mlflow_tracking_uri, version, tmp_path / "pyfunc")
    out = mlflow.pyfunc.load_model(str(local)).predict(
        pd.DataFrame({"user_id": [model.user_ids[0], "nobody"]}), params={"k": 5}
    )
    assert out.groupby("user_id")["source"].first().to_dict() == {
        model.user_ids[0]: "model",
        "nobody": "popularity",
    }
    manifest = rec_steps.score(
        storage,
        SCHEMA,
        END,
        settings=settings,
        model_name=MODEL,
        alias=registry.CHALLENGER,
        k=10,
        history_days=2,
    )
    assert manifest.model_version == ref["version"]
    assert manifest["users_model"] >= len(model.user_ids)
