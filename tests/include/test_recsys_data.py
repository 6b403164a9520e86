"""Interactions: generator, ratings-file loader, landing, and the GX suite's bad inputs."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from mlops_core import lake, steps
from mlops_core.config import Settings
from mlops_core.errors import CorruptInputError, DataValidationError
from mlops_core.recsys import steps as rec_steps
from mlops_core.recsys.data import generate_interactions, land_interactions, read_ratings_file
from mlops_core.schema import load_schema
from mlops_core.storage import LocalStorage

DAY = dt.date(2026, 11, 5)
SCHEMA = load_schema("recommender")


@pytest.fixture
def env(tmp_path, validated_elsewhere):
    """A local lake that also holds another dataset's validated day (checked byte for byte
    after the test)."""
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path)})
    storage = LocalStorage(settings.storage_url)
    validated_elsewhere(storage)
    return settings, storage


def test_generator_is_deterministic_per_seed_and_day_and_realistic():
    a = generate_interactions(DAY, sessions=800)
    assert a.equals(generate_interactions(DAY, sessions=800))
    assert not a.equals(generate_interactions(DAY + dt.timedelta(days=1), sessions=800))
    assert not a.equals(generate_interactions(DAY, seed=12, sessions=800))
    assert not a.duplicated(["user_id", "item_id", "timestamp"]).any()
    assert (a["timestamp"].dt.date == DAY).all()
    counts = a["item_id"].value_counts().to_numpy()
    # Power law: the top 5% of items take far more than 5% of the interactions.
    top = counts[: max(1, len(counts) // 20)].sum() / counts.sum()
    assert top > 0.25, top
    # Sessions: users come back with several events.
    assert a.groupby("user_id").size().mean() > 3
    assert set(a["rating"].unique()) <= {1.0, 3.0, 5.0}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("1::10::5::978300760\n1::11::3.5::978300761\n2::10::4::978300762\n", "ratings.dat"),
        ("1\t10\t5\t978300760\n1\t11\t3.5\t978300761\n2\t10\t4\t978300762\n", "u.data"),
        (
            "userId,movieId,rating,timestamp\n1,10,5.0,978300760\n1,11,3.5,978300761\n"
            "2,10,4.0,978300762\n",
            "ratings.csv",
        ),
        ("1 10 5 978300760000\n1 11 3.5 978300761000\n2 10 4 978300762000\n", "ms.txt"),
        (
            "item;user;score;time\n10;1;5;2001-01-01T10:12:40Z\n11;1;3.5;2001-01-01T10:12:41Z\n"
            "10;2;4;2001-01-01T10:12:42Z\n",
            "iso.csv",
        ),
    ],
)
def test_ratings_loader_layouts(tmp_path, text, name):
    path = tmp_path / name
    path.write_text(text)
    frame = read_ratings_file(path)
    assert list(frame.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert frame["user_id"].tolist() == ["1", "1", "2"]
    assert frame["item_id"].tolist() == ["10", "11", "10"]
    assert frame["rating"].tolist() == [5.0, 3.5, 4.0]
    assert frame["timestamp"].dt.tz is not None
    assert frame["timestamp"].dt.date.nunique() == 1


def test_ratings_loader_names_the_missing_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("user,item,stars\n1,2,x\n")
    with pytest.raises(CorruptInputError, match="timestamp"):
        read_ratings_file(path)


def test_land_interactions_splits_by_day_and_refuses_unplaceable_rows(env):
    _, storage = env
    frame = pd.concat(
        [
            generate_interactions(DAY, sessions=50),
            generate_interactions(DAY + dt.timedelta(1), sessions=50),
        ]
    )
    days = land_interactions(storage, SCHEMA, frame)
    assert days == [DAY.isoformat(), (DAY + dt.timedelta(1)).isoformat()]
    for day in days:
        assert storage.exists(lake.landing_prefix(SCHEMA.name, day) + lake.SUCCESS_MARKER)
    bad = frame.head(3).copy()
    bad["timestamp"] = pd.NaT
    with pytest.raises(CorruptInputError, match="3 interactions have no parseable timestamp"):
        land_interactions(storage, SCHEMA, bad)


def test_loaded_ratings_run_through_extract_and_validate(env, tmp_path):
    settings, storage = env
    rng = np.random.default_rng(0)
    lines = [
        f"{u}::{i}::{rng.integers(1, 6)}::{1762300800 + n}"  # 2025-11-05 UTC
        for n, (u, i) in enumerate(zip(rng.integers(1, 60, 400), rng.integers(1, 90, 400)))
    ]
    path = tmp_path / "ratings.dat"
    path.write_text("\n".join(lines) + "\n")
    frame = read_ratings_file(path).drop_duplicates(["user_id", "item_id", "timestamp"])
    (day,) = land_interactions(storage, SCHEMA, frame)
    steps.extract(storage, SCHEMA, dt.date.fromisoformat(day), "b1")
    report = steps.validate(
        storage,
        SCHEMA,
        dt.date.fromisoformat(day),
        settings=settings,
        batch_id="b1",
        with_label=True,
    )
    assert report.success and report.rows == len(frame)


def _bad(mutate) -> pd.DataFrame:
    frame = generate_interactions(DAY, sessions=300)
    mutate(frame)
    return frame


def _duplicate(frame: pd.DataFrame) -> None:
    frame.loc[frame.index[5], ["user_id", "item_id", "timestamp"]] = frame.loc[
        frame.index[4], ["user_id", "item_id", "timestamp"]
    ].to_numpy()


BAD_INPUTS = {
    "null_user": (
        lambda f: f.__setitem__("user_id", f["user_id"].where(f.index != 3, None)),
        "expect_column_values_to_not_be_null",
        "user_id",
    ),
    "rating_out_of_range": (
        lambda f: f.__setitem__("rating", f["rating"].where(f.index != 8, 9.0)),
        "expect_column_values_to_be_between",
        "rating",
    ),
    "duplicate_event": (_duplicate, "expect_compound_columns_to_be_unique", None),
    "timestamp_outside_partition": (
        lambda f: f.__setitem__(
            "timestamp", f["timestamp"].where(f.index != 2, f["timestamp"] - pd.Timedelta(days=2))
        ),
        "expect_column_values_to_be_between",
        "timestamp",
    ),
}


@pytest.mark.bad_input
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_interactions_fail_validation_and_are_quarantined(env, case):
    settings, storage = env
    mutate, expectation, column = BAD_INPUTS[case]
    frame = _bad(mutate)
    _land_one_day(storage, frame)
    steps.extract(storage, SCHEMA, DAY, "run1__try1")
    with pytest.raises(DataValidationError) as info:
        steps.validate(
            storage, SCHEMA, DAY, settings=settings, batch_id="run1__try1", with_label=True
        )
    message = str(info.value)
    assert expectation in message
    if column:
        assert f"column '{column}'" in message
    assert "row {" in message  # offending rows are shown
    where = info.value.quarantine_path
    assert where and "quarantine/interactions/dt=2026-11-05/run1__try1" in where
    q = lake.quarantine_prefix(SCHEMA.name, DAY, "run1__try1")
    report = json.loads(storage.read_bytes(q + "validation.json"))
    assert any(f["expectation"] == expectation for f in report["failures"])
    assert not storage.list(lake.working_prefix(SCHEMA.name, DAY))


def _land_one_day(storage, frame: pd.DataFrame) -> None:
    """Land ``frame`` as one partition of DAY, whatever its timestamps say."""
    import io

    prefix = lake.landing_prefix(SCHEMA.name, DAY)
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    storage.write_bytes(prefix + "part-000.parquet", buf.getvalue())
    storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")


def _few_users_day(storage) -> None:
    frame = generate_interactions(DAY, sessions=300)
    frame = frame[frame["user_id"].isin(frame["user_id"].unique()[:5])]
    _land_one_day(storage, frame.drop_duplicates(["user_id", "item_id", "timestamp"]))
    steps.extract(storage, SCHEMA, DAY, "b")


@pytest.mark.bad_input
def test_too_few_users_names_the_distinct_count(env):
    """With a critical partition minimum the day is rejected, naming the count."""
    settings, storage = env
    critical = dataclasses.replace(
        SCHEMA,
        partition_minimums=dataclasses.replace(SCHEMA.partition_minimum, severity="critical"),
    )
    _few_users_day(storage)
    with pytest.raises(DataValidationError, match="expect_column_unique_value_count") as info:
        steps.validate(storage, critical, DAY, settings=settings, batch_id="b", with_label=True)
    assert "observed 5 distinct values, need >= 20" in str(info.value)


def test_a_sparse_day_is_kept_with_a_warning_by_the_bundled_recommender(env):
    """Real interaction data has quiet days: the bundled spec's partition minimums warn
    (counts in the report) instead of quarantining the day; the window minimums guard
    training."""
    settings, storage = env
    assert SCHEMA.partition_minimum.severity == "warning"
    assert SCHEMA.window_minimums is not None and SCHEMA.window_minimums.severity == "critical"
    _few_users_day(storage)
    report = steps.validate(storage, SCHEMA, DAY, settings=settings, batch_id="b", with_label=True)
    assert report.success
    assert any("observed 5 distinct values" in w.describe() for w in report.warnings)


def test_sample_landing_step_lands_a_validatable_day(env):
    settings, storage = env
    result = rec_steps.land_sample_partition(storage, SCHEMA, DAY, sessions=300)
    assert result["rows"] > 300
    steps.extract(storage, SCHEMA, DAY, "b")
    assert steps.validate(
        storage, SCHEMA, DAY, settings=settings, batch_id="b", with_label=False
    ).success


def test_ratings_loader_strips_type_suffixes_from_header_names(tmp_path):
    # Atomic files of public recommender benchmarks: ``name:type`` header, tab-separated.
    path = tmp_path / "ml-100k.inter"
    path.write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n"
    )
    frame = read_ratings_file(path)
    assert frame["user_id"].tolist() == ["196", "186", "22"]
    assert frame["item_id"].tolist() == ["242", "302", "377"]
    assert frame["rating"].tolist() == [3.0, 3.0, 1.0]
    assert frame["timestamp"].iloc[0] == pd.Timestamp(881250949, unit="s", tz="UTC")


def test_ratings_loader_refuses_unknown_typed_header(tmp_path):
    path = tmp_path / "other.inter"
    path.write_text("session:token\tproduct:token\tprice:float\tcount:float\n1\t2\t3.5\t4\n")
    with pytest.raises(CorruptInputError, match=r"no column for \['user_id'"):
        read_ratings_file(path)


def test_land_ratings_script_lands_a_typed_header_file(tmp_path, monkeypatch):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "scripts" / "land_ratings.py"
    spec = importlib.util.spec_from_file_location("land_ratings", script)
    land_ratings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(land_ratings)
    path = tmp_path / "ratings.inter"
    path.write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
    )
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("MLOPS_STORAGE_URL", raising=False)
    assert land_ratings.main([str(path)]) == 0
    settings = Settings.from_env({"MLOPS_DATA_ROOT": str(tmp_path / "lake")})
    storage = LocalStorage(settings.storage_url)
    day = pd.Timestamp(881250949, unit="s", tz="UTC").date()
    assert storage.exists(lake.landing_prefix(SCHEMA.name, day) + lake.SUCCESS_MARKER)
