"""The schema example in the README is a schema the code accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlops_core.schema import DatasetSchema

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_schema_example_loads() -> None:
    block = re.search(r"```json\n(.*?)```", README.read_text(), re.S)
    assert block, "the README lost its schema example"
    schema = DatasetSchema.from_dict(json.loads(block.group(1)), source="README.md")
    assert schema.positive == "bad" and schema.derived_features == ()
    assert "months_since_delinquency" in schema.nullable_columns
