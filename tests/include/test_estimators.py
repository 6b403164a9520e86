"""Use cases configured, not coded: the estimator is a choice from a small catalogue, labels
may be text with a named positive class, the timestamp column may have any name, and time
features are opt-in. Every fitted pipeline round-trips through skops with the trusted list."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd
import pytest
import skops.io

from mlops_core.errors import SchemaError, TrainingError
from mlops_core.registry import TRUSTED_TYPES
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import DatasetSchema, load_schema
from mlops_core.train import ESTIMATORS, TrainParams, train_model

SCHEMA = load_schema("fraud")
DAY = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.concat(
        [generate_transactions(DAY + dt.timedelta(days=i), n_rows=2_000) for i in range(2)],
        ignore_index=True,
    )


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_each_estimator_trains_scores_and_round_trips(frame, estimator) -> None:
    params = TrainParams(estimator=estimator, n_estimators=40, max_iter=15)
    result = train_model(frame, SCHEMA, params)
    assert 0.0 < result.metrics["pr_auc"] <= 1.0
    assert (
        type(result.pipeline[-1]).__name__.lower().replace("classifier", "")
        in (estimator.replace("_", ""))
        or estimator == "hist_gradient_boosting"
    )
    loaded = skops.io.loads(skops.io.dumps(result.pipeline), trusted=TRUSTED_TYPES)
    inputs = result.holdout[SCHEMA.model_input_columns]
    pd.testing.assert_series_equal(
        pd.Series(loaded.predict_proba(inputs)[:, 1]),
        pd.Series(result.pipeline.predict_proba(inputs)[:, 1]),
    )


def test_unknown_estimator_is_refused() -> None:
    with pytest.raises(TrainingError, match="unknown estimator 'xgboost'"):
        TrainParams(estimator="xgboost")


def _loans(frame: pd.DataFrame) -> tuple[pd.DataFrame, DatasetSchema]:
    """The fraud sample reshaped like a user's table: text labels, another timestamp name,
    a legitimately missing numeric, no time features."""
    data = frame.rename(columns={"timestamp": "issued_at", "is_fraud": "outcome"})
    data["outcome"] = data["outcome"].map({0: "good", 1: "bad"})
    data.loc[data.index % 5 == 0, "customer_tenure_days"] = None
    spec = SCHEMA.to_dict()
    spec.pop("categoricals")
    spec.update(
        name="loans",
        timestamp_column="issued_at",
        label_column="outcome",
        label_values=["good", "bad"],
        positive_label="bad",
        derived_features=[],
        categorical=list(SCHEMA.categorical),
        numeric=[
            {"name": "amount", "min": 0.01, "max": 100000},
            {"name": "customer_tenure_days", "min": 0, "max": 20000, "nullable": True},
        ],
    )
    return data, DatasetSchema.from_dict(spec)


@pytest.mark.parametrize("estimator", ["logistic_regression", "hist_gradient_boosting"])
def test_text_labels_renamed_timestamp_nulls_and_no_time_features(frame, estimator) -> None:
    data, schema = _loans(frame)
    assert schema.model_input_columns == schema.feature_columns  # no timestamp input
    result = train_model(data, schema, TrainParams(estimator=estimator, max_iter=15))
    assert "time_features" not in result.pipeline.named_steps
    positives = int((data["outcome"] == "bad").sum())
    assert positives == int(frame["is_fraud"].sum())  # "bad" is the positive class
    assert result.metrics["pr_auc"] > 2 * positives / len(data)  # well above chance


def test_text_labels_need_a_positive_label() -> None:
    spec = {**SCHEMA.to_dict(), "label_values": ["good", "bad"]}
    spec.pop("positive_label")
    with pytest.raises(SchemaError, match="positive_label: required"):
        DatasetSchema.from_dict(spec)
    with pytest.raises(SchemaError, match="'ugly' is not one of label_values"):
        DatasetSchema.from_dict({**spec, "positive_label": "ugly"})


def test_time_features_are_opt_in(frame) -> None:
    plain = dataclasses.replace(SCHEMA, derived_features=())
    result = train_model(frame, plain, TrainParams(estimator="logistic_regression"))
    assert "time_features" not in result.pipeline.named_steps
    assert "timestamp" not in plain.model_input_columns
    hourly = dataclasses.replace(SCHEMA, derived_features=("hour",))
    result = train_model(frame, hourly, TrainParams(estimator="logistic_regression"))
    step = result.pipeline.named_steps["time_features"]
    assert step.kw_args == {"column": "timestamp", "features": ["hour"]}
