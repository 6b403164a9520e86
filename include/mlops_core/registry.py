"""MLflow tracking and registry: log runs, register versions, move aliases, load safely.

Aliases, not stages: ``challenger`` marks the newest registered candidate, ``champion`` the
model that scores and ``previous`` the champion it replaced (the rollback target). Models are
loaded only through skops with the explicit TRUSTED_TYPES list below, never with whatever
list an artifact declares about itself.

Every call takes the tracking URI and goes through an explicit ``MlflowClient``; nothing here
sets MLflow's process-global URI, environment variables or active run (see :func:`client`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops_core.errors import NoChampionError, RegistryError

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous"

# The experiment tag MLflow's UI reads to choose its view. MLflow 3.17 has no Python constant
# for it; the key and value are the ones its bundled UI (ExperimentKind enum) and its
# onboarding skill use. Without it the UI opens experiments in the GenAI view.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CUSTOM_MODEL_DEVELOPMENT = "custom_model_development"

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
    """An ``MlflowClient`` bound to ``tracking_uri`` for both tracking and registry.

    Nothing process-global changes: no ``mlflow.set_tracking_uri``, no ``MLFLOW_TRACKING_URI``
    in ``os.environ``, no active run. Every function here takes the URI and builds its client,
    so a Celery worker running tasks for different stores one after the other never mixes
    them, and nothing falls back to MLflow's default store in the current directory.
    """
    from mlflow import MlflowClient

    # A constant, the same for every task: it only silences progress bars in task logs.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def open_run(mlc: Any, experiment_id: str, run_name: str, tags: dict[str, str]) -> Iterator[str]:
    """Create a run through ``mlc`` and yield its id; FINISHED on exit, FAILED on an error.

    The explicit counterpart of ``mlflow.start_run``: the same system tags (user, source,
    git commit) are resolved, but no run becomes "active" in the process.
    """
    from mlflow.entities import RunStatus
    from mlflow.tracking.context import registry as context_registry

    run = mlc.create_run(experiment_id, run_name=run_name, tags=context_registry.resolve_tags(tags))
    run_id = run.info.run_id
    try:
        yield run_id
    except BaseException:
        mlc.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    mlc.set_terminated(run_id)


def log_values(
    mlc: Any,
    run_id: str,
    *,
    params: dict[str, Any] | None = None,
    metrics: dict[str, float] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Params (as strings, like ``mlflow.log_params``), metrics at step 0 and tags, in one call."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    mlc.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in (metrics or {}).items()],
        params=[Param(k, str(v)) for k, v in (params or {}).items()],
        tags=[RunTag(k, str(v)) for k, v in (tags or {}).items()],
    )


def log_child_run(
    tracking_uri: str,
    experiment_id: str,
    *,
    parent_run_id: str,
    run_name: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
) -> str:
    """A nested run under ``parent_run_id`` (shown beneath it in the MLflow UI)."""
    mlc = client(tracking_uri)
    with open_run(
        mlc, experiment_id, run_name, {**tags, "mlflow.parentRunId": parent_run_id}
    ) as run_id:
        log_values(mlc, run_id, params=params, metrics=metrics)
    return run_id


def log_model(mlc: Any, run_id: str, save: Callable[[Path, Any], None]) -> str:
    """Log a model named ``model`` from run ``run_id`` and return its ``models:/<id>`` URI.

    The explicit counterpart of ``mlflow.<flavor>.log_model`` in MLflow 3: create a
    LoggedModel linked to the run (with the run's params and metrics, as the fluent API
    does), let ``save(path, mlflow_model)`` write it with the flavor's ``save_model`` into a
    temporary directory, upload that directory and mark the model READY (FAILED on error).
    """
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus, Metric
    from mlflow.models import Model
    from mlflow.tracking.context import registry as context_registry

    run = mlc.get_run(run_id)
    model = mlc.create_logged_model(
        run.info.experiment_id,
        name="model",
        source_run_id=run_id,
        tags=context_registry.resolve_tags(),
        params={k: str(v) for k, v in run.data.params.items()},
    )
    try:
        mlc.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
        now = int(time.time() * 1000)
        metrics = [
            Metric(k, v, now, 0, model_id=model.model_id, run_id=run_id)
            for k, v in run.data.metrics.items()
        ]
        if metrics:
            mlc.log_batch(run_id, metrics=metrics)
        mlflow_model = Model(
            artifact_path=model.artifact_location,
            model_uuid=model.model_id,
            run_id=run_id,
            model_id=model.model_id,
        )
        with tempfile.TemporaryDirectory(prefix="mlops-logmodel-") as tmp:
            local = Path(tmp) / "model"
            save(local, mlflow_model)
            # save_model may load the model to infer requirements, leaving bytecode behind.
            for pycache in list(local.rglob("__pycache__")):
                shutil.rmtree(pycache, ignore_errors=True)
            mlc.log_model_artifacts(model.model_id, str(local))
    except BaseException:
        mlc.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
        raise
    mlc.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return f"models:/{model.model_id}"


def ensure_experiment(tracking_uri: str, name: str, artifact_location: str | None) -> str:
    """The id of experiment ``name``, created if absent, tagged as classic model development.

    An existing experiment without ``mlflow.experimentKind`` gets it; one that already says
    something else keeps its value (someone chose it).
    """
    mlc = client(tracking_uri)
    existing = mlc.get_experiment_by_name(name)
    if existing is not None:
        if EXPERIMENT_KIND_TAG not in existing.tags:
            mlc.set_experiment_tag(
                existing.experiment_id, EXPERIMENT_KIND_TAG, CUSTOM_MODEL_DEVELOPMENT
            )
        return existing.experiment_id
    return mlc.create_experiment(
        name,
        artifact_location=artifact_location,
        tags={EXPERIMENT_KIND_TAG: CUSTOM_MODEL_DEVELOPMENT},
    )


def split_counts(
    params: dict[str, Any], metrics: dict[str, float]
) -> tuple[dict[str, Any], dict[str, float]]:
    """Row counts (``*_rows`` keys) moved from metrics to params: they describe the data a
    run saw, not how well it did, and as metrics they would clutter charts and comparisons.
    A count already given as a param keeps that value."""
    counts = {k: int(v) for k, v in metrics.items() if k.endswith("_rows")}
    rest = {k: v for k, v in metrics.items() if not k.endswith("_rows")}
    return {**counts, **params}, rest


def sklearn_model(pipeline: Any, input_example: Any) -> Callable[[Path, Any], None]:
    """A saver for :func:`log_training_run`: a scikit-learn pipeline as skops (no pickle;
    only :data:`TRUSTED_TYPES` load), its signature inferred on ``input_example``."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    signature = infer_signature(input_example, pipeline.predict_proba(input_example)[:, 1])

    def save(path: Path, mlflow_model: Any) -> None:
        mlflow.sklearn.save_model(
            pipeline,
            str(path),
            mlflow_model=mlflow_model,
            serialization_format="skops",
            skops_trusted_types=TRUSTED_TYPES,
            signature=signature,
            input_example=input_example.head(5),
        )

    return save


def log_training_run(
    *,
    tracking_uri: str,
    experiment_id: str,
    run_name: str,
    model: Callable[[Path, Any], None],
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: dict[str, Path],
) -> tuple[str, str]:
    """Log one training run of any task type: values, the model, then its artifacts.

    ``model(path, mlflow_model)`` writes the model with its flavor's ``save_model``
    (:func:`sklearn_model`, or the ranking task's pyfunc saver). ``tags`` are the run's own
    (provenance, :func:`mlops_core.provenance.airflow_run_tags`); they override the system
    tags MLflow resolves (``mlflow.source.*``). Row counts given as metrics are logged as
    params (:func:`split_counts`). ``artifacts`` maps an artifact folder to a file or a
    directory (its files are logged under that folder).

    Returns:
        (run_id, model_uri)
    """
    mlc = client(tracking_uri)
    params, metrics = split_counts(params, metrics)
    with open_run(mlc, experiment_id, run_name, tags) as run_id:
        log_values(mlc, run_id, params=params, metrics=metrics)
        model_uri = log_model(mlc, run_id, model)
        for artifact_path, path in artifacts.items():
            if Path(path).is_dir():
                mlc.log_artifacts(run_id, str(path), artifact_path=artifact_path)
            else:
                mlc.log_artifact(run_id, str(path), artifact_path=artifact_path)
    return run_id, model_uri


def create_version(
    tracking_uri: str,
    model_name: str,
    model_uri: str,
    run_id: str,
    tags: dict[str, str] | None = None,
) -> str:
    """Register ``model_uri`` (a ``models:/<model id>`` from :func:`log_model`) as a new version.

    The source given to the registry is the logged model's artifact location: with a
    ``models:/<id>`` source, MLflow's SQL registry store looks the model up through the
    process-global tracking URI, which this module never sets.
    """
    mlc = client(tracking_uri)
    try:
        mlc.get_registered_model(model_name)
    except Exception:  # noqa: BLE001 - MLflow raises a generic RestException when absent
        mlc.create_registered_model(model_name)
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    source = mlc.get_logged_model(model_id).artifact_location if model_id else model_uri
    mv = mlc.create_model_version(model_name, source, run_id=run_id, tags=tags, model_id=model_id)
    return str(mv.version)


def register_version(
    tracking_uri: str, model_name: str, model_uri: str, run_id: str, tags: dict[str, str]
) -> ModelRef:
    """Register ``model_uri`` as a new version, with no alias: a registered version is only a
    candidate until its gate passes (aliases move in :func:`set_challenger` and
    :func:`move_champion`). A retried task finds the version of its run instead of
    registering the run twice."""
    mlc = client(tracking_uri)
    existing = mlc.search_model_versions(f"name='{model_name}' and run_id='{run_id}'")
    if existing:
        version = str(max(int(v.version) for v in existing))
    else:
        version = create_version(tracking_uri, model_name, model_uri, run_id, tags)
    return ModelRef(model_name, version, run_id, f"version:{version}")


def release_challenger(tracking_uri: str, model_name: str, version: str) -> None:
    """Remove alias ``challenger`` if it still points at ``version``."""
    mlc = client(tracking_uri)
    mv = mlc.get_model_version(model_name, str(version))
    _drop_alias_from(mlc, ModelRef(model_name, str(version), mv.run_id, ""), CHALLENGER)


def set_challenger(tracking_uri: str, model_name: str, version: str) -> ModelRef:
    """Point alias ``challenger`` at ``version``."""
    mlc = client(tracking_uri)
    mlc.set_registered_model_alias(model_name, CHALLENGER, str(version))
    mv = mlc.get_model_version(model_name, str(version))
    return ModelRef(model_name, str(version), mv.run_id, f"alias:{CHALLENGER}")


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


def download_model(tracking_uri: str, ref: ModelRef, dst: Path) -> Path:
    """Download a registered version's files into ``dst`` and return their folder.

    The version's storage location is asked of this store's registry and downloaded from
    there: ``models:/...`` URIs are resolved by MLflow through the process-global registry
    URI, whatever ``tracking_uri`` is passed alongside.
    """
    import mlflow.artifacts

    location = client(tracking_uri).get_model_version_download_uri(ref.name, ref.version)
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=location,
            dst_path=str(dst),
            tracking_uri=tracking_uri,
            registry_uri=tracking_uri,
        )
    )


def load_model(tracking_uri: str, ref: ModelRef) -> Any:
    """Download a registered version and load it with skops and our explicit trusted types."""
    import skops.io

    with tempfile.TemporaryDirectory(prefix="mlops-model-") as tmp:
        local = download_model(tracking_uri, ref, Path(tmp))
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
    dst.mkdir(parents=True, exist_ok=True)
    return Path(client(tracking_uri).download_artifacts(run_id, path, dst_path=str(dst)))


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

    The champion it replaces gets alias ``previous``, and ``challenger`` leaves ``ref`` if it
    points there (a champion is no longer a candidate). Rollbacks come through here too, so
    the version rolled away from becomes ``previous``. Tags and the other aliases are written
    before ``champion`` moves, so a crash in between leaves the old champion in place (a retry
    finishes the job); moving the champion is a single registry call. Promoting the current
    champion again is a no-op apart from tidying a ``challenger`` alias left on it.
    """
    mlc = client(tracking_uri)
    previous = resolve(tracking_uri, ref.name, CHAMPION)
    if previous is not None and previous.version == ref.version:
        _drop_alias_from(mlc, ref, CHALLENGER)
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
    if previous is not None:
        mlc.set_registered_model_alias(ref.name, PREVIOUS, previous.version)
    _drop_alias_from(mlc, ref, CHALLENGER)
    mlc.set_registered_model_alias(ref.name, CHAMPION, ref.version)
    return PromotionRecord(
        ref.name,
        ref.version,
        previous.version if previous else None,
        True,
        reason,
        actor,
        at.isoformat(),
    )


def _drop_alias_from(mlc: Any, ref: ModelRef, alias: str) -> None:
    """Delete ``alias`` if it points at ``ref``'s version (elsewhere, it stays)."""
    try:
        current = mlc.get_model_version_by_alias(ref.name, alias)
    except Exception:  # noqa: BLE001 - absent alias
        return
    if str(current.version) == ref.version:
        mlc.delete_registered_model_alias(ref.name, alias)


def aliases(tracking_uri: str, model_name: str) -> dict[str, str]:
    """Every alias of ``model_name`` and the version it points at (empty when unregistered)."""
    try:
        model = client(tracking_uri).get_registered_model(model_name)
    except Exception:  # noqa: BLE001 - absent model
        return {}
    return {alias: str(version) for alias, version in model.aliases.items()}


def version_tags(tracking_uri: str, ref: ModelRef) -> dict[str, str]:
    mv = client(tracking_uri).get_model_version(ref.name, ref.version)
    return dict(mv.tags)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
