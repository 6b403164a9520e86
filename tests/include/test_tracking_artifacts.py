"""What a person opening MLflow sees: evaluation plots, provenance tags, the training dataset,
the aliases after promotion and rollback, the experiment's kind. Against a real SQLite store,
from an empty working directory that must stay empty."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlops_core import lake, provenance, registry, steps, tracking_artifacts
from mlops_core.config import Settings
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams, build_pipeline

SCHEMA = load_schema("fraud")
DAY = dt.date(2026, 11, 6)
AT = dt.datetime(2026, 11, 7, tzinfo=dt.UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module", autouse=True)
def empty_cwd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test of this module runs from this directory; nothing may be written to it."""
    cwd = tmp_path_factory.mktemp("cwd")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        yield cwd
    assert sorted(os.listdir(cwd)) == []


@pytest.fixture(autouse=True)
def cwd_stays_empty(empty_cwd: Path) -> Iterator[None]:
    yield
    assert Path.cwd() == empty_cwd
    assert sorted(os.listdir(empty_cwd)) == [], "something was written to the working directory"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path_factory.mktemp("store"))})


@pytest.fixture(scope="module")
def fitted() -> tuple[object, object, np.ndarray]:
    """A logistic-regression pipeline fitted on one sample day: (pipeline, frame, labels)."""
    frame = generate_transactions(DAY, n_rows=2_000)
    pipeline = build_pipeline(SCHEMA, TrainParams(estimator="logistic_regression"))
    y = np.asarray(SCHEMA.target(frame[SCHEMA.label_column]))
    pipeline.fit(frame[SCHEMA.model_input_columns], y)
    return pipeline, frame, y


@pytest.fixture(scope="module")
def training_run(settings: Settings, fitted) -> dict[str, str]:
    """One training run logged as the train step logs it, with Airflow tags and the dataset."""
    pipeline, frame, _ = fitted
    uri = settings.mlflow_tracking_uri
    experiment_id = registry.ensure_experiment(
        uri, "artifacts_test", settings.mlflow_artifact_location
    )
    example = frame[SCHEMA.model_input_columns].head(20).copy()
    ts = SCHEMA.timestamp_column
    example[ts] = example[ts].dt.tz_convert("UTC").dt.tz_localize(None)
    tags = {
        "data_fingerprint": "0123456789abcdef",
        **provenance.airflow_run_tags(
            "fraud_training", "scheduled__2026-11-06T00:00:00+00:00", "train", 2
        ),
    }
    run_id, model_uri = registry.log_training_run(
        tracking_uri=uri,
        experiment_id=experiment_id,
        run_name="artifacts-test",
        model=registry.sklearn_model(pipeline, example),
        params={"window_days": 1, "train_rows": len(frame)},
        metrics={"pr_auc": 0.5, "train_rows": float(len(frame)), "holdout_rows": 400.0},
        tags=tags,
        artifacts={},
    )
    partitions = {
        LocalStorage(settings.storage_url).uri(lake.working_data_key(SCHEMA.name, d)): "sha-" + d
        for d in ("2026-11-05", "2026-11-06")
    }
    provenance.log_training_dataset(
        uri,
        run_id,
        frame,
        SCHEMA.name,
        partitions,
        "0123456789abcdef",
        targets=SCHEMA.label_column,
    )
    return {"run_id": run_id, "model_uri": model_uri, "experiment_id": experiment_id}


def test_confusion_counts_match_a_hand_count() -> None:
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 0])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.7, 0.2, 0.9, 0.5, 0.5, 0.05])
    # >= 0.5 is positive: predicted 1 at indices 3, 4, 6, 7, 8.
    assert tracking_artifacts.confusion_counts(y, s, 0.5) == {"tn": 4, "fp": 2, "fn": 1, "tp": 3}
    with pytest.raises(ValueError, match="only 0 and 1"):
        tracking_artifacts.confusion_counts(np.array([0, 2]), np.array([0.1, 0.2]), 0.5)
    with pytest.raises(ValueError, match="2 values but scores has 3"):
        tracking_artifacts.confusion_counts(np.array([0, 1]), np.array([0.1, 0.2, 0.3]), 0.5)


def test_threshold_at_fpr_is_the_operating_point_of_recall_at_fpr() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(5_000) < 0.05).astype(int)
    s = np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1)
    threshold = tracking_artifacts.threshold_at_fpr(y, s, 0.01)
    c = tracking_artifacts.confusion_counts(y, s, threshold)
    assert c["fp"] / (c["fp"] + c["tn"]) <= 0.01
    lower = s[s < threshold].max()  # the next score down crosses the target
    wider = tracking_artifacts.confusion_counts(y, s, lower)
    assert wider["fp"] / (wider["fp"] + wider["tn"]) > 0.01


def test_feature_importances_from_fitted_pipelines(fitted) -> None:
    pipeline, frame, y = fitted
    imp = tracking_artifacts.feature_importances(pipeline)
    assert imp is not None and imp.kind == "|coefficient|"
    assert len(imp.names) == len(imp.values) == pipeline.named_steps["classifier"].coef_.shape[1]
    assert "amount" in imp.names and all(v >= 0 for v in imp.values)

    forest = build_pipeline(SCHEMA, TrainParams(estimator="random_forest", n_estimators=5))
    forest.fit(frame[SCHEMA.model_input_columns], y)
    imp = tracking_artifacts.feature_importances(forest)
    assert imp is not None and imp.kind == "impurity decrease"
    assert sum(imp.values) == pytest.approx(1.0)

    boosting = build_pipeline(SCHEMA, TrainParams(max_iter=5))
    boosting.fit(frame[SCHEMA.model_input_columns], y)
    assert tracking_artifacts.feature_importances(boosting) is None


def _artifact_files(settings: Settings, run_id: str, path: str) -> dict[str, int]:
    mlc = registry.client(settings.mlflow_tracking_uri)
    return {Path(f.path).name: f.file_size for f in mlc.list_artifacts(run_id, path)}


def test_classification_evaluation_is_logged_as_valid_pngs(
    settings: Settings, training_run, fitted, tmp_path: Path
) -> None:
    pipeline, frame, y = fitted
    scores = pipeline.predict_proba(frame[SCHEMA.model_input_columns])[:, 1]
    threshold = tracking_artifacts.threshold_at_fpr(y, scores, 0.01)
    uri, run_id = settings.mlflow_tracking_uri, training_run["run_id"]
    logged = tracking_artifacts.log_classification_evaluation(
        uri, run_id, y, scores, threshold, tracking_artifacts.feature_importances(pipeline)
    )
    pngs = {
        tracking_artifacts.PRECISION_RECALL,
        tracking_artifacts.ROC,
        tracking_artifacts.CALIBRATION,
        tracking_artifacts.CONFUSION_MATRIX,
        tracking_artifacts.FEATURE_IMPORTANCE,
    }
    files = _artifact_files(settings, run_id, "evaluation")
    assert pngs | {"confusion_matrix.json", "feature_importance.json"} == set(files)
    assert sorted(logged) == sorted(f"evaluation/{name}" for name in files)

    local = registry.download_run_artifact(uri, run_id, "evaluation", tmp_path)
    for name in pngs:
        data = (local / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 5_000, f"{name} is only {len(data)} bytes"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 300 and height >= 300, (name, width, height)
    counts = json.loads((local / "confusion_matrix.json").read_text())
    predicted = scores >= threshold
    assert counts == {
        "threshold": threshold,
        "tn": int(((~predicted) & (y == 0)).sum()),
        "fp": int((predicted & (y == 0)).sum()),
        "fn": int(((~predicted) & (y == 1)).sum()),
        "tp": int((predicted & (y == 1)).sum()),
    }
    assert sum(v for k, v in counts.items() if k != "threshold") == len(y)


def test_ranking_evaluation_is_logged_as_plot_and_table(
    settings: Settings, training_run, tmp_path: Path
) -> None:
    users = ["u1", "u2"]
    recommended = [["a", "b", "c", "d"], ["c", "e", "a", "b"]]
    relevant = {"u1": {"b"}, "u2": {"a", "x"}}
    curves = tracking_artifacts.ranking_curves(users, recommended, relevant, [1, 2, 4], 10)
    # u1's hit is at rank 2, u2's at rank 3: nothing at K=1, u1 at K=2, both at K=4.
    assert curves["recall"] == {1: 0.0, 2: 0.5, 4: pytest.approx((1 + 0.5) / 2)}
    assert curves["coverage"] == {1: 0.2, 2: 0.4, 4: 0.5}
    assert curves["ndcg"][2] == pytest.approx((1 / np.log2(3)) / 2)

    uri = settings.mlflow_tracking_uri
    run = registry.client(uri).create_run(training_run["experiment_id"], run_name="ranking-test")
    run_id = run.info.run_id
    tracking_artifacts.log_ranking_evaluation(uri, run_id, curves)
    files = _artifact_files(settings, run_id, "evaluation")
    assert set(files) == {tracking_artifacts.RANKING_PLOT, tracking_artifacts.RANKING_JSON}
    local = registry.download_run_artifact(uri, run_id, "evaluation", tmp_path)
    data = (local / tracking_artifacts.RANKING_PLOT).read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5_000
    table = json.loads((local / tracking_artifacts.RANKING_JSON).read_text())
    assert [row["k"] for row in table] == [1, 2, 4]
    assert table[1] == {"k": 2, "recall": 0.5, "ndcg": curves["ndcg"][2], "coverage": 0.4}


def test_training_run_has_airflow_tags_and_counts_as_params(settings, training_run) -> None:
    run = registry.client(settings.mlflow_tracking_uri).get_run(training_run["run_id"])
    tags = run.data.tags
    assert tags["airflow.dag_id"] == "fraud_training"
    assert tags["airflow.run_id"] == "scheduled__2026-11-06T00:00:00+00:00"
    assert tags["airflow.task_id"] == "train"
    assert tags["airflow.try_number"] == "2"
    assert tags["mlflow.source.name"] == "airflow:fraud_training.train"
    assert tags["mlflow.source.type"] == "JOB"
    assert run.data.params["train_rows"] == "2000" and run.data.params["holdout_rows"] == "400"
    assert set(run.data.metrics) == {"pr_auc"}


def test_training_dataset_is_a_run_input(settings, training_run, fitted, tmp_path: Path) -> None:
    uri, run_id = settings.mlflow_tracking_uri, training_run["run_id"]
    inputs = registry.client(uri).get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    dataset, input_tags = inputs[0].dataset, {t.key: t.value for t in inputs[0].tags}
    assert dataset.name == SCHEMA.name and dataset.digest == "0123456789abcdef"
    source = json.loads(dataset.source)["uri"]
    assert dataset.source_type == "local"
    assert source == str(Path(settings.storage_url) / "working" / SCHEMA.name) + "/"
    assert json.loads(dataset.profile)["num_rows"] == len(fitted[1])
    assert input_tags["mlflow.data.context"] == "training"
    assert input_tags["mlops.source_partitions"] == (
        "dt=2026-11-05/data.parquet,dt=2026-11-06/data.parquet"
    )
    record = json.loads(
        (
            registry.download_run_artifact(uri, run_id, "datasets", tmp_path)
            / f"{SCHEMA.name}.json"
        ).read_text()
    )
    assert record["digest"] == "0123456789abcdef" and len(record["partitions"]) == 2

    with pytest.raises(ValueError, match="MLflow accepts 36"):
        provenance.log_training_dataset(uri, run_id, fitted[1], "fraud", ["/x/a"], "f" * 64)
    with pytest.raises(ValueError, match="at least one source partition"):
        provenance.log_training_dataset(uri, run_id, fitted[1], "fraud", [], "abc")


def test_experiments_are_marked_custom_model_development(settings, training_run) -> None:
    uri = settings.mlflow_tracking_uri
    mlc = registry.client(uri)
    created = mlc.get_experiment(training_run["experiment_id"])
    assert created.tags[registry.EXPERIMENT_KIND_TAG] == "custom_model_development"

    # An experiment made before this tag existed gets it; one that chose a kind keeps it.
    location = settings.mlflow_artifact_location
    old = mlc.create_experiment("made_earlier", artifact_location=location)
    assert registry.EXPERIMENT_KIND_TAG not in mlc.get_experiment(old).tags
    assert registry.ensure_experiment(uri, "made_earlier", location) == old
    assert mlc.get_experiment(old).tags[registry.EXPERIMENT_KIND_TAG] == "custom_model_development"
    chosen = mlc.create_experiment(
        "chosen", artifact_location=location, tags={registry.EXPERIMENT_KIND_TAG: "forecasting"}
    )
    registry.ensure_experiment(uri, "chosen", location)
    assert mlc.get_experiment(chosen).tags[registry.EXPERIMENT_KIND_TAG] == "forecasting"


def test_promotion_and_rollback_move_previous_and_clear_challenger(
    settings: Settings, training_run
) -> None:
    uri, name = settings.mlflow_tracking_uri, "aliases_test"
    run_id, model_uri = training_run["run_id"], training_run["model_uri"]
    versions = [registry.create_version(uri, name, model_uri, run_id) for _ in range(3)]
    assert versions == ["1", "2", "3"]
    mlc = registry.client(uri)

    def ref(version: str) -> registry.ModelRef:
        return registry.ModelRef(name, version, run_id, f"version:{version}")

    mlc.set_registered_model_alias(name, registry.CHALLENGER, "1")
    registry.promote(uri, ref("1"), reason="first", actor="t", at=AT)
    assert registry.aliases(uri, name) == {"champion": "1"}  # no previous champion yet

    mlc.set_registered_model_alias(name, registry.CHALLENGER, "2")
    record = registry.promote(uri, ref("2"), reason="better", actor="t", at=AT)
    assert record.previous_version == "1"
    assert registry.aliases(uri, name) == {"champion": "2", "previous": "1"}

    # A challenger on another version is not the champion's: it stays.
    mlc.set_registered_model_alias(name, registry.CHALLENGER, "3")
    storage = LocalStorage(settings.storage_url)
    steps.rollback(settings, storage, name, "1", actor="oncall", at=AT)
    assert registry.aliases(uri, name) == {"champion": "1", "previous": "2", "challenger": "3"}
    assert registry.resolve(uri, name, registry.PREVIOUS).version == "2"

    # Promoting the champion again changes nothing but a challenger alias left on it.
    mlc.set_registered_model_alias(name, registry.CHALLENGER, "1")
    again = registry.promote(uri, ref("1"), reason="again", actor="t", at=AT)
    assert again.promoted is False
    assert registry.aliases(uri, name) == {"champion": "1", "previous": "2"}
