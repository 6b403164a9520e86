"""Label maturity: the generator delays labels realistically; training uses only labels final
by the end of its day, with an embargo gap before the holdout; monitoring reads each day's
labels final within the same delay, so days compare like with like."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging

import numpy as np
import pandas as pd
import pytest

from mlops_core import lake
from mlops_core.errors import SelfEvaluationError
from mlops_core.maturity import end_of_day, matured_for_training, matured_within
from mlops_core.monitoring import Champion, PerformanceThresholds, matured_performance
from mlops_core.sample_data import (
    LABEL_TIME_COLUMN,
    MAX_LABEL_DELAY_DAYS,
    generate_transactions,
    label_delays,
)
from mlops_core.schema import load_schema
from mlops_core.spec import SpecError, load_spec, parse_spec
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams, split_for_gate, time_split, train_model
from mlops_core.validate import validate_frame

SCHEMA = load_schema("fraud")
DAY = dt.date(2026, 11, 7)


def _delay_days(frame: pd.DataFrame) -> pd.Series:
    return (frame[LABEL_TIME_COLUMN] - frame["timestamp"]).dt.total_seconds() / 86_400


def test_fraud_labels_arrive_late_with_a_right_skewed_delay() -> None:
    delays = label_delays(np.array([1] * 50_000 + [0] * 50_000), np.random.default_rng(0))
    fraud, legit = delays[:50_000], delays[50_000:]
    # Chargebacks: median ~2 days, mean above the median (right skew), a tail of weeks,
    # never beyond the dispute window.
    assert 1.8 < np.median(fraud) < 2.2
    assert fraud.mean() > 1.3 * np.median(fraud)
    assert 15 < np.quantile(fraud, 0.99) <= MAX_LABEL_DELAY_DAYS
    assert fraud.max() <= MAX_LABEL_DELAY_DAYS and fraud.min() > 0
    # A legitimate transaction's review closes sooner and with a short tail.
    assert 0.6 < np.median(legit) < 0.9 and np.quantile(legit, 0.99) < 3


def test_generator_emits_label_times_after_each_event() -> None:
    frame = generate_transactions(DAY, n_rows=20_000)
    again = generate_transactions(DAY, n_rows=20_000)
    pd.testing.assert_frame_equal(frame, again)  # deterministic per (seed, day)
    assert SCHEMA.label_time_column == LABEL_TIME_COLUMN
    delay = _delay_days(frame)
    assert (delay > 0).all()
    fraud = frame["is_fraud"] == 1
    assert delay[fraud].median() > 2 * delay[~fraud].median()
    # The schema's suite accepts the column; a label final before its day does not pass.
    assert validate_frame(frame.head(500), SCHEMA, DAY).success
    early = frame.head(500).copy()
    early.loc[early.index[:3], LABEL_TIME_COLUMN] = pd.Timestamp(DAY, tz="UTC") - pd.Timedelta(
        hours=1
    )
    report = validate_frame(early, SCHEMA, DAY)
    assert not report.success
    assert any(c.column == LABEL_TIME_COLUMN for c in report.failures)
    # Scoring data may come without it.
    assert validate_frame(
        frame.head(500).drop(columns=["is_fraud", LABEL_TIME_COLUMN]), SCHEMA, DAY, with_label=False
    ).success


def test_a_label_time_needs_a_label_column() -> None:
    raw = json.loads(json.dumps(load_spec("fraud").raw))
    del raw["dataset"]["label_column"]
    with pytest.raises(SpecError, match="label_time_column"):
        parse_spec(json.dumps(raw), source="no-label.json", fmt="json")


def _window(end: dt.date, days: int = 7, rows: int = 4_000) -> pd.DataFrame:
    return pd.concat(
        [generate_transactions(end - dt.timedelta(days=o), n_rows=rows) for o in range(days)],
        ignore_index=True,
    )


def test_training_uses_only_labels_final_by_its_day(caplog) -> None:
    frame = _window(DAY)
    pending = frame[LABEL_TIME_COLUMN] >= end_of_day(DAY)
    assert pending.sum() > 0 and frame.loc[pending, "is_fraud"].mean() > frame["is_fraud"].mean()
    with caplog.at_level(logging.WARNING, logger="mlops_core.maturity"):
        result = train_model(frame, SCHEMA, TrainParams(embargo_days=1, max_iter=30), day=DAY)
    assert result.metrics["unmatured_rows_excluded"] == int(pending.sum())
    assert f"{int(pending.sum())} of {len(frame)} rows" in caplog.text
    assert (result.holdout[LABEL_TIME_COLUMN] < end_of_day(DAY)).all()
    expected_rows = len(frame) - int(pending.sum())
    assert result.train_rows + len(result.holdout) < expected_rows  # the embargo drops rows
    # Pending labels are left out, never read as "not fraud".
    matured = matured_for_training(frame, SCHEMA, DAY)
    assert matured.excluded == int(pending.sum()) and len(matured.frame) == expected_rows
    # Without a label time column nothing is excluded (loans, the recommender).
    plain = dataclasses.replace(SCHEMA, label_time_column=None)
    assert matured_for_training(frame, plain, DAY).excluded == 0


def test_embargo_separates_training_and_holdout_windows() -> None:
    frame = _window(DAY, days=5, rows=2_000)
    train, holdout, cutoff = time_split(frame, SCHEMA, 0.2, embargo_days=1)
    assert holdout["timestamp"].min() == cutoff
    assert train["timestamp"].max() < cutoff - pd.Timedelta(days=1)
    gap = frame[
        (frame["timestamp"] >= cutoff - pd.Timedelta(days=1)) & (frame["timestamp"] < cutoff)
    ]
    assert len(gap) > 0 and len(train) + len(gap) + len(holdout) == len(frame)
    no_gap, _, _ = time_split(frame, SCHEMA, 0.2)
    assert len(no_gap) == len(train) + len(gap)
    assert load_spec("fraud").train.embargo_days == 1
    assert load_spec("loans").train.embargo_days == 0  # unchanged behaviour


class _Constant:
    """A stand-in model: scores are the amount's rank (any fixed score will do)."""

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        s = frame["amount"].rank(pct=True).to_numpy()
        return np.column_stack([1 - s, s])


def _lake_day(storage: LocalStorage, day: dt.date, frame: pd.DataFrame) -> None:
    path = storage.path(lake.working_data_key(SCHEMA.name, day))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    marker = lake.working_prefix(SCHEMA.name, day) + lake.VALIDATED_MARKER
    storage.write_bytes(marker, json.dumps({"rows": len(frame)}).encode())
    prefix = lake.scored_prefix(SCHEMA.name, day)
    storage.path(prefix).mkdir(parents=True, exist_ok=True)
    scores = pd.DataFrame(
        {
            SCHEMA.id_column: frame[SCHEMA.id_column],
            "score": _Constant().predict_proba(frame)[:, 1],
            "model_version": 1,
        }
    )
    scores.to_parquet(storage.path(prefix + "scores.parquet"), index=False)
    storage.write_bytes(prefix + lake.MANIFEST, json.dumps({"model_version": "1"}).encode())


def test_monitoring_reads_labels_final_within_the_delay(tmp_path) -> None:
    storage = LocalStorage(tmp_path)
    trained_through = dt.date(2026, 11, 1)
    frames = {}
    for offset in range(1, 8):
        day = trained_through + dt.timedelta(days=offset)
        frames[day] = generate_transactions(day, n_rows=3_000)
        _lake_day(storage, day, frames[day])
    perf = PerformanceThresholds(label_delay_days=2, window_days=3, baseline_days=2, n_boot=50)
    champion = Champion(
        version=1,
        model=_Constant(),
        reference_days=[],
        trained_through=trained_through.isoformat(),
    )
    monitor_day = trained_through + dt.timedelta(days=7)
    out = matured_performance(storage, SCHEMA, monitor_day, perf, champion)
    window = [monitor_day - dt.timedelta(days=o) for o in (4, 3, 2)]
    assert out["performance"]["days"] == [d.isoformat() for d in window]
    matured = [matured_within(frames[d], SCHEMA, 2).frame for d in window]
    assert out["performance"]["rows"] == sum(len(m) for m in matured)
    assert out["performance"]["positives"] == sum(int(m["is_fraud"].sum()) for m in matured)
    # Every day shares the horizon: its labels were final within 2 days of its end.
    for day, part in zip(window, matured, strict=True):
        assert (part[LABEL_TIME_COLUMN] < end_of_day(day) + pd.Timedelta(days=2)).all()
        assert len(part) < len(frames[day])
    per_day = {d["day"]: d for d in out["prevalence"]["days"]}
    assert per_day[window[0].isoformat()]["rows"] == len(matured[0])
    # Without a label time column the partition age alone decides (all rows count).
    plain = dataclasses.replace(SCHEMA, label_time_column=None)
    everything = matured_performance(storage, plain, monitor_day, perf, champion)
    assert everything["performance"]["rows"] == sum(len(frames[d]) for d in window)


def test_holdout_pools_matured_days_up_to_the_positives_needed() -> None:
    frame = matured_for_training(_window(DAY, days=10, rows=4_000), SCHEMA, DAY).frame
    y = SCHEMA.target(frame["is_fraud"])
    _, base_holdout, _ = time_split(frame, SCHEMA, 0.2)
    assert SCHEMA.target(base_holdout["is_fraud"]).sum() < 100
    train, holdout, cutoff = time_split(
        frame, SCHEMA, 0.2, 1, holdout_positives=100, max_holdout_fraction=0.7
    )
    assert SCHEMA.target(holdout["is_fraud"]).sum() == 100  # grown just far enough
    assert len(holdout) > len(base_holdout)
    assert train["timestamp"].max() < cutoff - pd.Timedelta(days=1)
    # All or nothing: a target the cap cannot reach leaves the holdout at its minimum.
    _, capped, _ = time_split(
        frame, SCHEMA, 0.2, holdout_positives=int(y.sum()), max_holdout_fraction=0.6
    )
    assert len(capped) == len(frame) - int(len(frame) * 0.8)
    # Never before the champion's cutoff: the champion did not train on any holdout row.
    champion_cutoff = cutoff + pd.Timedelta(days=2)
    _, after, start = time_split(
        frame,
        SCHEMA,
        0.2,
        holdout_positives=100,
        max_holdout_fraction=0.7,
        not_before=champion_cutoff,
    )
    assert start >= champion_cutoff and (after["timestamp"] >= champion_cutoff).all()
    with pytest.raises(SelfEvaluationError, match="champion's training cutoff"):
        time_split(frame, SCHEMA, 0.2, not_before=end_of_day(DAY))


def test_spec_gate_pools_enough_positives_for_its_power() -> None:
    spec = load_spec("fraud")
    assert spec.train.holdout_positives == 1_100 and spec.train.max_holdout_fraction == 0.6
    assert spec.gate.power == 0.95 and spec.gate.max_detectable_drop == 0.18
    # One setting: the holdout grows to the gate's minimum even with no champion to compare.
    assert spec.train.min_positives == spec.gate.min_positives == 30


def test_gate_split_pools_for_every_model_and_keeps_a_clipped_pool() -> None:
    frame = matured_for_training(_window(DAY, days=10, rows=4_000), SCHEMA, DAY).frame
    params = TrainParams(
        holdout_positives=100, max_holdout_fraction=0.7, embargo_days=1, min_positives=30
    )
    start = pd.Timestamp(DAY - dt.timedelta(days=9), tz="UTC")
    _, alone, first_cutoff = split_for_gate(frame, SCHEMA, params, None)
    _, compared, _ = split_for_gate(frame, SCHEMA, params, start)
    # A first model pools like a challenger: the next one's pool is not clipped by it.
    assert SCHEMA.target(alone["is_fraud"]).sum() == 100
    assert compared["transaction_id"].tolist() == alone["transaction_id"].tolist()
    minimum = dataclasses.replace(params, holdout_positives=0)
    _, small, _ = split_for_gate(frame, SCHEMA, minimum, None)
    assert 30 <= SCHEMA.target(small["is_fraud"]).sum() < 100 and len(small) < len(alone)
    # A champion that held out less clips the pool: every row after its cutoff, not the
    # minimum holdout (which would then hand the same short pool on to the next champion).
    late = alone["timestamp"].iloc[(len(alone) - len(small)) // 2]
    assert late > first_cutoff
    _, clipped, cutoff = split_for_gate(frame, SCHEMA, params, late)
    assert cutoff >= late and (clipped["timestamp"] >= late).all()
    assert len(clipped) == int((frame["timestamp"] >= late).sum()) > len(small)
    assert SCHEMA.target(clipped["is_fraud"]).sum() < 100
    # Out of reach within the cap: the holdout grows only to the gate's minimum.
    unreachable = dataclasses.replace(params, holdout_positives=10_000)
    _, kept, _ = split_for_gate(frame, SCHEMA, unreachable, start)
    assert kept["transaction_id"].tolist() == small["transaction_id"].tolist()


def test_retrain_policy_counts_post_breach_rows_the_pooled_holdout_takes(tmp_path) -> None:
    """A retrain pools its holdout newest-first to ``holdout_positives``: the post-breach
    days land there before any reaches training. The policy's count comes from the same split
    code, not from ``holdout_fraction`` (which would count most of them as training rows)."""
    from mlops_core.monitoring import RetrainSplit, _policy_state, decisions_prefix
    from mlops_core.policy import RetrainPolicy, decide

    storage = LocalStorage(tmp_path)
    first = dt.date(2026, 11, 1)
    frames = {}
    for offset in range(10):
        day = first + dt.timedelta(days=offset)
        frames[day.isoformat()] = generate_transactions(day, n_rows=3_000)
        _lake_day(storage, day, frames[day.isoformat()])
    day = first + dt.timedelta(days=9)
    params = TrainParams(
        window_days=10,
        holdout_fraction=0.1,
        holdout_positives=120,
        max_holdout_fraction=0.7,
        embargo_days=1,
    )
    perf = PerformanceThresholds(label_delay_days=1)
    policy = RetrainPolicy(min_new_labelled_rows=3_000, alert_days_required=1)
    since = (first + dt.timedelta(days=5)).isoformat()  # trained through the 6th
    for offset in (6, 7, 8):  # alert since the 7th: three matured post-breach days
        record = {
            "day": (first + dt.timedelta(days=offset)).isoformat(),
            "at": f"{first + dt.timedelta(days=offset)}T00:00:00+00:00",
            "champion_version": "1",
            "decision": {"level": "alert", "retrain": False, "reason": "r"},
        }
        storage.write_bytes(
            decisions_prefix("m") + f"dt={record['day']}.json", json.dumps(record).encode()
        )
    common = dict(policy=policy, window_days=10, holdout_fraction=0.1)
    plain = _policy_state(storage, SCHEMA, "m", day, "alert", since, perf, **common)
    split = RetrainSplit(params)
    pooled = _policy_state(storage, SCHEMA, "m", day, "alert", since, perf, retrain=split, **common)
    assert plain.new_labelled_rows == pooled.new_labelled_rows == 9_000
    assert plain.rows_for_training >= 6_000 and decide(policy, plain).retrain
    # The same window split as training splits it: the new days' rows in its training split.
    window = pd.concat(
        [frame.assign(_partition=part) for part, frame in frames.items()], ignore_index=True
    )
    train, holdout, _ = split_for_gate(
        matured_for_training(window, SCHEMA, day).frame, SCHEMA, params, None
    )
    new = {(first + dt.timedelta(days=o)).isoformat() for o in (6, 7, 8)}
    assert pooled.rows_for_training == int(train["_partition"].isin(new).sum()) < 3_000
    assert pooled.holdout_rows == len(holdout) > plain.holdout_rows
    decision = decide(policy, pooled)
    assert not decision.retrain and "pool of holdout_positives" in decision.reason


def test_retrain_split_on_text_labels_nulls_and_sparse_historical_days(tmp_path) -> None:
    """The loans use case (labels ``default``/``repaid``, null features, March 2025) with a
    third of its window missing: the policy's count is the split training cuts from the days
    that are there."""
    from mlops_core.generators import generate
    from mlops_core.monitoring import RetrainSplit

    spec = load_spec("loans")
    schema, params = spec.dataset, spec.train
    storage = LocalStorage(tmp_path)
    end = dt.date(2025, 3, 20)
    frames = {}
    for offset in range(params.window_days):
        if offset % 3 == 1:
            continue  # sparse: no partition that day
        day = end - dt.timedelta(days=offset)
        frames[day.isoformat()] = frame = generate("loans", day, seed=11, rows=2_000)
        path = storage.path(lake.working_data_key(schema.name, day))
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        marker = lake.working_prefix(schema.name, day) + lake.VALIDATED_MARKER
        storage.write_bytes(marker, json.dumps({"rows": len(frame)}).encode())
    assert any(f.isna().any().any() for f in frames.values())
    assert set(pd.concat(frames.values())[schema.label_column].dropna()) == {"default", "repaid"}
    new = sorted(frames)[-3:]

    holdout_rows, kept = RetrainSplit(params).rows(storage, schema, end, new)

    window = pd.concat([f.assign(_partition=p) for p, f in frames.items()], ignore_index=True)
    train, holdout, _ = split_for_gate(
        matured_for_training(window, schema, end).frame, schema, params, None
    )
    assert (holdout_rows, kept) == (len(holdout), int(train["_partition"].isin(new).sum()))
    assert 0 < kept < sum(len(frames[p]) for p in new)  # the newest rows went to the holdout
