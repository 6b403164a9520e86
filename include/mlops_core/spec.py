"""Use-case specs: one YAML (or JSON) file says everything a team's use case needs, so the
same operators and DAG factory run it configured, not coded.

A spec names the task type (``binary_classification``, ``implicit_ranking``), the dataset
(the columns by role, see ``mlops_core.schema``), the model (an estimator from the task type's
catalogue, its hyperparameters and an optional small search), the gate, scoring, monitoring,
schedules and the demo data generator. It is validated on load: every problem is reported at
once as ``file: key.path: problem`` in a ``SpecError`` before any data is touched.

Specs are looked up by name in the folders of ``MLOPS_SPECS_DIR`` (``os.pathsep``-separated)
and then in the bundled ``include/specs/``; a path ending in ``.yaml``/``.yml``/``.json`` is
read as it is.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_core.errors import SchemaError
from mlops_core.schema import NAME_PATTERN, DatasetSchema, schema_problems

log = logging.getLogger(__name__)

BUNDLED_SPECS = Path(__file__).resolve().parents[1] / "specs"
SPEC_SUFFIXES = (".yaml", ".yml", ".json")
PROMOTION_MODES = ("direct", "shadow")
FORMATS = ("csv", "parquet")
TOP_LEVEL_KEYS = (
    "name",
    "description",
    "owner",
    "task",
    "dataset",
    "model",
    "training",
    "gate",
    "scoring",
    "monitoring",
    "sample_data",
    "registry",
)
REQUIRED_KEYS = ("name", "task", "dataset")
TRAINING_KEYS = ("schedule", "on_new_data", "promotion", "automatic_promotion")
SCORING_KEYS = ("schedule", "on_new_champion")
MONITORING_KEYS = ("schedule", "drift", "performance", "policy", "shadow")
SAMPLE_KEYS = ("generator", "rows", "seed", "format", "drift_from", "drift")
REGISTRY_KEYS = ("model_name", "experiment")
# Five cron fields, or an Airflow preset (@daily, @weekly, ...).
_CRON = re.compile(r"^(@(hourly|daily|weekly|monthly|yearly)|(\S+\s+){4}\S+)$")


class SpecError(SchemaError):
    """The use-case spec is malformed or inconsistent (runbook ``schema-invalid``)."""


@dataclass(frozen=True)
class MonitoringSpec:
    """Drift and matured-label performance monitoring plus the retraining policy."""

    schedule: str | None
    drift: Any  # DriftThresholds
    performance: Any  # PerformanceThresholds
    policy: Any  # RetrainPolicy
    shadow: Any  # ShadowPolicy


@dataclass(frozen=True)
class SampleDataSpec:
    """The demo producer: a generator from ``mlops_core.generators`` and its settings.
    ``drift_from`` (a day) and ``drift`` (strength) make later days drift."""

    generator: str
    rows: int = 2_000
    seed: int = 7
    format: str = "csv"
    drift_from: str | None = None
    drift: float = 0.0


@dataclass(frozen=True)
class UseCaseSpec:
    """A validated use case. ``train`` holds the model's estimator, hyperparameters and
    training window; ``search`` the extra candidates compared on a validation slice."""

    name: str
    task: str
    dataset: DatasetSchema
    train: Any
    gate: Any
    scoring: Any
    description: str = ""
    owner: str = "ml-platform"
    search: tuple[Any, ...] = ()
    training_schedule: str | None = None
    train_on_new_data: bool = True
    promotion: str = "direct"
    # For runs nobody triggered by hand (the cron, a landing): direct, shadow or none
    # (gate only). A retrain the monitoring policy requested follows ``promotion``.
    automatic_promotion: str = "direct"
    scoring_schedule: str | None = "0 0 * * *"
    score_on_new_champion: bool = False
    monitoring: MonitoringSpec | None = None
    sample_data: SampleDataSpec | None = None
    model_name: str = ""
    experiment: str = ""
    source: str = "<dict>"
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def task_type(self):
        """The ``TaskType`` implementation (imported on demand)."""
        from mlops_core.tasks import task_type

        return task_type(self.task)

    def dag_id(self, role: str) -> str:
        """``<use case>_<role>``: training, scoring, monitoring, rollback, sample_landing."""
        return f"{self.name}_{role}"


# --------------------------------------------------------------------------- loading


def spec_dirs(env: dict[str, str] | None = None) -> list[Path]:
    """Folders searched for specs by name: ``MLOPS_SPECS_DIR`` entries, then the bundled."""
    env = os.environ if env is None else env
    extra = [Path(p) for p in env.get("MLOPS_SPECS_DIR", "").split(os.pathsep) if p]
    return [*extra, BUNDLED_SPECS]


def available_specs(env: dict[str, str] | None = None) -> dict[str, Path]:
    """Spec name (file stem) -> file, the first folder of ``spec_dirs`` winning; a bundled
    spec shadowed by a team's file of the same name is logged."""
    found: dict[str, Path] = {}
    for folder in spec_dirs(env):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix not in SPEC_SUFFIXES or path.name.startswith((".", "_")):
                continue
            if path.stem in found:
                log.warning("spec %s shadows %s (same name)", found[path.stem], path)
                continue
            found[path.stem] = path
    return found


def load_spec(name_or_path: str | Path, env: dict[str, str] | None = None) -> UseCaseSpec:
    """Load and validate a spec by name or path.

    Raises:
        SpecError: no such spec, unreadable, malformed, or invalid (every problem listed).
    """
    path = Path(name_or_path)
    if path.suffix in SPEC_SUFFIXES:
        if not path.is_file():
            raise SpecError(f"no spec file {str(path)!r} (looked for {path.resolve()})")
    else:
        name = str(name_or_path)
        specs = available_specs(env)
        known = ", ".join(sorted(specs)) or "none"
        if not NAME_PATTERN.fullmatch(name):
            raise SpecError(
                f"use case {name!r} is neither a spec name (letters, digits, '_' and '-') nor "
                f"a path ending in {'/'.join(SPEC_SUFFIXES)} (specs: {known})"
            )
        if name not in specs:
            folders = ", ".join(str(d) for d in spec_dirs(env))
            raise SpecError(f"no spec named {name!r} in {folders} (specs: {known})")
        path = specs[name]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read spec file {path}: {exc}") from exc
    return parse_spec(text, source=str(path), fmt="json" if path.suffix == ".json" else "yaml")


def parse_spec(text: str, *, source: str, fmt: str = "yaml") -> UseCaseSpec:
    """Parse a spec's text and validate it; ``source`` names it in every message."""
    data = _parse_text(text, source, fmt)
    problems, spec = _build(data, source)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
        lines = "\n".join(f"  {source}: {p}" for p in problems)
        raise SpecError(f"invalid use-case spec {source} ({count}):\n{lines}")
    if spec is None:  # unreachable: _build returns a spec whenever it found no problem
        raise SpecError(f"invalid use-case spec {source}")
    return spec


def _parse_text(text: str, source: str, fmt: str) -> Any:
    if fmt == "json":
        from mlops_core.schema import _object_pairs

        try:
            return json.loads(text, object_pairs_hook=_object_pairs)
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"invalid use-case spec {source}: malformed JSON at line {exc.lineno}, "
                f"column {exc.colno}: {exc.msg}"
            ) from exc
    import yaml

    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise SpecError(
            f"invalid use-case spec {source}: malformed YAML at {where}{exc.problem}"
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"invalid use-case spec {source}: malformed YAML: {exc}") from exc


def _strict_loader():
    import yaml

    # libyaml's parser when PyYAML has it (several times faster: specs load at DAG parse).
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class StrictLoader(base):
        """SafeLoader that keeps duplicate keys visible (plain YAML keeps the last one)."""

    def construct_mapping(loader, node, deep=False):
        from mlops_core.schema import _ObjectWithDuplicates

        pairs = []
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=deep)
            pairs.append((key, loader.construct_object(value_node, deep=deep)))
        keys = [k for k, _ in pairs]
        duplicates = sorted({str(k) for k in keys if keys.count(k) > 1})
        result = _ObjectWithDuplicates(pairs) if duplicates else dict(pairs)
        if duplicates:
            result.duplicate_keys = duplicates
        return result

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    # Dates stay strings (``drift_from: 2026-11-13``), as in JSON.
    StrictLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in base.yaml_implicit_resolvers.items()
    }
    return StrictLoader


class _LazyLoader:
    """Builds the YAML loader class on first use (PyYAML is not imported at DAG parse time
    by modules that only need the dataclasses)."""

    _cls = None

    def __call__(self, stream):
        if _LazyLoader._cls is None:
            _LazyLoader._cls = _strict_loader()
        return _LazyLoader._cls(stream)


_StrictLoader = _LazyLoader()


# --------------------------------------------------------------------------- validation


class _Check:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, path: str, problem: str) -> None:
        self.problems.append(f"{path}: {problem}")

    def mapping(self, value: Any, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, got {_describe(value)}")
            return {}
        for key in getattr(value, "duplicate_keys", ()):
            self.add(f"{path}.{key}", "key given more than once (only the last would be kept)")
        return value

    def keys(self, obj: dict[str, Any], path: str, allowed: tuple[str, ...]) -> None:
        for key in obj:
            if key not in allowed:
                self.add(_join(path, key), f"unknown key; allowed keys: {', '.join(allowed)}")

    def typed(
        self, obj: dict[str, Any], path: str, cls: type, allowed: tuple[str, ...] | None = None
    ) -> dict[str, Any]:
        """The entries of ``obj`` that are fields of dataclass ``cls`` with a value of the
        field's type (bool, int, number, string, list); a problem for every other entry."""
        defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
        names = tuple(allowed if allowed is not None else defaults)
        out = {}
        for key, value in obj.items():
            where = _join(path, key)
            if key not in names:
                self.add(where, f"unknown key; allowed keys: {', '.join(names)}")
                continue
            problem = _type_problem(defaults[key], value)
            if problem:
                self.add(where, problem)
            else:
                out[key] = tuple(value) if isinstance(value, list) else value
        return out

    def build(self, cls: type, values: dict[str, Any], path: str) -> Any:
        try:
            return cls(**values)
        except Exception as exc:  # noqa: BLE001 - a dataclass's own check, any error type
            self.add(path, str(exc))
        return cls()

    def cron(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _CRON.fullmatch(value.strip()):
            self.add(
                path,
                f"expected a cron expression of five fields (UTC) or @daily/@weekly/..., or "
                f"null for no schedule, got {_describe(value)}",
            )
            return None
        return value.strip()

    def flag(self, obj: dict[str, Any], key: str, path: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.add(_join(path, key), f"expected true or false, got {_describe(value)}")
            return default
        return value

    def choice(self, obj: dict[str, Any], key: str, path: str, options, default: str) -> str:
        value = obj.get(key, default)
        if value not in options:
            self.add(_join(path, key), f"expected one of {', '.join(options)}, got {value!r}")
            return default
        return value

    def name(self, obj: dict[str, Any], key: str, path: str, default: str) -> str:
        value = obj.get(key, default)
        if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
            self.add(
                _join(path, key),
                f"expected a name of letters, digits, '_' and '-', got {_describe(value)}",
            )
            return default
        return value


def _build(data: Any, source: str) -> tuple[list[str], UseCaseSpec | None]:
    check = _Check()
    if not isinstance(data, dict):
        return [f"(top level): expected a mapping, got {_describe(data)}"], None
    check.mapping(data, "(top level)")
    check.keys(data, "", TOP_LEVEL_KEYS)
    for key in REQUIRED_KEYS:
        if key not in data:
            check.add(key, "required key is missing")
    name = check.name(data, "name", "", "invalid") if "name" in data else "invalid"

    from mlops_core.tasks import TASK_TYPES, task_type

    task_name = data.get("task")
    if "task" in data and task_name not in TASK_TYPES:
        check.add("task", f"unknown task type {task_name!r}; choose one of {', '.join(TASK_TYPES)}")
    if task_name not in TASK_TYPES:
        return check.problems or ["task: required key is missing"], None
    tt = task_type(task_name)

    dataset = _dataset(check, data.get("dataset"), tt, source)
    train, search = _model(check, data, tt)
    gate = check.build(
        tt.gate_thresholds,
        check.typed(check.mapping(data.get("gate"), "gate"), "gate", tt.gate_thresholds),
        "gate",
    )
    training = check.mapping(data.get("training"), "training")
    scoring_raw = check.mapping(data.get("scoring"), "scoring")
    score_fields = tuple(f.name for f in dataclasses.fields(tt.score_params))
    scoring = check.build(
        tt.score_params,
        check.typed(
            {k: v for k, v in scoring_raw.items() if k not in SCORING_KEYS},
            "scoring",
            tt.score_params,
            score_fields,
        ),
        "scoring",
    )
    promotion = check.choice(
        training,
        "promotion",
        "training",
        PROMOTION_MODES if tt.supports_shadow else ("direct",),
        "direct",
    )
    automatic = check.choice(
        training,
        "automatic_promotion",
        "training",
        (*(PROMOTION_MODES if tt.supports_shadow else ("direct",)), "none"),
        promotion,
    )
    if automatic == "shadow" and scoring is not None and not getattr(scoring, "shadow", False):
        check.add(
            "training.automatic_promotion",
            "'shadow' needs scoring.shadow: true (a challenger nobody shadow-scores never "
            "gathers evidence); set scoring.shadow or choose direct or none",
        )
    monitoring = _monitoring(check, data, tt)
    sample = _sample(check, data.get("sample_data"))
    reg = check.mapping(data.get("registry"), "registry")
    check.keys(reg, "registry", REGISTRY_KEYS)
    for key in ("description", "owner"):
        if key in data and not isinstance(data[key], str):
            check.add(key, f"expected a string, got {_describe(data[key])}")
    train, search, gate = _shared_settings(check, data, train, search, gate)
    if dataset is not None:
        _drift_features(check, dataset, monitoring)
        _cluster_columns(check, dataset, gate, monitoring)
    if dataset is None or check.problems:
        return check.problems, None
    spec = UseCaseSpec(
        name=name,
        task=task_name,
        dataset=dataset,
        train=train,
        search=search,
        gate=gate,
        scoring=scoring,
        description=str(data.get("description", "")).strip(),
        owner=str(data.get("owner", "ml-platform")),
        training_schedule=check.cron(training.get("schedule"), "training.schedule"),
        train_on_new_data=check.flag(training, "on_new_data", "training", True),
        promotion=promotion,
        automatic_promotion=automatic,
        scoring_schedule=check.cron(scoring_raw.get("schedule", "0 0 * * *"), "scoring.schedule"),
        score_on_new_champion=check.flag(scoring_raw, "on_new_champion", "scoring", False),
        monitoring=monitoring,
        sample_data=sample,
        model_name=check.name(reg, "model_name", "registry", f"{name}_model"),
        experiment=check.name(reg, "experiment", "registry", name),
        source=source,
        raw=dict(data),
    )
    return check.problems, spec


def _shared_settings(check: _Check, data: dict[str, Any], train, search, gate):
    """A setting that both training and the gate read (``k``, ``fpr_target``,
    ``min_users_evaluated``) is one setting: given in one section it applies to both; given
    in both with different values it is an error."""
    shared = {f.name for f in dataclasses.fields(gate)} & {
        f.name for f in dataclasses.fields(train)
    }
    training = data.get("training") if isinstance(data.get("training"), dict) else {}
    gate_raw = data.get("gate") if isinstance(data.get("gate"), dict) else {}
    for name in sorted(shared):
        in_training, in_gate = name in training, name in gate_raw
        if in_training and in_gate and getattr(train, name) != getattr(gate, name):
            check.add(
                f"gate.{name}",
                f"{getattr(gate, name)!r} differs from training.{name} "
                f"{getattr(train, name)!r}: it is one setting, give it once or equal",
            )
        elif in_gate and not in_training:
            value = getattr(gate, name)
            train = dataclasses.replace(train, **{name: value})
            search = tuple(dataclasses.replace(c, **{name: value}) for c in search)
        elif in_training and not in_gate:
            gate = dataclasses.replace(gate, **{name: getattr(train, name)})
    return train, search, gate


def _dataset(check: _Check, value: Any, tt, source: str) -> DatasetSchema | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        check.add("dataset", f"expected a mapping, got {_describe(value)}")
        return None
    data = dict(value)
    kind = data.setdefault("kind", tt.dataset_kind)
    if kind != tt.dataset_kind:
        check.add(
            "dataset.kind",
            f"{kind!r} does not fit task {tt.name!r} (it reads {tt.dataset_kind!r} datasets); "
            "leave it out",
        )
    if hasattr(value, "duplicate_keys"):
        from mlops_core.schema import _ObjectWithDuplicates

        data = _ObjectWithDuplicates(data)
        data.duplicate_keys = value.duplicate_keys
    problems = schema_problems(data)
    for problem in problems:
        check.problems.append(f"dataset.{problem}")
    if problems:
        return None
    return DatasetSchema.from_dict(dict(data), source=f"{source}: dataset")


def _model(check: _Check, data: dict[str, Any], tt) -> tuple[Any, tuple[Any, ...]]:
    """``model`` (estimator + hyperparameters + search) and ``training`` (window, split)
    together make the task type's train params."""
    model = check.mapping(data.get("model"), "model")
    training = check.mapping(data.get("training"), "training")
    all_hyper = {h for names in tt.estimators.values() for h in names}
    general = tuple(
        f.name
        for f in dataclasses.fields(tt.train_params)
        if f.name not in all_hyper and f.name != "estimator"
    )
    base = check.typed(
        {k: v for k, v in training.items() if k not in TRAINING_KEYS},
        "training",
        tt.train_params,
        general,
    )

    def candidate(entry: dict[str, Any], path: str) -> Any:
        estimator = entry.get("estimator", next(iter(tt.estimators)))
        if estimator not in tt.estimators:
            check.add(
                f"{path}.estimator",
                f"unknown estimator {estimator!r} for {tt.name}; choose one of "
                f"{', '.join(tt.estimators)}",
            )
            return None
        own = tt.estimators[estimator]
        values = {"estimator": estimator}
        for key, value in entry.items():
            if key in ("estimator", "search"):
                continue
            if key in all_hyper and key not in own:
                others = [e for e, names in tt.estimators.items() if key in names]
                check.add(
                    _join(path, key),
                    f"a hyperparameter of {', '.join(others)}, not of {estimator} "
                    f"(its hyperparameters: {', '.join(own) or 'none'})",
                )
                continue
            values.update(check.typed({key: value}, path, tt.train_params, (*own, *general)))
        return check.build(tt.train_params, {**base, **values}, path)

    train = candidate(model, "model") or tt.train_params()
    search_raw = model.get("search", [])
    if not isinstance(search_raw, list):
        check.add("model.search", f"expected a list of candidates, got {_describe(search_raw)}")
        search_raw = []
    if search_raw and not tt.supports_search:
        check.add("model.search", f"task {tt.name} has no model search yet; leave it out")
        search_raw = []
    search = []
    for i, entry in enumerate(search_raw):
        path = f"model.search[{i}]"
        if not isinstance(entry, dict):
            check.add(path, f"expected a mapping, got {_describe(entry)}")
            continue
        found = candidate(check.mapping(entry, path), path)
        if found is not None:
            search.append(found)
    return train, tuple(search)


def _monitoring(check: _Check, data: dict[str, Any], tt) -> MonitoringSpec | None:
    if data.get("monitoring") is None:
        return None
    if not tt.supports_monitoring:
        check.add("monitoring", f"task {tt.name} has no monitoring yet; leave the section out")
        return None
    from mlops_core.knobs import (
        DriftThresholds,
        PerformanceThresholds,
        RetrainPolicy,
        ShadowPolicy,
    )

    raw = check.mapping(data["monitoring"], "monitoring")
    check.keys(raw, "monitoring", MONITORING_KEYS)
    parts = {}
    for key, cls in (
        ("drift", DriftThresholds),
        ("performance", PerformanceThresholds),
        ("policy", RetrainPolicy),
        ("shadow", ShadowPolicy),
    ):
        path = f"monitoring.{key}"
        parts[key] = check.build(
            cls, check.typed(check.mapping(raw.get(key), path), path, cls), path
        )
    return MonitoringSpec(
        schedule=check.cron(raw.get("schedule", "0 6 * * *"), "monitoring.schedule"), **parts
    )


def _drift_features(check: _Check, spec_dataset: DatasetSchema, monitoring) -> None:
    """Drift features must be features of the dataset (a typo would watch nothing)."""
    if monitoring is None:
        return
    known = spec_dataset.feature_columns
    for i, name in enumerate(monitoring.drift.features):
        if name not in known:
            check.add(
                f"monitoring.drift.features[{i}]",
                f"{name!r} is not a feature of the dataset (features: {', '.join(known)})",
            )


def _cluster_columns(check: _Check, spec_dataset: DatasetSchema, gate, monitoring) -> None:
    """Every ``cluster_column`` (the gate's, the performance check's, the shadow test's) must
    be a column of the dataset: a typo would resample rows as if they were independent."""
    settings = {"gate": gate}
    if monitoring is not None:
        settings.update(
            {
                "monitoring.performance": monitoring.performance,
                "monitoring.shadow": monitoring.shadow,
            }
        )
    columns = spec_dataset.required_columns(with_label=False)
    for path, values in settings.items():
        cluster = getattr(values, "cluster_column", "")
        if cluster and cluster not in columns:
            check.add(
                f"{path}.cluster_column",
                f"{cluster!r} is not a column of the dataset (columns: {', '.join(columns)})",
            )


def _sample(check: _Check, value: Any) -> SampleDataSpec | None:
    if value is None:
        return None
    from mlops_core.generators import GENERATORS

    raw = check.mapping(value, "sample_data")
    values = check.typed(raw, "sample_data", SampleDataSpec)
    if "generator" not in raw:
        check.add("sample_data.generator", "required key is missing")
        return None
    if values.get("generator") not in GENERATORS:
        check.add(
            "sample_data.generator",
            f"unknown generator {raw['generator']!r}; choose one of {', '.join(GENERATORS)}",
        )
        return None
    if values.get("format", "csv") not in FORMATS:
        check.add("sample_data.format", f"expected one of {', '.join(FORMATS)}")
    return check.build(SampleDataSpec, values, "sample_data")


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return ""  # required string fields (generator)


def _type_problem(default: Any, value: Any) -> str | None:
    if isinstance(default, bool):
        ok, want = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, want = isinstance(value, int) and not isinstance(value, bool), "an integer"
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        want = "a number"
    elif isinstance(default, str) or default is None:
        ok, want = isinstance(value, str) or value is None, "a string"
    elif isinstance(default, tuple | list):
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        want = "a list of names"
    else:
        ok, want = True, ""
    return None if ok else f"expected {want}, got {_describe(value)}"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"
