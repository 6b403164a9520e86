"""Dataset schema files are validated on load: every bad schema class is refused with a
SchemaError naming the file, the key path and the problem, before any data is touched."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_core.errors import SchemaError
from mlops_core.schema import (
    CategoricalColumn,
    DatasetSchema,
    NumericColumn,
    load_schema,
)
from mlops_core.spec import load_spec

pytestmark = pytest.mark.bad_input

# A user's own schema: string labels, a timestamp column not named "timestamp", a time zone,
# nullable columns and categorical normalisation options.
USER_SCHEMA: dict[str, Any] = {
    "name": "card_payments",
    "id_column": "payment_id",
    "timestamp_column": "event_time",
    "timestamp_timezone": "Europe/Berlin",
    "label_column": "outcome",
    "label_values": ["legit", "fraud"],
    "positive_label": "fraud",
    "numeric": [
        {"name": "amount", "min": 0, "max": 50000},
        {"name": "age_days", "min": 0, "max": 40000, "nullable": True},
    ],
    "categorical": [
        "country",
        {"name": "channel", "normalize": "lower", "strip": True},
        {"name": "device", "nullable": True, "normalize": "upper"},
    ],
    "passthrough": ["customer_id"],
    "min_rows": 10,
    "max_unseen_share": 0.1,
}
# The recommender spec's dataset section, as its JSON form.
INTERACTIONS = {
    k: v for k, v in load_spec("recommender").raw["dataset"].items() if k != "rating_column"
} | {"kind": "interactions"}

Edit = Callable[[dict[str, Any]], None]


def _set(key: str, value: Any) -> Edit:
    return lambda s: s.__setitem__(key, value)


def _drop(key: str) -> Edit:
    return lambda s: s.pop(key)


def _numeric(i: int, key: str, value: Any) -> Edit:
    return lambda s: s["numeric"][i].__setitem__(key, value)


def _categorical(i: int, value: Any) -> Edit:
    return lambda s: s["categorical"].__setitem__(i, value)


# (case id, base schema, edit, key path expected in the message, word of the problem)
# fmt: off
BAD_SCHEMAS: list[tuple[str, dict[str, Any], Edit, str, str]] = [
    ("unknown-top-level-key", USER_SCHEMA, _set("lable_column", "x"), "lable_column", "allowed keys"),
    ("unknown-numeric-key", USER_SCHEMA, _numeric(1, "maximum", 9), "numeric[1].maximum", "unknown key"),
    ("unknown-categorical-key", USER_SCHEMA, _categorical(2, {"name": "device", "lower": True}), "categorical[2].lower", "unknown key"),
    ("missing-name", USER_SCHEMA, _drop("name"), "name", "missing"),
    ("missing-timestamp-column", USER_SCHEMA, _drop("timestamp_column"), "timestamp_column", "missing"),
    ("numeric-entry-without-name", USER_SCHEMA, _set("numeric", [{"min": 0}]), "numeric[0].name", "missing"),
    ("min-rows-as-string", USER_SCHEMA, _set("min_rows", "100"), "min_rows", "integer"),
    ("min-rows-negative", USER_SCHEMA, _set("min_rows", -1), "min_rows", ">= 0"),
    ("nullable-as-string", USER_SCHEMA, _numeric(0, "nullable", "yes"), "numeric[0].nullable", "true or false"),
    ("strip-as-number", USER_SCHEMA, _categorical(1, {"name": "channel", "strip": 1}), "categorical[1].strip", "true or false"),
    ("numeric-not-a-list", USER_SCHEMA, _set("numeric", {"amount": {"min": 0}}), "numeric", "list"),
    ("numeric-bound-as-string", USER_SCHEMA, _numeric(0, "max", "50000"), "numeric[0].max", "number"),
    ("numeric-bound-nan", USER_SCHEMA, _numeric(0, "min", float("nan")), "numeric[0].min", "finite"),
    ("categorical-entry-not-name-or-object", USER_SCHEMA, _categorical(0, 7), "categorical[0]", "expected a name"),
    ("label-values-empty", USER_SCHEMA, _set("label_values", []), "label_values", "non-empty"),
    ("label-values-booleans", USER_SCHEMA, _set("label_values", [False, True]), "label_values[0]", "boolean"),
    ("label-values-duplicate", USER_SCHEMA, _set("label_values", ["fraud", "fraud"]), "label_values", "duplicate"),
    ("label-values-mixed-types", USER_SCHEMA, _set("label_values", [0, "fraud"]), "label_values", "mixes"),
    ("max-unseen-share-above-one", USER_SCHEMA, _set("max_unseen_share", 1.5), "max_unseen_share", "[0, 1]"),
    ("dataset-name-path-traversal", USER_SCHEMA, _set("name", "../escape"), "name", "invalid name"),
    ("column-name-with-slash", USER_SCHEMA, _set("passthrough", ["a/b"]), "passthrough[0]", "invalid name"),
    ("column-name-with-space", USER_SCHEMA, _categorical(0, "home country"), "categorical[0]", "invalid name"),
    ("column-named-twice", USER_SCHEMA, _categorical(0, "amount"), "categorical[0]", "declared twice"),
    ("label-leakage", USER_SCHEMA, _numeric(1, "name", "outcome"), "numeric[1].name", "label leakage"),
    ("label-in-passthrough", USER_SCHEMA, _set("passthrough", ["outcome"]), "passthrough[0]", "the label column at label_column"),
    ("id-column-as-feature", USER_SCHEMA, _categorical(0, "payment_id"), "categorical[0]", "the id column"),
    ("timestamp-column-as-feature", USER_SCHEMA, _numeric(0, "name", "event_time"), "numeric[0].name", "the timestamp column"),
    ("min-greater-than-max", USER_SCHEMA, _numeric(1, "min", 50000), "numeric[1].min", "greater than max"),
    ("unknown-kind", USER_SCHEMA, _set("kind", "event"), "kind", "unknown kind"),
    ("normalize-mode-unknown", USER_SCHEMA, _categorical(2, {"name": "device", "normalize": "title"}), "categorical[2].normalize", "normalize mode"),
    ("timezone-unknown", USER_SCHEMA, _set("timestamp_timezone", "Mars/Olympus_Mons"), "timestamp_timezone", "time zone"),
    ("timezone-path-traversal", USER_SCHEMA, _set("timestamp_timezone", "../../etc/passwd"), "timestamp_timezone", "time zone"),
    ("interactions-without-user-column", INTERACTIONS, _drop("user_column"), "user_column", "required for kind 'interactions'"),
    ("interactions-item-column-undeclared", INTERACTIONS, _set("item_column", "movie_id"), "item_column", "not a declared column"),
    ("unique-together-undeclared", INTERACTIONS, _set("unique_together", ["user_id", "ts"]), "unique_together[1]", "not a declared column"),
    ("min-distinct-undeclared", INTERACTIONS, _set("min_distinct", {"movie_id": 20}), "min_distinct.movie_id", "not a declared column"),
    ("min-distinct-zero", INTERACTIONS, _set("min_distinct", {"user_id": 0}), "min_distinct.user_id", ">= 1"),
    ("min-distinct-not-object", INTERACTIONS, _set("min_distinct", ["user_id"]), "min_distinct", "object"),
]
# fmt: on


def _write(path: Path, schema: Any) -> Path:
    path.write_text(json.dumps(schema, indent=2))
    return path


@pytest.mark.parametrize(
    ("base", "edit", "key_path", "problem"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_SCHEMAS],
)
def test_bad_schema_is_refused_naming_file_key_and_problem(
    tmp_path: Path, base: dict[str, Any], edit: Edit, key_path: str, problem: str
) -> None:
    schema = copy.deepcopy(base)
    edit(schema)
    path = _write(tmp_path / "bad.json", schema)

    with pytest.raises(SchemaError) as err:
        load_schema(path)

    message = str(err.value)
    assert str(path) in message
    assert f"  {key_path}: " in message, message
    assert problem in message, message
    assert err.value.runbook == "schema-invalid"


def test_malformed_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "name": "card_payments",\n  "timestamp_column": \n}\n')

    with pytest.raises(SchemaError) as err:
        load_schema(path)

    message = str(err.value)
    assert str(path) in message and "malformed JSON" in message
    assert "line 4, column 1" in message, message


def test_top_level_not_an_object_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "list.json", [USER_SCHEMA])

    with pytest.raises(SchemaError, match=r"\(top level\): expected a JSON object, got list"):
        load_schema(path)


def test_key_given_twice_in_json_is_refused(tmp_path: Path) -> None:
    """json keeps only the last of two equal keys; a second label_column must not win silently."""
    text = json.dumps(USER_SCHEMA)[:-1] + ', "label_column": "amount"}'
    path = tmp_path / "twice.json"
    path.write_text(text)

    with pytest.raises(SchemaError, match=r"  label_column: key given more than once"):
        load_schema(path)


def test_every_problem_is_reported_together_one_per_line(tmp_path: Path) -> None:
    schema = copy.deepcopy(USER_SCHEMA)
    schema["min_rows"] = "100"
    schema["numeric"][1]["min"] = 50000
    schema["numeric"].append({"name": "outcome"})
    schema["categorical"][2]["normalize"] = "title"
    schema["colour"] = "blue"
    path = _write(tmp_path / "many.json", schema)

    with pytest.raises(SchemaError) as err:
        load_schema(path)

    header, *lines = str(err.value).splitlines()
    assert str(path) in header and "(5 problems)" in header
    paths = sorted(line.strip().split(": ", 1)[0] for line in lines)
    assert paths == [
        "categorical[2].normalize",
        "colour",
        "min_rows",
        "numeric[1].min",
        "numeric[2].name",
    ]


def test_dict_problems_name_dict_as_source() -> None:
    with pytest.raises(SchemaError, match=r"invalid dataset schema <dict> .*\n  min_rows: "):
        DatasetSchema.from_dict({**USER_SCHEMA, "min_rows": True})


@pytest.mark.parametrize("name", ["fraud", "recommender", "loans"])
def test_bundled_schemas_load(name: str) -> None:
    schema = load_schema(name)

    kinds = {"fraud": "events", "recommender": "interactions", "loans": "events"}
    assert schema.kind == kinds[name]
    assert DatasetSchema.from_dict(schema.to_dict()) == schema


def test_valid_user_schema_loads(tmp_path: Path) -> None:
    schema = load_schema(_write(tmp_path / "card_payments.json", USER_SCHEMA))

    assert schema.name == "card_payments"
    assert schema.label_values == ("legit", "fraud")
    assert schema.timestamp_column == "event_time"
    assert schema.timestamp_timezone == "Europe/Berlin"
    assert schema.nullable_columns == {"age_days", "device"}
    assert schema.categoricals == (
        CategoricalColumn("country"),
        CategoricalColumn("channel", normalize="lower", strip=True),
        CategoricalColumn("device", nullable=True, normalize="upper"),
    )
    assert schema.numeric[1] == NumericColumn("age_days", min=0, max=40000, nullable=True)


def test_direct_construction_is_not_validated() -> None:
    """Tests and code build schemas in Python; validation guards files and dicts only."""
    schema = DatasetSchema(name="t", id_column=None, timestamp_column="ts", label_column=None)

    assert schema.required_columns(with_label=True) == ["ts"]


@pytest.mark.parametrize(
    ("name_or_path", "expected"),
    [
        ("../escape", "neither a spec name"),
        ("../../include/specs/fraud", "neither a spec name"),
        ("frauds", "no spec named 'frauds'"),
        ("missing/fraud.json", "no schema file 'missing/fraud.json'"),
    ],
)
def test_load_schema_refuses_unknown_names_and_missing_files(
    name_or_path: str, expected: str
) -> None:
    with pytest.raises(SchemaError, match=re.escape(expected)):
        load_schema(name_or_path)


def test_schema_error_comes_before_any_lake_access(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schema named ``../escape`` would move landing/working zones outside the dataset's
    folder; it is refused while loading, so nothing under the lake root is created."""
    lake = tmp_path / "lake"
    lake.mkdir()
    monkeypatch.setenv("MLOPS_DATA_ROOT", str(lake))
    monkeypatch.chdir(lake)
    schema_file = _write(tmp_path / "escape.json", {**USER_SCHEMA, "name": "../escape"})

    with pytest.raises(SchemaError, match=r"  name: invalid name '\.\./escape'"):
        load_schema(schema_file)
    with pytest.raises(SchemaError, match="neither a spec name"):
        load_schema("../escape")

    assert sorted(tmp_path.rglob("*")) == [schema_file, lake]
