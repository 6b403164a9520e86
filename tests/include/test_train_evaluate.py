"""Training on a time split and the evaluation gate's decisions."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from mlops_core.evaluate import (
    PROMOTE,
    REJECT,
    GateThresholds,
    classification_metrics,
    evaluate_gate,
)
from mlops_core.sample_data import generate_transactions
from mlops_core.schema import load_schema
from mlops_core.train import TrainParams, time_split, train_model

SCHEMA = load_schema("fraud")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return pd.concat(
        [
            generate_transactions(dt.date(2026, 11, 1) + dt.timedelta(days=i), n_rows=4_000)
            for i in range(5)
        ],
        ignore_index=True,
    )


def test_time_split_keeps_the_newest_rows_for_holdout(frame) -> None:
    train, holdout, cutoff = time_split(frame, SCHEMA, 0.2)
    assert len(holdout) == len(frame) - int(len(frame) * 0.8)
    assert train["timestamp"].max() <= cutoff <= holdout["timestamp"].min()


def test_training_learns_and_is_reproducible(frame) -> None:
    first = train_model(frame, SCHEMA, TrainParams())
    second = train_model(frame, SCHEMA, TrainParams())
    metrics = first.metrics
    assert metrics["pr_auc"] > 5 * metrics["positive_rate"]  # far better than chance
    assert metrics["roc_auc"] > 0.8
    inputs = first.holdout[SCHEMA.model_input_columns]
    np.testing.assert_array_equal(
        first.pipeline.predict_proba(inputs), second.pipeline.predict_proba(inputs)
    )


def test_classification_metrics_by_hand() -> None:
    y = np.array([0, 0, 1, 0, 1, 0])
    scores = np.array([0.1, 0.4, 0.35, 0.2, 0.8, 0.05])
    metrics = classification_metrics(y, scores, fpr_target=0.25)
    # Ranked: 0.8(+) 0.4(-) 0.35(+) ... -> precision at each positive: 1/1, 2/3 -> AP = (1 + 2/3) / 2
    assert metrics["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    # 4 negatives; FPR <= 0.25 allows one false positive (0.4) -> both positives caught above 0.35.
    assert metrics["recall_at_fpr"] == pytest.approx(1.0)
    assert classification_metrics(y, scores, fpr_target=0.0)["recall_at_fpr"] == pytest.approx(0.5)
    # ROC-AUC: 8 (pos, neg) pairs; 0.35 loses only to 0.4 -> 7/8.
    assert metrics["roc_auc"] == pytest.approx(7 / 8)


T = GateThresholds(min_pr_auc=0.2, min_recall_at_fpr=0.3, max_regression=0.01)


@pytest.mark.parametrize(
    ("challenger", "champion", "decision", "reason"),
    [
        ({"pr_auc": 0.4, "recall_at_fpr": 0.5}, None, PROMOTE, "no champion yet"),
        (
            {"pr_auc": 0.1, "recall_at_fpr": 0.5},
            None,
            REJECT,
            "pr_auc 0.1000 is below the floor 0.2",
        ),
        (
            {"pr_auc": 0.4, "recall_at_fpr": 0.2},
            None,
            REJECT,
            "recall_at_fpr 0.2000 is below the floor 0.3",
        ),
        (
            {"pr_auc": 0.40, "recall_at_fpr": 0.5},
            {"pr_auc": 0.45, "recall_at_fpr": 0.5},
            REJECT,
            "below the champion",
        ),
        (
            {"pr_auc": 0.445, "recall_at_fpr": 0.5},
            {"pr_auc": 0.45, "recall_at_fpr": 0.5},
            PROMOTE,
            "within tolerance",
        ),
        (
            {"pr_auc": 0.50, "recall_at_fpr": 0.6},
            {"pr_auc": 0.45, "recall_at_fpr": 0.5},
            PROMOTE,
            "within tolerance",
        ),
    ],
)
def test_gate_decisions(challenger, champion, decision, reason) -> None:
    verdict = evaluate_gate(challenger, champion, T)
    assert verdict.decision == decision
    assert any(reason in r for r in verdict.reasons), verdict.reasons


def test_verdict_serialises() -> None:
    verdict = evaluate_gate(
        {"pr_auc": 0.1, "recall_at_fpr": 0.5}, {"pr_auc": 0.4, "recall_at_fpr": 0.5}, T
    )
    verdict.challenger_version, verdict.champion_version = "3", "2"
    data = json.loads(verdict.to_json())
    assert data["decision"] == REJECT and data["thresholds"]["min_pr_auc"] == 0.2
    md = verdict.to_markdown()
    assert (
        "Evaluation gate: REJECT" in md
        and "champion version 2" in md
        and "| pr_auc | 0.1000 | 0.4000 |" in md
    )
