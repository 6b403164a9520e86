"""Training: a scikit-learn Pipeline on a time-based split, with a fixed seed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from mlops_core.errors import SelfEvaluationError, TrainingError
from mlops_core.evaluate import classification_metrics
from mlops_core.features import add_time_features
from mlops_core.knobs import ESTIMATORS, HYPERPARAMETERS, TrainParams  # noqa: F401 - re-exported
from mlops_core.maturity import matured_for_training
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage
from mlops_core.windows import Window, check_window_minimums, read_window

TrainingSet = Window  # the classification name of a window read by mlops_core.windows


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
) -> Window:
    """The validated window ending at ``end_day``, held to the spec's window minimums."""
    window = read_window(storage, schema, end_day, window_days)
    check_window_minimums(window.frame, schema, days=window_days)
    return window


def build_pipeline(schema: DatasetSchema, params: TrainParams) -> Pipeline:
    """Optional time features -> categoricals one-hot encoded (missing values as their own
    category) and numerics (imputed and scaled where the estimator needs it) -> the chosen
    class-weighted estimator."""
    derived = list(schema.derived_features)
    numeric = [c.name for c in schema.numeric] + derived
    categories = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="__missing__"),
        OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False),
    )
    if params.estimator == "hist_gradient_boosting":
        numbers: object = "passthrough"  # native missing-value support
        classifier: object = HistGradientBoostingClassifier(
            max_iter=params.max_iter,
            learning_rate=params.learning_rate,
            max_leaf_nodes=params.max_leaf_nodes,
            class_weight="balanced",
            early_stopping=False,
            random_state=params.seed,
        )
    elif params.estimator == "logistic_regression":
        numbers = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
        )
        classifier = LogisticRegression(
            C=params.c, class_weight="balanced", max_iter=2_000, random_state=params.seed
        )
    else:
        numbers = SimpleImputer(strategy="median", add_indicator=True)
        classifier = RandomForestClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth or None,
            min_samples_leaf=params.min_samples_leaf,
            class_weight="balanced_subsample",
            n_jobs=1,
            random_state=params.seed,
        )
    columns = ColumnTransformer(
        [("categorical", categories, list(schema.categorical)), ("numeric", numbers, numeric)],
        verbose_feature_names_out=False,
    )
    steps: list[tuple[str, object]] = [("columns", columns), ("classifier", classifier)]
    if derived:
        kw_args = {"column": schema.timestamp_column, "features": derived}
        steps.insert(0, ("time_features", FunctionTransformer(add_time_features, kw_args=kw_args)))
    return Pipeline(steps)


def time_split(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    holdout_fraction: float,
    embargo_days: int = 0,
    *,
    holdout_positives: int | tuple[int, ...] = 0,
    max_holdout_fraction: float = 0.0,
    not_before: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """Oldest rows train, the newest ``holdout_fraction`` hold out; ties broken by id for a
    stable order. With ``holdout_positives`` and ``max_holdout_fraction`` the holdout grows
    backwards until it holds that many positives, when it can within ``max_holdout_fraction``
    of the rows (otherwise it stays at ``holdout_fraction``; with several targets, the first
    the cap can reach is taken); it never starts before
    ``not_before`` (the champion's cutoff: the gate must not score the champion on rows it
    trained on). Training rows within ``embargo_days`` before the first holdout row (the
    cutoff) are dropped: the embargo gap between the two windows.

    Raises:
        SelfEvaluationError: ``not_before`` leaves no holdout row.
    """
    keys = [c for c in (schema.timestamp_column, schema.id_column) if c]
    ordered = frame.sort_values(keys, kind="stable")
    n = len(ordered)
    cut = int(n * (1 - holdout_fraction))
    targets = (holdout_positives,) if isinstance(holdout_positives, int) else holdout_positives
    if max_holdout_fraction and schema.label_column in ordered.columns:
        newest_first = np.cumsum(schema.target(ordered[schema.label_column])[::-1])
        for target in (t for t in targets if t):
            needed = int(np.searchsorted(newest_first, target)) + 1
            # All or nothing: a pool that cannot reach the target within the cap would only
            # take training rows (and the newest, most relevant ones) away.
            if needed <= int(n * max_holdout_fraction):
                cut = min(cut, n - needed)
                break
    if not_before is not None:
        cut = max(cut, int(ordered[schema.timestamp_column].searchsorted(not_before)))
        if cut >= n:
            raise SelfEvaluationError(
                f"no row of the window is after the champion's training cutoff {not_before}: "
                "nothing to evaluate the challenger and the champion on without scoring the "
                "champion on its own training rows. Train for a later day, or roll the "
                "champion back first if the older model is wanted (runbook: #self-evaluation)",
                check="champion_cutoff_before_evaluation",
            )
    cutoff = ordered[schema.timestamp_column].iloc[cut]
    train = ordered.iloc[:cut]
    if embargo_days:
        train = train[train[schema.timestamp_column] < cutoff - pd.Timedelta(days=embargo_days)]
    return train, ordered.iloc[cut:], cutoff


def split_for_gate(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    params: TrainParams,
    evaluate_after: pd.Timestamp | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """The training split and the gate's holdout, pooled up to ``holdout_positives``
    positives when the window can provide them within ``max_holdout_fraction``, else up to
    the gate's ``min_positives``, and never before ``evaluate_after`` (the champion's cutoff).

    Every model is cut this way, champion or not: a chain of daily retrains then holds out
    the same span each day, so a champion's cutoff lies before the next challenger's pool.
    A first model cut with a short holdout would clip every later pool to the rows after its
    cutoff, and each promoted challenger would pass its short holdout on. When the champion's
    cutoff clips a pool anyway, the holdout is every row after that cutoff: the largest one
    neither model trained on (the verdict then says how many positives are missing)."""
    return time_split(
        frame,
        schema,
        params.holdout_fraction,
        params.embargo_days,
        holdout_positives=(params.holdout_positives, params.min_positives),
        max_holdout_fraction=params.max_holdout_fraction,
        not_before=evaluate_after,
    )


def train_model(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    params: TrainParams,
    *,
    day: dt.date | None = None,
    evaluate_after: pd.Timestamp | None = None,
) -> TrainResult:
    """Fit the pipeline on the older rows and measure it on the newest ones, with
    ``params.embargo_days`` between them. With ``day`` (the run's day) and a schema with a
    label time column, only rows whose labels are final by the end of ``day`` are used; the
    others are counted (``unmatured_rows_excluded``) and logged. The holdout pools matured
    days up to ``params.holdout_positives`` positives and starts no earlier than
    ``evaluate_after`` (the champion's cutoff), see ``time_split``.

    Raises:
        TrainingError: the label column is missing, or either split lacks enough positives
            (a single-class window cannot train a classifier).
    """
    label = schema.label_column
    if not label or label not in frame.columns:
        raise TrainingError(f"training data has no label column {label!r}")
    excluded = 0
    if day is not None:
        matured = matured_for_training(frame, schema, day)
        frame, excluded = matured.frame, matured.excluded
    train, holdout, cutoff = split_for_gate(frame, schema, params, evaluate_after)
    for name, part in (("training", train), ("holdout", holdout)):
        positives = int(schema.target(part[label]).sum())
        needed = params.min_positive_labels if name == "training" else 1
        if positives < needed or positives == len(part):
            raise TrainingError(
                f"cannot train: the {name} split has {positives} positive labels out of "
                f"{len(part)} rows (need >= {needed} and both classes). Widen the window "
                "(window_days) or check the labels of the recent partitions."
            )
    pipeline = build_pipeline(schema, params)
    pipeline.fit(train[schema.model_input_columns], schema.target(train[label]))
    scores = pipeline.predict_proba(holdout[schema.model_input_columns])[:, 1]
    metrics = classification_metrics(schema.target(holdout[label]), scores, params.fpr_target)
    metrics.update(_baseline_metrics(train, holdout, schema, params))
    metrics["train_rows"] = float(len(train))
    metrics["holdout_rows"] = float(len(holdout))
    metrics["unmatured_rows_excluded"] = float(excluded)
    return TrainResult(
        pipeline=pipeline,
        metrics=metrics,
        holdout=holdout.reset_index(drop=True),
        train_rows=len(train),
        cutoff=str(cutoff),
        params=params,
    )


BASELINE = "logistic_regression"


def _baseline_metrics(
    train: pd.DataFrame, holdout: pd.DataFrame, schema: DatasetSchema, params: TrainParams
) -> dict[str, float]:
    """Holdout metrics of a default logistic regression fitted on the same training rows,
    as ``baseline_<metric>``: the yardstick the gate verdict shows beside the challenger
    (a model that cannot beat it is not worth its complexity)."""
    import dataclasses

    baseline = dataclasses.replace(TrainParams(), estimator=BASELINE, seed=params.seed)
    if params.estimator == BASELINE and params.c == baseline.c:
        return {}
    label = schema.label_column
    pipeline = build_pipeline(schema, baseline)
    pipeline.fit(train[schema.model_input_columns], schema.target(train[label]))
    scores = pipeline.predict_proba(holdout[schema.model_input_columns])[:, 1]
    metrics = classification_metrics(schema.target(holdout[label]), scores, params.fpr_target)
    return {f"baseline_{k}": v for k, v in metrics.items() if k != "positive_rate"}


@dataclass
class Trial:
    """One search candidate measured on the validation slice."""

    params: TrainParams
    metrics: dict[str, float]
    selected: bool = False


def compare_candidates(
    frame: pd.DataFrame, schema: DatasetSchema, candidates: list[TrainParams]
) -> list[Trial]:
    """Fit every candidate on the older part of the training split and measure it on the
    newest ``validation_fraction`` of it; the holdout is never seen, so the gate's numbers
    stay an honest estimate. The best validation PR-AUC is selected (earlier wins a tie).

    Raises:
        TrainingError: the validation slice lacks positives or negatives.
    """
    first = candidates[0]
    label = schema.label_column
    train, _, _ = split_for_gate(frame, schema, first, None)
    fit_part, validation, _ = time_split(train, schema, first.validation_fraction)
    y = schema.target(validation[label])
    if y.sum() == 0 or y.sum() == len(y):
        raise TrainingError(
            f"cannot compare model candidates: the validation slice ({len(validation)} rows, "
            f"the newest {first.validation_fraction:.0%} of the training split) has "
            f"{int(y.sum())} positives; widen the window or raise validation_fraction"
        )
    trials = []
    for params in candidates:
        pipeline = build_pipeline(schema, params)
        pipeline.fit(fit_part[schema.model_input_columns], schema.target(fit_part[label]))
        scores = pipeline.predict_proba(validation[schema.model_input_columns])[:, 1]
        metrics = classification_metrics(y, scores, params.fpr_target)
        metrics["validation_rows"] = float(len(validation))
        trials.append(Trial(params, metrics))
    best = max(range(len(trials)), key=lambda i: (trials[i].metrics["pr_auc"], -i))
    trials[best].selected = True
    return trials


def positive_rate(frame: pd.DataFrame, schema: DatasetSchema) -> float:
    return float(np.mean(schema.target(frame[schema.label_column]))) if len(frame) else 0.0
