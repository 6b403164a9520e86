"""Batch scoring: stream Parquet row groups through the model with bounded memory."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mlops_core.schema import DatasetSchema
from mlops_core.storage import TMP_PREFIX, sha256_file

SCORE_COLUMN = "score"


def output_schema(schema: DatasetSchema, input_schema: pa.Schema) -> pa.Schema:
    keep = [schema.id_column, schema.timestamp_column, *schema.passthrough]
    fields = [input_schema.field(c) for c in keep]
    return pa.schema(
        [*fields, pa.field(SCORE_COLUMN, pa.float64()), pa.field("model_version", pa.int64())]
    )


def score_file(
    input_path: Path,
    output_path: Path,
    model: Any,
    schema: DatasetSchema,
    *,
    model_version: str,
    batch_rows: int = 250_000,
) -> tuple[int, int]:
    """Score ``input_path`` into ``output_path`` batch by batch; atomic rename at the end.

    Memory is bounded by ``batch_rows``, not by the file size. The output is written to a temp
    file beside ``output_path`` and renamed only when complete, so a killed worker never
    leaves partial output at the final path.

    Returns:
        (rows read, rows written)
    """
    source = pq.ParquetFile(input_path)
    out_schema = output_schema(schema, source.schema_arrow)
    keep = [f.name for f in out_schema][:-2]
    features = schema.model_input_columns
    columns = list(dict.fromkeys([*keep, *features]))
    output_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_path.with_name(f"{TMP_PREFIX}{output_path.name}.{uuid.uuid4().hex}")
    rows_in = rows_out = 0
    version = int(model_version)
    try:
        with pq.ParquetWriter(tmp, out_schema, compression="zstd") as writer:
            for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
                frame = batch.to_pandas()
                scores = model.predict_proba(frame[features])[:, 1].astype(np.float64)
                table = pa.Table.from_arrays(
                    [
                        *(batch.column(c) for c in keep),
                        pa.array(scores),
                        pa.array(np.full(len(frame), version)),
                    ],
                    schema=out_schema,
                )
                writer.write_table(table, row_group_size=batch_rows)
                rows_in += batch.num_rows
                rows_out += table.num_rows
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, output_path)
    finally:
        tmp.unlink(missing_ok=True)
    return rows_in, rows_out


def file_sha256(path: Path) -> str:
    return sha256_file(path)
