"""Dataset schemas are configuration: a JSON file names the id, timestamp, label and feature
columns, so the pipelines run on a user's own transactions file without code changes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

NORMALIZE_MODES = ("none", "lower", "upper")


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
    """

    name: str
    id_column: str | None
    timestamp_column: str
    label_column: str | None
    label_values: tuple[int | str, ...] = (0, 1)
    numeric: tuple[NumericColumn, ...] = ()
    categoricals: tuple[CategoricalColumn, ...] = ()
    passthrough: tuple[str, ...] = ()
    min_rows: int = 1
    kind: str = "events"
    unique_together: tuple[str, ...] = ()
    min_distinct: dict[str, int] = field(default_factory=dict)
    user_column: str | None = None
    item_column: str | None = None
    timestamp_timezone: str | None = None
    max_unseen_share: float = 0.05
    extra: dict[str, Any] = field(default_factory=dict)

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
        """Columns the fitted pipeline reads (the timestamp feeds time-of-day features)."""
        return [self.timestamp_column, *self.feature_columns]

    def required_columns(self, *, with_label: bool) -> list[str]:
        cols = [self.timestamp_column, *self.passthrough, *self.feature_columns]
        if self.id_column:
            cols.insert(0, self.id_column)
        if with_label and self.label_column:
            cols.append(self.label_column)
        return cols

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["numeric"] = [asdict(c) for c in self.numeric]
        data["categoricals"] = [asdict(c) for c in self.categoricals]
        return data

    def fingerprint(self) -> str:
        payload = json.dumps(self.to_dict(), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetSchema:
        data = dict(data)
        numeric = tuple(NumericColumn(**c) for c in data.pop("numeric", []))
        categoricals = tuple(
            CategoricalColumn(name=c) if isinstance(c, str) else CategoricalColumn(**c)
            for c in [*data.pop("categorical", ()), *data.pop("categoricals", ())]
        )
        return cls(
            numeric=numeric,
            categoricals=categoricals,
            label_values=tuple(data.pop("label_values", (0, 1))),
            passthrough=tuple(data.pop("passthrough", ())),
            unique_together=tuple(data.pop("unique_together", ())),
            **data,
        )


def load_schema(name_or_path: str | Path) -> DatasetSchema:
    """Load a schema: a path to a JSON file, or the name of a bundled one (``fraud``,
    ``interactions``)."""
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        text = path.read_text()
    else:
        ref = resources.files("mlops_core.schemas").joinpath(f"{name_or_path}.json")
        if not ref.is_file():
            raise FileNotFoundError(f"no schema file or bundled schema named {name_or_path!r}")
        text = ref.read_text()
    return DatasetSchema.from_dict(json.loads(text))
