"""MLflow tracking and registry: log runs, register versions, move aliases, load safely.

Aliases, not stages: ``challenger`` marks the newest registered candidate, ``champion`` the
model that scores. Models are loaded only through skops with the explicit TRUSTED_TYPES list
below, never with whatever list an artifact declares about itself.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops_core.errors import NoChampionError, RegistryError

CHAMPION, CHALLENGER = "champion", "challenger"

# Beyond skops' defaults, the fitted pipeline needs exactly these; anything else is refused.
TRUSTED_TYPES = [
    "mlops_core.features.add_time_features",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "numpy.dtype",
]


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    run_id: str
    rule: str  # how it was chosen: "alias:champion", "version:3", ...

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionRecord:
    model_name: str
    version: str
    previous_version: str | None
    promoted: bool
    reason: str
    actor: str
    at: str


def client(tracking_uri: str):
    import mlflow
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(tracking_uri: str, name: str, artifact_location: str | None) -> str:
    mlc = client(tracking_uri)
    existing = mlc.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    return mlc.create_experiment(name, artifact_location=artifact_location)


def log_training_run(
    *,
    tracking_uri: str,
    experiment_id: str,
    run_name: str,
    pipeline: Any,
    input_example: Any,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: dict[str, Path],
) -> tuple[str, str]:
    """Log one training run with its model (skops), signature and artifacts.

    Returns:
        (run_id, model_uri)
    """
    import mlflow
    from mlflow.models import infer_signature

    client(tracking_uri)
    signature = infer_signature(input_example, pipeline.predict_proba(input_example)[:, 1])
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        mlflow.set_tags(tags)
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            signature=signature,
            input_example=input_example.head(5),
        )
        for artifact_path, path in artifacts.items():
            mlflow.log_artifact(str(path), artifact_path=artifact_path)
    return run.info.run_id, info.model_uri


def register_challenger(
    tracking_uri: str, model_name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> ModelRef:
    """Register ``model_uri`` as a new version and point alias ``challenger`` at it."""
    import mlflow

    mlc = client(tracking_uri)
    try:
        mlc.get_registered_model(model_name)
    except Exception:  # noqa: BLE001 - MLflow raises a generic RestException when absent
        mlc.create_registered_model(model_name)
    existing = mlc.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if existing:  # a retried task must not register the same run twice
        version = str(max(int(v.version) for v in existing))
    else:
        version = str(mlflow.register_model(model_uri, model_name, tags=tags).version)
    mlc.set_registered_model_alias(model_name, CHALLENGER, version)
    return ModelRef(model_name, version, run_id, f"alias:{CHALLENGER}")


def resolve(tracking_uri: str, model_name: str, alias: str = CHAMPION) -> ModelRef | None:
    """The version behind ``alias``, or None when the model or alias does not exist."""
    mlc = client(tracking_uri)
    try:
        mv = mlc.get_model_version_by_alias(model_name, alias)
    except Exception:  # noqa: BLE001 - absent model or alias
        return None
    return ModelRef(model_name, str(mv.version), mv.run_id, f"alias:{alias}")


def require(tracking_uri: str, model_name: str, alias: str = CHAMPION) -> ModelRef:
    ref = resolve(tracking_uri, model_name, alias)
    if ref is None:
        raise NoChampionError(
            f"model {model_name!r} has no {alias!r} alias in {tracking_uri}. Run the training "
            "DAG and let a model pass the evaluation gate before scoring."
        )
    return ref


def load_model(tracking_uri: str, ref: ModelRef) -> Any:
    """Download a registered version and load it with skops and our explicit trusted types."""
    import mlflow
    import skops.io

    client(tracking_uri)
    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=ref.uri, dst_path=tmp))
        files = sorted(local.rglob("*.skops"))
        if not files:
            raise RegistryError(f"{ref.uri} has no skops model file; refusing to load it")
        try:
            return skops.io.load(files[0], trusted=TRUSTED_TYPES)
        except Exception as exc:
            raise RegistryError(
                f"refusing to load {ref.uri}: {type(exc).__name__}: {exc}. The artifact may be "
                "corrupt or tampered with; the champion alias was not changed."
            ) from exc


def download_run_artifact(tracking_uri: str, run_id: str, path: str, dst: Path) -> Path:
    import mlflow

    client(tracking_uri)
    return Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst))
    )


def log_run_text(tracking_uri: str, run_id: str, text: str, artifact_file: str) -> None:
    client(tracking_uri).log_text(run_id, text, artifact_file)


def tag_version(tracking_uri: str, ref: ModelRef, tags: dict[str, str]) -> None:
    mlc = client(tracking_uri)
    for key, value in tags.items():
        mlc.set_model_version_tag(ref.name, ref.version, key, value)


def promote(
    tracking_uri: str, ref: ModelRef, *, reason: str, actor: str, at: dt.datetime
) -> PromotionRecord:
    """Move alias ``champion`` to ``ref``, recording who/when/why and the previous champion.

    Tags are written before the alias moves, so a crash between them leaves the old champion
    in place (a retry finishes the job); moving the alias is a single registry call.
    Promoting the current champion again is a no-op.
    """
    previous = resolve(tracking_uri, ref.name, CHAMPION)
    if previous is not None and previous.version == ref.version:
        return PromotionRecord(
            ref.name, ref.version, None, False, "already champion", actor, at.isoformat()
        )
    tag_version(
        tracking_uri,
        ref,
        {
            "promoted_at": at.isoformat(),
            "promoted_by": actor,
            "promotion_reason": reason,
            "previous_champion": previous.version if previous else "none",
        },
    )
    client(tracking_uri).set_registered_model_alias(ref.name, CHAMPION, ref.version)
    return PromotionRecord(
        ref.name,
        ref.version,
        previous.version if previous else None,
        True,
        reason,
        actor,
        at.isoformat(),
    )


def version_tags(tracking_uri: str, ref: ModelRef) -> dict[str, str]:
    mv = client(tracking_uri).get_model_version(ref.name, ref.version)
    return dict(mv.tags)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
