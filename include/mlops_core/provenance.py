"""Where an MLflow run came from: the Airflow task that made it and the data it trained on.

Tags and dataset inputs go through an explicit ``MlflowClient`` (:func:`registry.client`), like
everything else that talks to MLflow here.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mlops_core import registry

TRAINING = "training"
# MLflow's limits (mlflow.utils.validation) for a dataset digest and an input tag value.
MAX_DIGEST = 36
MAX_INPUT_TAG_VALUE = 500


def airflow_run_tags(dag_id: str, run_id: str, task_id: str, try_number: int) -> dict[str, str]:
    """MLflow run tags naming the Airflow task try that produced the run.

    ``mlflow.source.name``/``mlflow.source.type`` replace what MLflow would resolve on its
    own (the worker's command line, ``LOCAL``), so the run's page says ``airflow:<dag>.<task>``
    and ``JOB``. Pass the result (merged with other tags) as the run's tags.
    """
    return {
        "airflow.dag_id": dag_id,
        "airflow.run_id": run_id,
        "airflow.task_id": task_id,
        "airflow.try_number": str(try_number),
        "mlflow.source.name": f"airflow:{dag_id}.{task_id}",
        "mlflow.source.type": "JOB",
    }


def dataset_source(partitions: Sequence[str]) -> str:
    """The folder (or ``s3://`` prefix) all partition URIs share: the dataset's source."""
    if not partitions:
        raise ValueError("a training dataset needs at least one source partition")
    common = os.path.commonprefix(list(partitions))
    return common[: common.rfind("/") + 1] if "/" in common else common


def log_training_dataset(
    tracking_uri: str,
    run_id: str,
    frame: Any,
    name: str,
    source_partitions: Sequence[str] | Mapping[str, str],
    digest: str,
    *,
    targets: str | None = None,
    context: str = TRAINING,
) -> None:
    """Record ``frame`` as the run's training data so MLflow's Datasets tab shows it.

    Args:
        frame: the training rows (pandas); MLflow stores its schema and row count, not rows.
        name: the dataset's name (e.g. the schema name).
        source_partitions: the partition URIs (``storage.uri(key)``) the frame was read from,
            or a mapping of those URIs to their content hashes. Their shared folder becomes
            the dataset's source; the list is an input tag when it fits MLflow's 500
            characters, and always the run artifact ``datasets/<name>.json``.
        digest: the data fingerprint (at most 36 characters), shown as the dataset's digest.
        targets: the label column, if the frame has it.
        context: the input's ``mlflow.data.context`` tag, ``training`` by default.

    Raises:
        ValueError: no partitions, or a digest longer than MLflow accepts.
    """
    import mlflow.data
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    if len(digest) > MAX_DIGEST:
        raise ValueError(
            f"dataset digest {digest!r} is {len(digest)} characters; MLflow accepts {MAX_DIGEST}"
        )
    partitions = list(source_partitions)
    source = dataset_source(partitions)
    with warnings.catch_warnings():
        # Integer-column hints and "source can be interpreted in multiple ways" for local
        # folders: noise in task logs, the source resolves to a local artifact source.
        warnings.simplefilter("ignore", UserWarning)
        dataset = mlflow.data.from_pandas(
            frame, source=source, name=name, digest=digest, targets=targets
        )
        entity = dataset._to_mlflow_entity()
    relative = ",".join(p.removeprefix(source) for p in partitions)
    listed = relative if len(relative) <= MAX_INPUT_TAG_VALUE else f"{len(partitions)} partitions"
    tags = [
        InputTag(MLFLOW_DATASET_CONTEXT, context),
        InputTag("mlops.source_partitions", listed),
    ]
    mlc = registry.client(tracking_uri)
    mlc.log_inputs(run_id, datasets=[DatasetInput(entity, tags=tags)])
    record = {
        "name": name,
        "digest": digest,
        "source": source,
        "rows": len(frame),
        "partitions": dict(source_partitions)
        if isinstance(source_partitions, Mapping)
        else partitions,
    }
    with tempfile.TemporaryDirectory(prefix="mlops-dataset-") as tmp:
        path = Path(tmp) / f"{name}.json"
        path.write_text(json.dumps(record, indent=2, sort_keys=True))
        mlc.log_artifact(run_id, str(path), artifact_path="datasets")
