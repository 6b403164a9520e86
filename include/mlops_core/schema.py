"""Dataset schemas are configuration: a JSON file names the id, timestamp, label and feature
columns, so the pipelines run on a user's own transactions file without code changes."""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlops_core.errors import SchemaError

NORMALIZE_MODES = ("none", "lower", "upper")
# Features derived from the event timestamp, opt-in per dataset (``derived_features``).
TIME_FEATURES = ("hour", "is_night", "is_weekend")
KINDS = ("events", "interactions")
# Dataset and column names become lake folders and SQL-ish identifiers: no separators, no dots.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
TOP_LEVEL_KEYS = (
    "name",
    "kind",
    "id_column",
    "timestamp_column",
    "timestamp_timezone",
    "label_column",
    "label_time_column",
    "label_values",
    "positive_label",
    "derived_features",
    "numeric",
    "categorical",
    "categoricals",
    "passthrough",
    "min_rows",
    "unique_together",
    "min_distinct",
    "user_column",
    "item_column",
    "rating_column",
    "max_unseen_share",
    "minimums",
    "extra",
)
REQUIRED_KEYS = ("name", "timestamp_column")
NUMERIC_KEYS = ("name", "min", "max", "nullable")
CATEGORICAL_KEYS = ("name", "nullable", "normalize", "strip")
MINIMUM_LEVELS = ("partition", "window")
MINIMUM_KEYS = ("rows", "distinct", "positives", "severity")
SEVERITIES = ("critical", "warning")


@dataclass(frozen=True)
class Minimums:
    """How much data a partition (or a training window) must hold. ``severity``: a critical
    shortfall fails (validation or training), a warning is logged with the counts and the data
    is used. ``positives`` (window only) counts positive labels."""

    rows: int = 0
    distinct: dict[str, int] = field(default_factory=dict)
    positives: int = 0
    severity: str = "critical"

    def shortfalls(self, rows: int, distinct: dict[str, int], positives: int | None) -> list[str]:
        """What is missing, one line per minimum not met; empty when all are met."""
        found = []
        if rows < self.rows:
            found.append(f"{rows} rows, {self.rows} needed")
        for column, fewest in sorted(self.distinct.items()):
            if distinct.get(column, 0) < fewest:
                found.append(f"{distinct.get(column, 0)} distinct {column}, {fewest} needed")
        if positives is not None and positives < self.positives:
            found.append(f"{positives} positive labels, {self.positives} needed")
        return found


@dataclass(frozen=True)
class NumericColumn:
    """A numeric feature with its allowed range; ``nullable`` allows missing values."""

    name: str
    min: float | None = None
    max: float | None = None
    nullable: bool = False


@dataclass(frozen=True)
class CategoricalColumn:
    """A categorical feature.

    Attributes:
        name: column name.
        nullable: missing values (and whitespace-only strings) are allowed.
        normalize: ``none`` keeps values as delivered; ``lower`` / ``upper`` case-fold them at
            extraction (counted and logged). Never applied unless the schema says so.
        strip: strip leading/trailing whitespace at extraction (counted and logged).
    """

    name: str
    nullable: bool = False
    normalize: str = "none"
    strip: bool = False


@dataclass(frozen=True)
class DatasetSchema:
    """Columns of a labelled event table.

    Attributes:
        name: dataset name; also the lake folder (``landing/<name>/dt=YYYY-MM-DD/``).
        id_column: unique event id.
        timestamp_column: event time; every row must fall inside its partition's day (UTC).
        label_column: binary target; optional when scoring.
        label_time_column: when each row's label became final (UTC timestamp, at or after
            the event); training, gates and monitoring use only labels available by the end
            of the run's day. None: labels arrive with the data.
        label_values: allowed label values.
        numeric: numeric feature columns with allowed ranges.
        categoricals: categorical feature columns with their normalisation; values never seen
            in training are reported, and more than ``max_unseen_share`` of them fails
            validation.
        timestamp_timezone: IANA zone of naive timestamps; None refuses naive timestamps.
        max_unseen_share: largest share of a categorical column's values that may be unseen
            in training before validation fails.
        passthrough: other required columns, copied to outputs (e.g. customer id).
        min_rows: a partition with fewer rows fails validation.
        kind: ``events`` (labelled events, e.g. fraud) or ``interactions`` (user-item
            feedback for the recommender); operators pick the matching training, gate and
            scoring steps from it.
        unique_together: columns whose combination must be unique (e.g. user, item, time).
        min_distinct: column -> fewest distinct values a partition must have.
        user_column, item_column: the user and item ids of an interactions dataset.
        rating_column: the interaction strength of an interactions dataset (a numeric
            column); None counts every interaction as 1.
    """

    name: str
    id_column: str | None
    timestamp_column: str
    label_column: str | None
    label_time_column: str | None = None
    label_values: tuple[int | str, ...] = (0, 1)
    positive_label: int | str | None = None
    derived_features: tuple[str, ...] = ()
    numeric: tuple[NumericColumn, ...] = ()
    categoricals: tuple[CategoricalColumn, ...] = ()
    passthrough: tuple[str, ...] = ()
    min_rows: int = 1
    kind: str = "events"
    unique_together: tuple[str, ...] = ()
    min_distinct: dict[str, int] = field(default_factory=dict)
    user_column: str | None = None
    item_column: str | None = None
    rating_column: str | None = None
    timestamp_timezone: str | None = None
    max_unseen_share: float = 0.05
    partition_minimums: Minimums | None = None
    window_minimums: Minimums | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def partition_minimum(self) -> Minimums:
        """Per-partition minimums: the ``minimums.partition`` section, else ``min_rows`` and
        ``min_distinct`` (both critical)."""
        return self.partition_minimums or Minimums(
            rows=self.min_rows, distinct=dict(self.min_distinct)
        )

    @property
    def categorical(self) -> tuple[str, ...]:
        """Names of the categorical feature columns."""
        return tuple(c.name for c in self.categoricals)

    @property
    def nullable_columns(self) -> set[str]:
        return {c.name for c in (*self.numeric, *self.categoricals) if c.nullable}

    @property
    def feature_columns(self) -> list[str]:
        return [c.name for c in self.numeric] + list(self.categorical)

    @property
    def model_input_columns(self) -> list[str]:
        """Columns the fitted pipeline reads (the timestamp only when features derive from
        it)."""
        derived = [self.timestamp_column] if self.derived_features else []
        return [*derived, *self.feature_columns]

    @property
    def positive(self) -> int | str:
        """The label value of the positive class: ``positive_label``, else 1."""
        return 1 if self.positive_label is None else self.positive_label

    def target(self, labels: Any):
        """Labels as a 0/1 array: 1 where the label equals the positive class."""
        import numpy as np

        return (np.asarray(labels, dtype=object) == self.positive).astype(np.int64)

    def required_columns(self, *, with_label: bool) -> list[str]:
        cols = [self.timestamp_column, *self.passthrough, *self.feature_columns]
        if self.id_column:
            cols.insert(0, self.id_column)
        if with_label and self.label_column:
            cols.append(self.label_column)
            if self.label_time_column:
                cols.append(self.label_time_column)
        return cols

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["numeric"] = [asdict(c) for c in self.numeric]
        data["categoricals"] = [asdict(c) for c in self.categoricals]
        minimums = {
            level: data.pop(f"{level}_minimums")
            for level in MINIMUM_LEVELS
            if data.get(f"{level}_minimums") is not None
        }
        for level in MINIMUM_LEVELS:
            data.pop(f"{level}_minimums", None)
        if minimums:
            data["minimums"] = minimums
        return data

    def fingerprint(self) -> str:
        payload = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> DatasetSchema:
        """Build a schema from its JSON form after :func:`validate_schema_dict` accepts it.

        Raises:
            SchemaError: every problem found, one per line, naming ``source``.
        """
        validate_schema_dict(data, source=source)
        data = dict(data)
        minimums = data.pop("minimums", None) or {}
        for level in MINIMUM_LEVELS:
            if level in minimums:
                data[f"{level}_minimums"] = Minimums(**minimums[level])
        numeric = tuple(NumericColumn(**c) for c in data.pop("numeric", []))
        categoricals = tuple(
            CategoricalColumn(name=c) if isinstance(c, str) else CategoricalColumn(**c)
            for c in [*data.pop("categorical", ()), *data.pop("categoricals", ())]
        )
        return cls(
            numeric=numeric,
            categoricals=categoricals,
            label_values=tuple(data.pop("label_values", (0, 1))),
            derived_features=tuple(data.pop("derived_features", ())),
            passthrough=tuple(data.pop("passthrough", ())),
            unique_together=tuple(data.pop("unique_together", ())),
            **data,
        )


def validate_schema_dict(data: Any, *, source: str = "<dict>") -> None:
    """Refuse a schema's JSON form unless it is complete and consistent.

    Args:
        data: the parsed JSON document.
        source: the file it came from (``<dict>`` when built in code), named in the message.

    Raises:
        SchemaError: listing every problem as ``key.path: problem``, one per line.
    """
    problems = schema_problems(data)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        lines = "\n".join(f"  {problem}" for problem in problems)
        raise SchemaError(f"invalid dataset schema {source} ({count}):\n{lines}")


def schema_problems(data: Any) -> list[str]:
    """Every problem in a schema's JSON form as ``key.path: problem``; empty when valid."""
    if not isinstance(data, dict):
        return [f"(top level): expected a JSON object, got {type(data).__name__}"]
    check = _SchemaCheck()
    check.keys(data, "", TOP_LEVEL_KEYS, REQUIRED_KEYS)
    check.declarations(data)
    check.options(data)
    check.references(data)
    return check.problems


class _SchemaCheck:
    """Collects problems; each method checks one part of the schema and never raises."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.declared: list[tuple[str, str, str]] = []  # (column, key path, role)
        self.declarations_complete = True

    def add(self, path: str, problem: str) -> None:
        self.problems.append(f"{path}: {problem}")

    def keys(
        self, obj: dict[str, Any], prefix: str, allowed: tuple[str, ...], required: tuple[str, ...]
    ) -> None:
        for key in getattr(obj, "duplicate_keys", ()):
            self.add(f"{prefix}{key}", "key given more than once (JSON keeps only the last one)")
        for key in obj:
            if key not in allowed:
                self.add(f"{prefix}{key}", f"unknown key; allowed keys: {', '.join(allowed)}")
        for key in required:
            if key not in obj:
                self.add(f"{prefix}{key}", "required key is missing")

    def name(self, value: Any, path: str) -> bool:
        if not isinstance(value, str):
            self.add(path, f"expected a name (string), got {_describe(value)}")
            return False
        if not NAME_PATTERN.fullmatch(value):
            self.add(
                path,
                f"invalid name {value!r}: only letters, digits, '_' and '-' are allowed "
                "(names become lake folders and column references)",
            )
            return False
        return True

    def string_list(self, data: dict[str, Any], key: str) -> list[tuple[str, str]]:
        """The valid names of a list of names, with their key paths."""
        value = data.get(key, [])
        if not isinstance(value, list | tuple):
            self.add(key, f"expected a list of names, got {_describe(value)}")
            return []
        return [
            (item, f"{key}[{i}]") for i, item in enumerate(value) if self.name(item, f"{key}[{i}]")
        ]

    def flag(self, entry: dict[str, Any], key: str, path: str) -> None:
        if key in entry and not isinstance(entry[key], bool):
            self.add(f"{path}.{key}", f"expected true or false, got {_describe(entry[key])}")

    def declarations(self, data: dict[str, Any]) -> None:
        """Dataset name, role columns, features and passthrough; then columns named twice."""
        if "name" in data:
            self.name(data["name"], "name")
        for key, role in (("id_column", "id"), ("timestamp_column", "timestamp")):
            self.role_column(data, key, role, optional=key == "id_column")
        self.role_column(data, "label_column", "label", optional=True)
        self.role_column(data, "label_time_column", "label_time", optional=True)
        if data.get("label_time_column") and not data.get("label_column"):
            self.add("label_time_column", "needs a label_column (it says when that label arrived)")
        self.numeric(data)
        for key in ("categorical", "categoricals"):
            self.categorical(data, key)
        if "passthrough" in data and not isinstance(data["passthrough"], list | tuple):
            self.declarations_complete = False
        for column, path in self.string_list(data, "passthrough"):
            self.declared.append((column, path, "passthrough"))
        self.duplicates()

    def role_column(self, data: dict[str, Any], key: str, role: str, *, optional: bool) -> None:
        value = data.get(key)
        if value is None and (optional or key not in data):
            return
        if self.name(value, key):
            self.declared.append((value, key, role))

    def numeric(self, data: dict[str, Any]) -> None:
        entries = data.get("numeric", [])
        if not isinstance(entries, list | tuple):
            self.add("numeric", f"expected a list of column objects, got {_describe(entries)}")
            self.declarations_complete = False
            return
        for i, entry in enumerate(entries):
            path = f"numeric[{i}]"
            if not isinstance(entry, dict):
                self.add(
                    path,
                    f"expected an object {{{', '.join(NUMERIC_KEYS)}}}, got {_describe(entry)}",
                )
                continue
            self.keys(entry, f"{path}.", NUMERIC_KEYS, ("name",))
            if "name" in entry and self.name(entry["name"], f"{path}.name"):
                self.declared.append((entry["name"], f"{path}.name", "feature"))
            bounds = {}
            for key in ("min", "max"):
                value = entry.get(key)
                if value is None:
                    continue
                if _is_number(value):
                    bounds[key] = value
                else:
                    self.add(
                        f"{path}.{key}", f"expected a finite number or null, got {_describe(value)}"
                    )
            if len(bounds) == 2 and bounds["min"] > bounds["max"]:
                self.add(f"{path}.min", f"min {bounds['min']} is greater than max {bounds['max']}")
            self.flag(entry, "nullable", path)

    def categorical(self, data: dict[str, Any], key: str) -> None:
        entries = data.get(key, [])
        if not isinstance(entries, list | tuple):
            self.add(key, f"expected a list of names or column objects, got {_describe(entries)}")
            self.declarations_complete = False
            return
        for i, entry in enumerate(entries):
            path = f"{key}[{i}]"
            if isinstance(entry, str):
                if self.name(entry, path):
                    self.declared.append((entry, path, "feature"))
                continue
            if not isinstance(entry, dict):
                self.add(
                    path,
                    f"expected a name or an object {{{', '.join(CATEGORICAL_KEYS)}}}, "
                    f"got {_describe(entry)}",
                )
                continue
            self.keys(entry, f"{path}.", CATEGORICAL_KEYS, ("name",))
            if "name" in entry and self.name(entry["name"], f"{path}.name"):
                self.declared.append((entry["name"], f"{path}.name", "feature"))
            self.flag(entry, "nullable", path)
            self.flag(entry, "strip", path)
            if "normalize" in entry and entry["normalize"] not in NORMALIZE_MODES:
                self.add(
                    f"{path}.normalize",
                    f"unknown normalize mode {entry['normalize']!r}; "
                    f"allowed: {', '.join(NORMALIZE_MODES)}",
                )

    def duplicates(self) -> None:
        first: dict[str, tuple[str, str]] = {}
        for column, path, role in self.declared:
            if column not in first:
                first[column] = (path, role)
                continue
            first_path, first_role = first[column]
            problem = (
                f"column {column!r} is declared twice: as {_ROLES[first_role]} at {first_path} "
                f"and as {_ROLES[role]} at {path}"
            )
            if {first_role, role} == {"label", "feature"}:
                problem += (
                    "; label leakage: the model would learn the answer from its input "
                    "(PR-AUC 1.0 in training, useless in production)"
                )
            self.add(path, problem)

    def options(self, data: dict[str, Any]) -> None:
        """Scalars and lists that configure checks rather than declare columns."""
        if "kind" in data and data["kind"] not in KINDS:
            self.add("kind", f"unknown kind {data['kind']!r}; allowed: {', '.join(KINDS)}")
        if "label_values" in data:
            self.label_values(data["label_values"])
        self.positive_label(data)
        if "derived_features" in data:
            value = data["derived_features"]
            if not isinstance(value, list | tuple) or any(v not in TIME_FEATURES for v in value):
                self.add(
                    "derived_features",
                    f"expected a list drawn from {', '.join(TIME_FEATURES)}, got "
                    f"{_describe(value)}",
                )
        if "min_rows" in data:
            value = data["min_rows"]
            if not (_is_int(value) and value >= 0):
                self.add("min_rows", f"expected an integer >= 0, got {_describe(value)}")
        if "max_unseen_share" in data:
            value = data["max_unseen_share"]
            if not (_is_number(value) and 0 <= value <= 1):
                self.add("max_unseen_share", f"expected a number in [0, 1], got {_describe(value)}")
        if data.get("timestamp_timezone") is not None:
            self.timezone(data["timestamp_timezone"])
        if "minimums" in data:
            self.minimums(data["minimums"])
        if "extra" in data and not isinstance(data["extra"], dict):
            self.add("extra", f"expected an object, got {_describe(data['extra'])}")

    def minimums(self, value: Any) -> None:
        if not isinstance(value, dict):
            self.add("minimums", f"expected an object with {' and/or '.join(MINIMUM_LEVELS)}")
            return
        for level, entry in value.items():
            path = f"minimums.{level}"
            if level not in MINIMUM_LEVELS:
                self.add(path, f"unknown level; allowed: {', '.join(MINIMUM_LEVELS)}")
                continue
            if not isinstance(entry, dict):
                self.add(path, f"expected an object, got {_describe(entry)}")
                continue
            self.keys(entry, f"{path}.", MINIMUM_KEYS, ())
            for key in ("rows", "positives"):
                if key in entry and not (_is_int(entry[key]) and entry[key] >= 0):
                    self.add(f"{path}.{key}", f"expected an integer >= 0, got {entry[key]!r}")
            if level == "partition" and entry.get("positives"):
                self.add(f"{path}.positives", "positives are counted per training window only")
            if entry.get("severity", "critical") not in SEVERITIES:
                self.add(f"{path}.severity", f"expected one of {', '.join(SEVERITIES)}")
            distinct = entry.get("distinct", {})
            if not isinstance(distinct, dict) or not all(
                _is_int(v) and v >= 1 for v in distinct.values()
            ):
                self.add(f"{path}.distinct", "expected an object of column -> integer >= 1")
                continue
            declared = {column for column, _, _ in self.declared}
            for column in distinct:
                if self.declarations_complete and column not in declared:
                    self.add(f"{path}.distinct.{column}", f"{column!r} is not a declared column")

    def label_values(self, values: Any) -> None:
        if not isinstance(values, list | tuple) or not values:
            self.add(
                "label_values",
                f"expected a non-empty list of ints or strings, got {_describe(values)}",
            )
            return
        for i, value in enumerate(values):
            if not (_is_int(value) or isinstance(value, str)):
                self.add(
                    f"label_values[{i}]",
                    f"expected an int or a string (never a boolean), got {_describe(value)}",
                )
        valid = [v for v in values if _is_int(v) or isinstance(v, str)]
        if len({type(v) for v in valid}) > 1:
            self.add("label_values", f"mixes ints and strings: {values!r}; use one type")
        for value in sorted({v for v in valid if valid.count(v) > 1}, key=repr):
            self.add("label_values", f"duplicate label value {value!r}")

    def positive_label(self, data: dict[str, Any]) -> None:
        """The positive class must be one of ``label_values``; text labels must name it."""
        values = data.get("label_values", [0, 1])
        if not isinstance(values, list | tuple):
            return
        positive = data.get("positive_label")
        if positive is None:
            if data.get("label_column") and 1 not in values:
                self.add(
                    "positive_label",
                    f"required when label_values {list(values)!r} do not include 1: name the "
                    'label value of the positive class (e.g. "bad")',
                )
        elif positive not in values or isinstance(positive, bool):
            self.add(
                "positive_label",
                f"{positive!r} is not one of label_values {list(values)!r}",
            )

    def timezone(self, value: Any) -> None:
        if not isinstance(value, str):
            self.add(
                "timestamp_timezone", f"expected an IANA zone name or null, got {_describe(value)}"
            )
            return
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.add(
                "timestamp_timezone",
                f"unknown time zone {value!r}; expected an IANA name such as 'UTC' or "
                "'Europe/Berlin'",
            )

    def references(self, data: dict[str, Any]) -> None:
        """Columns named by user/item, unique_together and min_distinct must be declared."""
        declared = {column for column, _, _ in self.declared}
        known = ", ".join(sorted(declared)) or "none"

        def must_be_declared(column: str, path: str) -> None:
            if self.declarations_complete and column not in declared:
                self.add(path, f"{column!r} is not a declared column (declared: {known})")

        for key in ("user_column", "item_column", "rating_column"):
            value = data.get(key)
            if value is None:
                if data.get("kind") == "interactions" and key != "rating_column":
                    self.add(key, "required for kind 'interactions' (the user and item ids)")
            elif self.name(value, key):
                must_be_declared(value, key)
        for column, path in self.string_list(data, "unique_together"):
            must_be_declared(column, path)
        if "min_distinct" in data:
            value = data["min_distinct"]
            if not isinstance(value, dict):
                self.add(
                    "min_distinct",
                    f"expected an object of column -> integer >= 1, got {_describe(value)}",
                )
                return
            for column, count in value.items():
                path = f"min_distinct.{column}"
                if self.name(column, path):
                    must_be_declared(column, path)
                if not (_is_int(count) and count >= 1):
                    self.add(path, f"expected an integer >= 1, got {_describe(count)}")


_ROLES = {
    "id": "the id column",
    "timestamp": "the timestamp column",
    "label": "the label column",
    "label_time": "the label time column",
    "feature": "a feature",
    "passthrough": "a passthrough column",
}


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _ObjectWithDuplicates(dict):
    """A JSON object that remembers keys given more than once (json keeps only the last)."""

    duplicate_keys: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) == len(pairs):
        return obj
    keys = [key for key, _ in pairs]
    marked = _ObjectWithDuplicates(obj)
    marked.duplicate_keys = tuple(sorted({key for key in keys if keys.count(key) > 1}))
    return marked


def parse_schema(text: str, *, source: str) -> DatasetSchema:
    """Parse and validate a schema's JSON text; ``source`` names it in errors."""
    try:
        data = json.loads(text, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise SchemaError(
            f"invalid dataset schema {source}: malformed JSON at line {exc.lineno}, "
            f"column {exc.colno}: {exc.msg}"
        ) from exc
    return DatasetSchema.from_dict(data, source=source)


def load_schema(name_or_path: str | Path) -> DatasetSchema:
    """Load a dataset schema: a path to a JSON file holding only the dataset, or the name of
    a use-case spec (``fraud``, ``recommender``, ``loans``, or a team's own, see
    ``mlops_core.spec``), whose ``dataset`` section is returned.

    Raises:
        SchemaError: the file or spec does not exist, is malformed, or describes an invalid
            schema. Raised before any data is read or any lake path is built.
    """
    path = Path(name_or_path)
    if path.suffix == ".json":
        if not path.is_file():
            raise SchemaError(f"no schema file {str(path)!r} (looked for {path.resolve()})")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"cannot read schema file {path}: {exc}") from exc
        return parse_schema(text, source=str(path))
    from mlops_core.spec import load_spec

    return load_spec(name_or_path).dataset
