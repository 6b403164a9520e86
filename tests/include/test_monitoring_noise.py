"""Monitoring that knows noise, on a lake: performance per model version against the
version's own baseline, prevalence per day, and the policy's brakes (persistence, daily
budget, cooldown, post-drift rows in the training split), and a moderate drift that holds."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from mlops_core import lake
from mlops_core.drift import ALERT, OK, WARN, DriftReport, FeatureDrift, persistent_drift
from mlops_core.evaluate import classification_metrics
from mlops_core.knobs import PerformanceThresholds, RetrainPolicy
from mlops_core.monitoring import (
    Champion,
    _drift_persistence,
    _policy_state,
    decisions_prefix,
    matured_performance,
    retrains_prefix,
)
from mlops_core.performance import Sample
from mlops_core.policy import PolicyInput, decide
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

SCHEMA = load_schema("fraud")


def _sample(rng: np.random.Generator, rows: int, rate: float, signal: float = 2.0) -> Sample:
    y = (rng.random(rows) < rate).astype(np.int64)
    return Sample(y, y * rng.normal(signal, 1.0, rows) + rng.normal(0.0, 1.0, rows))


# --------------------------------------------------- per-version performance on a lake


def _write_day(
    storage: LocalStorage, day: str, y: np.ndarray, versions: dict[int, np.ndarray]
) -> None:
    """A validated labelled partition and its published scores, rows split among versions."""
    ids = [f"tx-{day}-{i}" for i in range(len(y))]
    with_label = pd.DataFrame({"transaction_id": ids, "is_fraud": y})
    key = lake.working_data_key(SCHEMA.name, day)
    path = storage.root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    with_label.to_parquet(path, index=False)
    storage.write_bytes(
        lake.working_prefix(SCHEMA.name, day) + lake.VALIDATED_MARKER,
        json.dumps({"rows": len(y)}).encode(),
    )
    rows = []
    for version, scores in versions.items():
        rows.append(pd.DataFrame({"score": scores, "model_version": version}))
    scores = pd.concat(rows, ignore_index=True)
    scores.insert(0, "transaction_id", ids)
    prefix = lake.scored_prefix(SCHEMA.name, day)
    out = storage.root / (prefix + "scores.parquet")
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_parquet(out, index=False)
    newest = max(versions)
    storage.write_bytes(prefix + lake.MANIFEST, json.dumps({"model_version": newest}).encode())


def test_only_the_versions_own_scores_count_against_its_own_baseline(tmp_path) -> None:
    """v1 scored days 2..9 well; on the matured window (7..9) half the rows were scored by v2,
    whose scores are noise. Pooled (the old code), the window looks like a collapse; judged
    per version against v1's own baseline (its first matured days), nothing dropped."""
    storage = LocalStorage(tmp_path)
    rng = np.random.default_rng(5)
    for d in range(2, 10):
        sample = _sample(rng, 6_000, 0.02)
        if d >= 7:
            half = 3_000
            noise = rng.random(half)
            _write_day(storage, f"2026-11-{d:02d}", sample.y, {1: sample.scores[:half], 2: noise})
        else:
            _write_day(storage, f"2026-11-{d:02d}", sample.y, {1: sample.scores})
    champion = Champion(version=1, model=None, reference_days=[], trained_through="2026-11-01")
    perf = PerformanceThresholds(label_delay_days=1, window_days=3, baseline_days=3)
    result = matured_performance(storage, SCHEMA, dt.date(2026, 11, 10), perf, champion)

    check = result["performance_check"]
    assert result["performance_level"] == OK, result["performance_reason"]
    assert check["current_rows"] == 9_000 and check["other_version_rows_dropped"] == 9_000
    assert check["baseline"]["days"] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert check["baseline_rows"] == 18_000 and check["baseline_positives"] > 0
    assert all(c["ci_low"] < c["relative_change"] < c["ci_high"] for c in check["changes"])
    assert result["performance"]["model_version"] == 1
    # What pooling both versions would have measured: a drop far beyond alert_drop.
    frames = [
        pd.read_parquet(
            storage.root / (lake.scored_prefix(SCHEMA.name, f"2026-11-{d}") + "scores.parquet")
        )
        for d in ("07", "08", "09")
    ]
    pooled_y = np.concatenate(
        [
            pd.read_parquet(storage.root / lake.working_data_key(SCHEMA.name, f"2026-11-{d}"))[
                "is_fraud"
            ].to_numpy()
            for d in ("07", "08", "09")
        ]
    )
    pooled = classification_metrics(
        pooled_y, pd.concat(frames)["score"].to_numpy(), perf.fpr_target
    )
    assert pooled["pr_auc"] < (1 - perf.alert_drop) * check["baseline"]["pr_auc"]
    # The prevalence of each matured day is tracked with its interval.
    assert [d["day"] for d in result["prevalence"]["days"]] == [
        "2026-11-07",
        "2026-11-08",
        "2026-11-09",
    ]
    assert all(d["ci_low"] <= d["rate"] <= d["ci_high"] for d in result["prevalence"]["days"])


# ------------------------------------------------------------------------------ policy

POLICY = RetrainPolicy(
    cooldown_hours=24,
    cooldown_days=1,
    min_new_labelled_rows=3_000,
    max_retrains_per_day=1,
    alert_days_required=2,
    alert_days_window=3,
)


def _lake_with_partitions(tmp_path, days: range, rows: int = 5_000) -> LocalStorage:
    storage = LocalStorage(tmp_path)
    for day in days:
        key = lake.working_prefix("tx", f"2026-11-{day:02d}") + lake.VALIDATED_MARKER
        storage.write_bytes(key, json.dumps({"rows": rows}).encode())
    return storage


def _decided(storage, day: int, level: str, retrain: bool, version: str = "1", hour=0) -> None:
    at = f"2026-11-{day:02d}T{hour:02d}:00:00+00:00"
    record = {
        "day": f"2026-11-{day:02d}",
        "at": at,
        "champion_version": version,
        "decision": {"level": level, "retrain": retrain, "reason": "r"},
    }
    storage.write_bytes(
        decisions_prefix("m") + f"dt=2026-11-{day:02d}.json", json.dumps(record).encode()
    )
    if retrain:
        storage.write_bytes(
            retrains_prefix("m") + f"at=202611{day:02d}T{hour:02d}.json",
            json.dumps({"at": at, "day": record["day"]}).encode(),
        )


def _state(storage, day: int, level: str = ALERT, hour: int = 0, **kw) -> PolicyInput:
    from types import SimpleNamespace

    return _policy_state(
        storage,
        SimpleNamespace(name="tx"),
        "m",
        dt.date(2026, 11, day),
        level,
        "2026-11-07",
        PerformanceThresholds(label_delay_days=1),
        policy=POLICY,
        champion_version=kw.get("version", 1),
        window_days=7,
        holdout_fraction=0.2,
        at=dt.datetime(2026, 11, day, hour, tzinfo=dt.UTC),
    )


def test_one_noisy_alert_day_never_retrains(tmp_path) -> None:
    storage = _lake_with_partitions(tmp_path, range(8, 16))
    _decided(storage, 12, OK, False)
    _decided(storage, 13, WARN, False)
    state = _state(storage, 14)
    assert state.alert_days == 1
    decision = decide(POLICY, state)
    assert not decision.retrain and "persistence: 1 of the last 3 days" in decision.reason
    # A second alert within the window retrains (k=2 of n=3), the OK day in between or not.
    _decided(storage, 14, ALERT, False)
    _decided(storage, 15, OK, False)
    assert _state(storage, 16).alert_days == 2
    # Alerts of another champion version do not count for this one.
    assert _state(storage, 16, version=2).alert_days == 1


def test_an_earlier_run_of_the_same_day_spends_the_budget(tmp_path) -> None:
    storage = _lake_with_partitions(tmp_path, range(8, 16))
    _decided(storage, 13, ALERT, False)
    _decided(storage, 14, ALERT, True, hour=3)  # the 03:00 run retrained
    later = _state(storage, 14, hour=9)
    assert later.retrains_today == 1
    decision = decide(POLICY, later)
    assert not decision.retrain and "daily budget spent: 1 of 1" in decision.reason
    # A rerun of the 03:00 run itself does not count its own request: it decides the same.
    rerun = _state(storage, 14, hour=3)
    assert rerun.retrains_today == 0 and rerun.last_retrain_at is None


def test_cooldown_binds_on_a_daily_cadence(tmp_path) -> None:
    storage = _lake_with_partitions(tmp_path, range(8, 20))
    _decided(storage, 13, ALERT, False)
    _decided(storage, 14, ALERT, True)
    _decided(storage, 15, ALERT, False)
    next_day = _state(storage, 15)  # exactly 24 h later: cooldown_hours=24 alone would pass
    assert (next_day.at - next_day.last_retrain_at).total_seconds() == 24 * 3600
    decision = decide(POLICY, next_day)
    assert not decision.retrain and "cooldown_days" in decision.reason
    assert decide(POLICY, _state(storage, 16)).retrain  # two days later the brake is off
    hours = decide(
        RetrainPolicy(cooldown_hours=30, cooldown_days=0, min_new_labelled_rows=0),
        PolicyInput(ALERT, next_day.at, next_day.last_retrain_at, 0, 10_000, alert_days=3),
    )
    assert not hours.retrain and "last retrain 24.0 h ago, policy waits 30 h" in hours.reason


def test_post_drift_rows_that_would_sit_in_the_holdout_do_not_count(tmp_path) -> None:
    """Drift from the 13th, 5,000 rows a day, window 7 days (35,000 rows), holdout 20%
    (7,000 rows). On the 14th the only matured drifted day (the 13th) would be split between
    the holdout (2,000 rows, after the 14th's 5,000) and training (3,000); on the 15th two
    drifted days leave 8,000 for training."""
    storage = _lake_with_partitions(tmp_path, range(8, 16))
    _decided(storage, 12, OK, False)
    _decided(storage, 13, ALERT, False)
    state = _state(storage, 14)
    assert (state.window_rows, state.holdout_rows) == (35_000, 7_000)
    assert (state.new_labelled_rows, state.in_holdout, state.rows_for_training) == (
        5_000,
        2_000,
        3_000,
    )
    strict = RetrainPolicy(min_new_labelled_rows=5_000)
    decision = decide(strict, state)
    assert not decision.retrain
    assert "2000 of them would not enter the retrain's training split" in decision.reason
    assert "training.holdout_fraction" in decision.reason
    _decided(storage, 14, ALERT, False)
    later = _state(storage, 15)
    assert later.rows_for_training == 8_000 and decide(strict, later).retrain


def test_the_fraud_spec_sets_the_brakes() -> None:
    from mlops_core.spec import load_spec

    policy = load_spec("fraud").monitoring.policy
    assert (policy.alert_days_required, policy.alert_days_window, policy.cooldown_days) == (2, 3, 1)
    assert policy.min_new_labelled_rows == 3_000


def test_trainings_the_policy_did_not_request_count_toward_cooldown_and_budget(tmp_path) -> None:
    """A cron or landing-triggered training is a retrain as far as the brakes go; one the
    policy requested is already counted through its request."""
    from mlops_core.monitoring import record_training

    storage = _lake_with_partitions(tmp_path, range(8, 20))
    _decided(storage, 13, ALERT, False)
    _decided(storage, 14, ALERT, False)
    assert decide(POLICY, _state(storage, 15)).retrain  # nothing ran since: the policy retrains
    record_training(
        storage,
        "m",
        at=dt.datetime(2026, 11, 15, 2, tzinfo=dt.UTC),
        trigger="scheduled",
        run_id="r1",
    )
    later = _state(storage, 15, hour=6)
    assert later.retrains_today == 1 and later.last_retrain_at.hour == 2
    assert not decide(POLICY, later).retrain
    # Recording the same run again changes nothing (one file per run).
    record_training(
        storage,
        "m",
        at=dt.datetime(2026, 11, 15, 2, tzinfo=dt.UTC),
        trigger="scheduled",
        run_id="r1",
    )
    assert _state(storage, 15, hour=6).retrains_today == 1
    # A training that answered a retrain request is not counted a second time.
    other = LocalStorage(tmp_path / "other")
    record_training(
        other,
        "m",
        at=dt.datetime(2026, 11, 15, 2, tzinfo=dt.UTC),
        trigger="retrain_request",
        run_id="r2",
    )
    assert _state(other, 15, hour=6).retrains_today == 0


# ------------------------------------------------------------- persistent moderate drift


def _drift_report(levels: dict[str, str]) -> DriftReport:
    features = [FeatureDrift(name, "numeric", 0.15, level) for name, level in levels.items()]
    return DriftReport("d", 35_000, 5_000, features, None, {})


def _drifted_on(storage, day: int, features: list[str], version: str = "1") -> None:
    record = {
        "day": f"2026-11-{day:02d}",
        "champion_version": version,
        "drifted_features": features,
    }
    storage.write_bytes(
        decisions_prefix("m") + f"dt=2026-11-{day:02d}.json", json.dumps(record).encode()
    )


def test_a_moderate_drift_that_holds_for_three_days_alerts(tmp_path) -> None:
    """A feature between the warn and alert PSI is a warning; on the third consecutive day of
    the same champion it is an alert (a shift that holds is not noise)."""
    storage = LocalStorage(tmp_path)
    warned = _drift_report({"amount": WARN, "country": OK})
    day = dt.date(2026, 11, 14)
    assert _drift_persistence(storage, "m", day, 1, warned, 3)["features"] == []
    _drifted_on(storage, 13, ["amount"])
    assert _drift_persistence(storage, "m", day, 1, warned, 3)["features"] == []  # two days
    _drifted_on(storage, 12, ["amount", "country"])
    held = _drift_persistence(storage, "m", day, 1, warned, 3)
    assert held["features"] == ["amount"] and "3 consecutive days" in held["reason"]
    # Another champion, a day without the feature, or persistence switched off: no alert.
    assert _drift_persistence(storage, "m", day, 2, warned, 3)["features"] == []
    assert (
        _drift_persistence(storage, "m", day, 1, _drift_report({"amount": OK}), 3)["features"] == []
    )
    assert _drift_persistence(storage, "m", day, 1, warned, 0)["features"] == []
    _drifted_on(storage, 13, ["country"])
    assert _drift_persistence(storage, "m", day, 1, warned, 3)["features"] == []


def test_persistent_drift_table() -> None:
    assert persistent_drift(["a", "b"], [["a"], ["a", "b"]], 3) == ["a"]
    assert persistent_drift(["a"], [["a"], None], 3) == []  # a day missing breaks the run
    assert persistent_drift(["a"], [["a"]], 3) == []  # not enough days yet
    assert persistent_drift(["a"], [["a"], ["a"]], 1) == []  # off
    assert persistent_drift(["a"], [["a"]], 2) == ["a"]
