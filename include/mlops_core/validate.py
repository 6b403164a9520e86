"""Validation with Great Expectations 1.x: a suite derived from the dataset schema.

The suite is built from plain specs first, so its hash (a reproducibility tag on every model)
does not depend on GX internals. Failures come back as a ValidationReport that names every
failing expectation with its unexpected count, sample values and sample rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_core.schema import DatasetSchema

log = logging.getLogger(__name__)

NUMERIC_TYPES = ["int8", "int16", "int32", "int64", "Int64", "float32", "float64", "Float64"]
CRITICAL, WARNING = "critical", "warning"
_SAMPLE = 5


@dataclass(frozen=True)
class ExpectationSpec:
    type: str
    kwargs: dict[str, Any]
    severity: str = CRITICAL


@dataclass
class CheckResult:
    expectation: str
    column: str | None
    severity: str
    unexpected_count: int | None = None
    sample_values: list[Any] = field(default_factory=list)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        where = f" on column '{self.column}'" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count else ""
        sample = f"; sample values {self.sample_values}" if self.sample_values else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.expectation}{where}{count}{sample}{detail}"


@dataclass
class ValidationReport:
    dataset: str
    day: str
    rows: int
    suite_name: str
    suite_hash: str
    checks_run: int
    failures: list[CheckResult]
    warnings: list[CheckResult]
    data_docs: str | None = None

    @property
    def success(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["success"] = self.success
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationReport:
        fields_ = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("failures", "warnings"):
            fields_[key] = [CheckResult(**c) for c in fields_.get(key, [])]
        return cls(**fields_)

    def failing_rows(self, per_check: int = 3) -> list[dict[str, Any]]:
        """A few offending rows of each failed check, tagged with the check's name."""
        return [
            {"check": c.expectation, **row}
            for c in self.failures
            for row in c.sample_rows[:per_check]
        ]

    def summary(self) -> str:
        head = (
            f"validation of {self.dataset} dt={self.day}: {len(self.failures)} of "
            f"{self.checks_run} checks failed ({self.rows} rows, suite {self.suite_name}"
            f"@{self.suite_hash})"
        )
        lines = [head]
        lines += [f"  FAILED  {c.describe()}" for c in self.failures]
        for c in self.failures:
            for row in c.sample_rows[:3]:
                lines.append(f"          row {json.dumps(row, default=str)}")
        lines += [f"  WARNING {c.describe()}" for c in self.warnings]
        return "\n".join(lines)


def suite_specs(schema: DatasetSchema, day: dt.date, *, with_label: bool) -> list[ExpectationSpec]:
    """The expectations every partition of ``schema`` must meet on ``day``."""
    required = schema.required_columns(with_label=with_label)
    # An unlabelled check still knows the label column: its presence is not "unexpected".
    known = schema.required_columns(with_label=True)
    start = pd.Timestamp(day, tz="UTC")
    minimum = schema.partition_minimum
    level = WARNING if minimum.severity == "warning" else CRITICAL
    specs = [
        ExpectationSpec("expect_table_row_count_to_be_between", {"min_value": minimum.rows}, level),
        ExpectationSpec(
            "expect_table_columns_to_match_set", {"column_set": required, "exact_match": False}
        ),
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": known, "exact_match": True},
            WARNING,
        ),
    ]
    for col in required:
        if col not in schema.nullable_columns:
            specs.append(ExpectationSpec("expect_column_values_to_not_be_null", {"column": col}))
    if schema.id_column:
        specs.append(
            ExpectationSpec("expect_column_values_to_be_unique", {"column": schema.id_column})
        )
    if schema.unique_together:
        specs.append(
            ExpectationSpec(
                "expect_compound_columns_to_be_unique",
                {"column_list": list(schema.unique_together)},
            )
        )
    for col, fewest in sorted(minimum.distinct.items()):
        specs.append(
            ExpectationSpec(
                "expect_column_unique_value_count_to_be_between",
                {"column": col, "min_value": int(fewest)},
                level,
            )
        )
    specs.append(
        ExpectationSpec(
            "expect_column_values_to_be_between",
            {
                "column": schema.timestamp_column,
                "min_value": start.isoformat(),
                "max_value": (
                    start + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
                ).isoformat(),
            },
        )
    )
    for num in schema.numeric:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_in_type_list",
                {"column": num.name, "type_list": NUMERIC_TYPES},
            )
        )
        if num.min is not None or num.max is not None:
            specs.append(
                ExpectationSpec(
                    "expect_column_values_to_be_between",
                    {"column": num.name, "min_value": num.min, "max_value": num.max},
                )
            )
    if with_label and schema.label_column:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_in_set",
                {"column": schema.label_column, "value_set": list(schema.label_values)},
            )
        )
    if with_label and schema.label_time_column:
        # A label cannot be final before its event: not before the partition's day.
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_between",
                {"column": schema.label_time_column, "min_value": start.isoformat()},
            )
        )
    return specs


def suite_hash(specs: list[ExpectationSpec]) -> str:
    payload = json.dumps([asdict(s) for s in specs], sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:16]


def _gx_expectation(spec: ExpectationSpec):
    import great_expectations as gx

    cls_name = "".join(part.capitalize() for part in spec.type.split("_"))
    kwargs = dict(spec.kwargs)
    for key in ("min_value", "max_value"):
        if isinstance(kwargs.get(key), str):
            kwargs[key] = pd.Timestamp(kwargs[key])
    return getattr(gx.expectations, cls_name)(**kwargs, meta={"severity": spec.severity})


def validate_frame(
    frame: pd.DataFrame,
    schema: DatasetSchema,
    day: dt.date,
    *,
    with_label: bool = True,
    docs_dir: Path | None = None,
    findings: list[dict[str, Any]] = (),
    domains: dict[str, list[str]] | None = None,
) -> ValidationReport:
    """Run the schema's suite on ``frame`` and report every failing expectation.

    Args:
        frame: the partition.
        schema: dataset schema the suite is derived from.
        day: partition date (timestamps must fall inside it).
        with_label: whether the label column is required (training data) or not (scoring).
        docs_dir: where to build GX Data Docs HTML; None skips them.
        findings: problems found at extraction (CheckResult dicts), reported like failed
            expectations of their severity.
        domains: categorical values seen in training; unseen values are reported per column,
            and for unlabelled (scoring) data more than ``schema.max_unseen_share`` fails.

    Returns:
        The report; ``report.success`` is False when any critical expectation failed.
    """
    report = run_suite(
        frame,
        suite_specs(schema, day, with_label=with_label),
        dataset=schema.name,
        suite_name=f"{schema.name}_{'labelled' if with_label else 'unlabelled'}",
        day=day,
        id_column=schema.id_column,
        docs_dir=docs_dir,
    )
    extra = [CheckResult(**f) for f in findings]
    if domains:
        extra += unseen_categories(frame, schema, domains, fail=not with_label)
    for check in extra:
        report.checks_run += 1
        (report.warnings if check.severity == WARNING else report.failures).append(check)
    return report


def unseen_categories(
    frame: pd.DataFrame, schema: DatasetSchema, domains: dict[str, list[str]], *, fail: bool
) -> list[CheckResult]:
    """Per categorical column, the values never seen in training: count, share and the most
    frequent ones. Critical when ``fail`` and the share exceeds ``schema.max_unseen_share``."""
    checks = []
    for col in schema.categorical:
        if col not in frame.columns or col not in domains:
            continue
        values = frame[col].dropna()
        if values.empty:
            continue
        unseen = values[~values.isin(domains[col])]
        if unseen.empty:
            continue
        share = len(unseen) / len(values)
        critical = fail and share > schema.max_unseen_share
        top = unseen.value_counts().head(_SAMPLE)
        checks.append(
            CheckResult(
                expectation="expect_categorical_values_seen_in_training",
                column=col,
                severity=CRITICAL if critical else WARNING,
                unexpected_count=len(unseen),
                sample_values=[str(v) for v in top.index],
                detail=(
                    f"{len(unseen)} of {len(values)} values ({share:.1%}) were never seen in "
                    f"training (allowed {schema.max_unseen_share:.1%}"
                    f"{' for scoring' if fail else '; training learns them'}); most frequent: "
                    + ", ".join(f"{v!r} x{n}" for v, n in top.items())
                    + ". If only the spelling differs, set the column's normalize/strip options."
                ),
            )
        )
    return checks


def run_suite(
    frame: pd.DataFrame,
    specs: list[ExpectationSpec],
    *,
    dataset: str,
    suite_name: str,
    day: dt.date,
    id_column: str | None,
    docs_dir: Path | None = None,
) -> ValidationReport:
    """Run ``specs`` as a GX 1.x suite on ``frame`` (ephemeral context, pandas data source).

    Any dataset can use this: build its specs, then read failures from the report. Sample
    rows show ``id_column`` (when given) beside the failing column.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    actions = []
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        ctx.add_data_docs_site(
            "mlops_docs",
            {
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs_dir),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(
            gx.checkpoint.UpdateDataDocsAction(name="data_docs", site_names=["mlops_docs"])
        )
    batch_def = (
        ctx.data_sources.add_pandas("lake")
        .add_dataframe_asset(dataset)
        .add_batch_definition_whole_dataframe(f"dt={day.isoformat()}")
    )
    # All expectations at construction: adding them one by one re-serialises the suite into
    # the store each time, which costs more than running the checks on 100k rows.
    suite = ctx.suites.add(
        gx.ExpectationSuite(name=suite_name, expectations=[_gx_expectation(s) for s in specs])
    )
    definition = ctx.validation_definitions.add(
        gx.ValidationDefinition(name=f"{suite_name}_{day.isoformat()}", data=batch_def, suite=suite)
    )
    checkpoint = ctx.checkpoints.add(
        gx.Checkpoint(
            name=f"{suite_name}_checkpoint",
            validation_definitions=[definition],
            actions=actions,
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})

    failures, warnings = [], []
    checks = 0
    for run in result.run_results.values():
        for res in run.results:
            checks += 1
            if res.success:
                continue
            check = _check_result(res, frame, id_column)
            (warnings if check.severity == WARNING else failures).append(check)
    return ValidationReport(
        dataset=dataset,
        day=day.isoformat(),
        rows=len(frame),
        suite_name=suite_name,
        suite_hash=suite_hash(specs),
        checks_run=checks,
        failures=failures,
        warnings=warnings,
        data_docs=str(docs_dir / "index.html") if docs_dir is not None else None,
    )


def _check_result(res: Any, frame: pd.DataFrame, id_column: str | None) -> CheckResult:
    config = res.expectation_config
    column = config.kwargs.get("column")
    info = res.result or {}
    check = CheckResult(
        expectation=config.type,
        column=column,
        severity=(config.meta or {}).get("severity", CRITICAL),
        unexpected_count=info.get("unexpected_count"),
        sample_values=_jsonable(info.get("partial_unexpected_list", [])[:_SAMPLE]),
    )
    if column and column not in frame.columns:
        check.detail = "column is missing"
    elif res.exception_info and res.exception_info.get("raised_exception"):
        message = str(res.exception_info.get("exception_message", "")).splitlines()[0][:200]
        check.detail = f"check could not run: {message}"
    elif config.type == "expect_table_columns_to_match_set":
        mismatched = (info.get("details") or {}).get("mismatched", {})
        missing, unexpected = mismatched.get("missing", []), mismatched.get("unexpected", [])
        check.detail = f"missing {missing}, unexpected {unexpected}"
    elif config.type == "expect_column_unique_value_count_to_be_between":
        check.detail = (
            f"observed {info.get('observed_value')} distinct values, need >= "
            f"{config.kwargs['min_value']}"
        )
    elif config.type == "expect_table_row_count_to_be_between":
        check.detail = (
            f"observed {info.get('observed_value')} rows, need >= {config.kwargs['min_value']}"
        )
    elif "observed_value" in info:
        check.detail = f"observed {info['observed_value']}"
    index = info.get("partial_unexpected_index_list") or []
    shown = [column] if column else list(config.kwargs.get("column_list") or [])
    if index and shown and all(c in frame.columns for c in shown):
        cols = [c for c in dict.fromkeys((id_column, *shown)) if c and c in frame.columns]
        rows = frame.iloc[[int(i) for i in index[:_SAMPLE]]][cols]
        check.sample_rows = json.loads(rows.to_json(orient="records", date_format="iso"))
    return check


def _jsonable(values: list[Any]) -> list[Any]:
    return json.loads(json.dumps(values, default=str))
