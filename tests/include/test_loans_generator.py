"""The synthetic loans data: deterministic, landed as naive local-time CSV it passes
extraction and validation with the bundled ``loans`` schema, and both estimators learn it."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from mlops_core import lake, steps
from mlops_core.config import Settings
from mlops_core.generators.loans import TIMEZONE, generate_loans
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage
from mlops_core.train import TrainParams, load_training_set, train_model

SCHEMA = load_schema("loans")
# The second day is the autumn daylight-saving change in New York (1am-2am happens twice).
DAYS = [dt.date(2026, 10, 31), dt.date(2026, 11, 1)]


def _land_csv(storage: LocalStorage, day: dt.date, frame: pd.DataFrame) -> None:
    """Write the day as the producer does: naive local times, text labels, empty nulls."""
    out = frame.copy()
    out["issued_at"] = out["issued_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    prefix = lake.landing_prefix(SCHEMA.name, day)
    storage.write_bytes(prefix + "part-000.csv", out.to_csv(index=False).encode())
    storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")


@pytest.fixture(scope="module")
def landed(tmp_path_factory) -> tuple[LocalStorage, dict[dt.date, pd.DataFrame]]:
    """Two days landed, extracted and validated into a local lake."""
    root = tmp_path_factory.mktemp("loans")
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(root)})
    storage = LocalStorage(settings.storage_url)
    generated = {}
    for day in DAYS:
        generated[day] = generate_loans(day)
        _land_csv(storage, day, generated[day])
        steps.extract(storage, SCHEMA, day, "b1")
        report = steps.validate(
            storage, SCHEMA, day, settings=settings, batch_id="b1", with_label=True
        )
        assert report.success, report.summary()
        assert report.failures == []
    return storage, generated


def test_the_bundled_schema_matches_the_generated_columns() -> None:
    frame = generate_loans(DAYS[0], n_rows=300)
    assert SCHEMA.name == "loan_applications" and SCHEMA.derived_features == ()
    assert set(frame.columns) == set(SCHEMA.required_columns(with_label=True))
    assert SCHEMA.nullable_columns == {"annual_income", "months_since_last_delinquency"}
    assert frame["loan_id"].is_unique


def test_landed_days_validate_with_nulls_and_text_labels(landed) -> None:
    storage, generated = landed
    for day in DAYS:
        working = storage.read_bytes(lake.working_data_key(SCHEMA.name, day))
        frame = pd.read_parquet(io.BytesIO(working))
        assert len(frame) == len(generated[day]) >= SCHEMA.min_rows
        assert frame["annual_income"].isna().mean() > 0.01
        assert 0.45 < frame["months_since_last_delinquency"].isna().mean() < 0.65
        assert set(frame["outcome"]) == {"repaid", "default"}
        # Naive local times were localised from the schema's zone into the UTC day.
        issued = frame["issued_at"]
        assert str(issued.dt.tz) == "UTC"
        start = pd.Timestamp(day, tz="UTC")
        assert issued.between(start, start + pd.Timedelta(days=1), inclusive="left").all()
        expected = generated[day]["issued_at"].dt.tz_localize(TIMEZONE).dt.tz_convert("UTC")
        assert (issued.to_numpy() == expected.to_numpy()).all()


@pytest.mark.parametrize("estimator", ["logistic_regression", "hist_gradient_boosting"])
def test_both_estimators_beat_twice_the_base_rate(landed, estimator: str) -> None:
    storage, _ = landed
    data = load_training_set(storage, SCHEMA, DAYS[-1], window_days=2)
    assert sorted(data.partitions) == [d.isoformat() for d in DAYS]
    metrics = train_model(data.frame, SCHEMA, TrainParams(estimator=estimator)).metrics
    assert 0.06 < metrics["positive_rate"] < 0.14
    assert metrics["pr_auc"] > 2 * metrics["positive_rate"], metrics


def test_default_rate_and_risk_patterns() -> None:
    frame = pd.concat([generate_loans(d, n_rows=5_000) for d in DAYS], ignore_index=True)
    default = frame["outcome"] == "default"
    assert 0.08 < default.mean() < 0.12
    by_grade = default.groupby(frame["grade"]).mean()
    assert by_grade["G"] > 5 * by_grade["A"]
    assert default[frame["term_months"] == 60].mean() > default[frame["term_months"] == 36].mean()
    # The issue hour carries no signal.
    hour_rates = default.groupby(frame["issued_at"].dt.hour // 6).mean()
    assert hour_rates.max() - hour_rates.min() < 0.03


def test_deterministic_per_seed_and_day() -> None:
    pd.testing.assert_frame_equal(generate_loans(DAYS[0]), generate_loans(DAYS[0]))
    other_day = generate_loans(DAYS[1])
    assert not other_day["loan_amount"].equals(generate_loans(DAYS[0])["loan_amount"])
    assert other_day["loan_id"].iloc[0] == "L20261101-000000"
    assert not generate_loans(DAYS[0], seed=12)["loan_amount"].equals(
        generate_loans(DAYS[0])["loan_amount"]
    )


def test_drift_lowers_income_raises_dti_and_moves_the_purpose_mix() -> None:
    base = generate_loans(DAYS[0], n_rows=10_000)
    drifted = generate_loans(DAYS[0], n_rows=10_000, drift=1.0)
    assert drifted["annual_income"].median() < 0.85 * base["annual_income"].median()
    assert drifted["debt_to_income"].mean() > base["debt_to_income"].mean() + 3
    share = "small_business"
    assert (drifted["purpose"] == share).mean() > (base["purpose"] == share).mean() + 0.1
