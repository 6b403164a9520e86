"""The spec example in the README is a spec the code accepts, as written."""

from __future__ import annotations

import re
from pathlib import Path

from mlops_core.spec import parse_spec

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_spec_example_loads() -> None:
    block = re.search(r"```yaml\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its spec example"
    spec = parse_spec(block.group(1), source="README.md")
    assert spec.name == "churn" and spec.dataset.positive == "yes"
    assert spec.dataset.derived_features == ()
    assert "last_login_days" in spec.dataset.nullable_columns
    assert [c.estimator for c in spec.search] == ["hist_gradient_boosting", "random_forest"]
    assert spec.monitoring is not None and spec.monitoring.drift.features == (
        "tenure_months",
        "plan",
    )
    assert spec.gate.fpr_target == spec.train.fpr_target == 0.05
    assert spec.dataset.partition_minimum.severity == "warning"
    assert spec.dataset.window_minimums.positives == 50
