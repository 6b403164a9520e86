"""Training: a scikit-learn Pipeline on a time-based split, with a fixed seed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from mlops_core import lake
from mlops_core.errors import InputMissingError, TrainingError
from mlops_core.evaluate import classification_metrics
from mlops_core.features import add_time_features
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage


@dataclass(frozen=True)
class TrainParams:
    seed: int = 42
    holdout_fraction: float = 0.2
    window_days: int = 7
    min_positive_labels: int = 20
    max_iter: int = 200
    learning_rate: float = 0.08
    max_leaf_nodes: int = 31
    fpr_target: float = 0.01

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class TrainingSet:
    frame: pd.DataFrame
    partitions: dict[str, str]  # day -> working data sha256

    @property
    def fingerprint(self) -> str:
        payload = json.dumps(self.partitions, sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]


@dataclass
class TrainResult:
    pipeline: Pipeline
    metrics: dict[str, float]
    holdout: pd.DataFrame
    train_rows: int
    cutoff: str
    params: TrainParams
    extra: dict = field(default_factory=dict)


def load_training_set(
    storage: Storage, schema: DatasetSchema, end_day: dt.date, window_days: int
) -> TrainingSet:
    """Read validated working partitions in ``(end_day - window_days, end_day]``.

    Partitions without a validation marker (never validated, or quarantined) are skipped.
    """
    frames, partitions = [], {}
    for offset in range(window_days - 1, -1, -1):
        day = end_day - dt.timedelta(days=offset)
        marker = lake.working_prefix(schema.name, day) + lake.VALIDATED_MARKER
        if not storage.exists(marker):
            continue
        meta = json.loads(storage.read_bytes(lake.working_prefix(schema.name, day) + lake.MANIFEST))
        with storage.local_copy(lake.working_data_key(schema.name, day)) as path:
            frames.append(pd.read_parquet(path))
        partitions[day.isoformat()] = meta["data_sha256"]
    if not frames:
        raise InputMissingError(
            f"no validated partitions of {schema.name} in the {window_days} days up to {end_day}; "
            "run extraction and validation for those days first"
        )
    return TrainingSet(pd.concat(frames, ignore_index=True), partitions)


def build_pipeline(schema: DatasetSchema, params: TrainParams) -> Pipeline:
    """Time features -> one-hot categoricals + raw numerics -> class-weighted gradient boosting."""
    numeric = [c.name for c in schema.numeric] + ["hour", "is_night", "is_weekend"]
    encoder = OneHotEncoder(
        handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False
    )
    columns = ColumnTransformer(
        [("categorical", encoder, list(schema.categorical)), ("numeric", "passthrough", numeric)],
        verbose_feature_names_out=False,
    )
    classifier = HistGradientBoostingClassifier(
        max_iter=params.max_iter,
        learning_rate=params.learning_rate,
        max_leaf_nodes=params.max_leaf_nodes,
        class_weight="balanced",
        early_stopping=False,
        random_state=params.seed,
    )
    return Pipeline(
        [
            ("time_features", FunctionTransformer(add_time_features)),
            ("columns", columns),
            ("classifier", classifier),
        ]
    )


def time_split(
    frame: pd.DataFrame, schema: DatasetSchema, holdout_fraction: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Oldest rows train, newest rows hold out; ties broken by id for a stable order."""
    ordered = frame.sort_values([schema.timestamp_column, schema.id_column], kind="stable")
    cut = int(len(ordered) * (1 - holdout_fraction))
    cutoff = ordered[schema.timestamp_column].iloc[cut]
    return ordered.iloc[:cut], ordered.iloc[cut:], cutoff


def train_model(frame: pd.DataFrame, schema: DatasetSchema, params: TrainParams) -> TrainResult:
    """Fit the pipeline on the older rows and measure it on the newest ones.

    Raises:
        TrainingError: the label column is missing, or either split lacks enough positives
            (a single-class window cannot train a classifier).
    """
    label = schema.label_column
    if not label or label not in frame.columns:
        raise TrainingError(f"training data has no label column {label!r}")
    train, holdout, cutoff = time_split(frame, schema, params.holdout_fraction)
    for name, part in (("training", train), ("holdout", holdout)):
        positives = int(part[label].sum())
        needed = params.min_positive_labels if name == "training" else 1
        if positives < needed or positives == len(part):
            raise TrainingError(
                f"cannot train: the {name} split has {positives} positive labels out of "
                f"{len(part)} rows (need >= {needed} and both classes). Widen the window "
                "(window_days) or check the labels of the recent partitions."
            )
    pipeline = build_pipeline(schema, params)
    pipeline.fit(train[schema.model_input_columns], train[label].to_numpy())
    scores = pipeline.predict_proba(holdout[schema.model_input_columns])[:, 1]
    metrics = classification_metrics(holdout[label].to_numpy(), scores, params.fpr_target)
    metrics["train_rows"] = float(len(train))
    metrics["holdout_rows"] = float(len(holdout))
    return TrainResult(
        pipeline=pipeline,
        metrics=metrics,
        holdout=holdout.reset_index(drop=True),
        train_rows=len(train),
        cutoff=str(cutoff),
        params=params,
    )


def positive_rate(frame: pd.DataFrame, schema: DatasetSchema) -> float:
    return float(np.mean(frame[schema.label_column])) if len(frame) else 0.0
