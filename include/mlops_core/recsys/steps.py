"""Task-sized recommender steps (train, gate, batch top-K); the generic ones (extract,
validate, register, promote, model selection) are shared with fraud in ``mlops_core.steps``.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from mlops_core import lake, outputs, registry
from mlops_core.config import Settings
from mlops_core.errors import InputMissingError, TrainingError
from mlops_core.evaluate import GateVerdict
from mlops_core.outputs import OutputManifest
from mlops_core.provenance import log_training_dataset
from mlops_core.recsys.data import generate_interactions
from mlops_core.recsys.evaluate import (
    EvalSet,
    RecGateThresholds,
    choose_holdout,
    evaluate_model,
    evaluate_popularity,
    evaluate_rec_gate,
    popularity_lists,
    recommended_lists,
)
from mlops_core.recsys.model import (
    FactorModel,
    RecTrainParams,
    fit_ranking_model,
    interaction_matrix,
    popularity_topk,
    recommend_known,
)
from mlops_core.recsys.topk import topk
from mlops_core.schema import DatasetSchema
from mlops_core.storage import Storage, sha256_file
from mlops_core.windows import check_window_minimums, fingerprint, read_window

# The recommender's own column names; load_window maps the dataset's columns onto them.
COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
OUTPUT_FILE = "recommendations.parquet"


def land_sample_partition(
    storage: Storage, schema: DatasetSchema, day: dt.date, *, seed: int = 11, sessions: int = 2_500
) -> dict[str, Any]:
    """Generate a day of synthetic interactions into the landing zone (Parquet), then
    ``_SUCCESS``."""
    from mlops_core.generators import land_frame

    frame = generate_interactions(day, seed=seed, sessions=sessions)
    return {"key": land_frame(storage, schema, day, frame, fmt="parquet"), "rows": len(frame)}


def load_window(
    storage: Storage, schema: DatasetSchema, end_day: dt.date, days: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Validated interaction partitions in ``(end_day - days, end_day]`` (the one window
    loader) under the recommender's column names, and their hashes."""
    window = read_window(
        storage, schema, end_day, days, read=lambda path: _read_interactions(path, schema)
    )
    frame = window.frame
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    return frame, window.partitions


def _read_interactions(path: Path, schema: DatasetSchema) -> pd.DataFrame:
    """A validated partition with the dataset's user/item/rating/timestamp columns under the
    recommender's names; without a rating column every interaction weighs 1."""
    names = {
        schema.user_column: "user_id",
        schema.item_column: "item_id",
        schema.timestamp_column: "timestamp",
    }
    if schema.rating_column:
        names[schema.rating_column] = "rating"
    frame = pd.read_parquet(path, columns=list(names)).rename(columns=names)
    if not schema.rating_column:
        frame["rating"] = np.float32(1.0)
    return frame[COLUMNS]


def pending_history(
    storage: Storage, schema: DatasetSchema, end_day: dt.date, days: int
) -> list[str]:
    """Days in ``(end_day - days, end_day]`` that have landed (``_SUCCESS``) but are not yet
    validated: their extraction/validation is still running in another run, or never ran.

    Batch top-K reads the user histories of the whole window, so scoring a day while an
    earlier day is in flight would make the output depend on run timing (concurrent
    backfill runs); scoring waits for these days instead.
    """
    pending = []
    for offset in range(days - 1, -1, -1):
        day = end_day - dt.timedelta(days=offset)
        if storage.exists(lake.landing_prefix(schema.name, day) + lake.SUCCESS_MARKER) and not (
            storage.exists(lake.working_prefix(schema.name, day) + lake.VALIDATED_MARKER)
        ):
            pending.append(day.isoformat())
    return pending


def time_split(
    frame: pd.DataFrame, end_day: dt.date, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    cutoff = pd.Timestamp(end_day - dt.timedelta(days=holdout_days - 1), tz="UTC")
    return frame[frame["timestamp"] < cutoff], frame[frame["timestamp"] >= cutoff], cutoff


def train(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    params: RecTrainParams,
    experiment: str,
    run_tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Fit the configured estimator (``params.estimator``) on the window before the holdout
    days, evaluate it and the popularity baseline on the holdout, and log model + evaluation
    data to MLflow (the estimator name among the run's params).

    The holdout is the newest ``holdout_days``, extended backwards by whole days (up to
    ``max_holdout_days``, leaving at least one day of history) until ``min_users_evaluated``
    users can be evaluated; when even that is short, the gate says so.

    The registered model is the evaluated one (trained before the cutoff), so the gate's
    numbers describe exactly what would be promoted.
    """
    from mlops_core.steps import code_version, lock_hash

    frame, partitions = load_window(storage, schema, day, params.window_days)
    check_window_minimums(
        frame,
        schema,
        days=params.window_days,
        columns={schema.user_column: "user_id", schema.item_column: "item_id"},
    )
    holdout_days, holdout_users = choose_holdout(
        frame,
        day,
        min_days=params.holdout_days,
        max_days=min(params.max_holdout_days, params.window_days - 1),
        min_users=params.min_users_evaluated,
    )
    history, holdout, cutoff = time_split(frame, day, holdout_days)
    if history.empty or holdout.empty:
        raise TrainingError(
            f"the {params.window_days}-day window up to {day} has {len(history)} interactions "
            f"before the holdout cutoff {cutoff.date()} and {len(holdout)} after it; both are "
            "needed. Land more days or lower holdout_days."
        )
    model = fit_ranking_model(history, params)
    data = EvalSet.build(history, holdout)
    metrics = evaluate_model(model, data, params.k)
    baseline = evaluate_popularity(data, params.k)
    metrics.update({f"popularity_{k}": v for k, v in baseline.items() if k != "users_evaluated"})
    model.meta.update(
        {
            "cutoff": cutoff.isoformat(),
            "trained_through": day.isoformat(),
            "holdout_days_used": holdout_days,
        }
    )
    tags = {
        "data_partitions": ",".join(sorted(partitions)),
        "data_fingerprint": fingerprint(partitions),
        "code_version": code_version(),
        "lock_hash": lock_hash(),
        "schema_fingerprint": schema.fingerprint(),
        "logical_date": day.isoformat(),
        "model_kind": "recommender",
        **(run_tags or {}),
    }
    experiment_id = registry.ensure_experiment(
        settings.mlflow_tracking_uri, experiment, settings.mlflow_artifact_location
    )
    with tempfile.TemporaryDirectory(prefix="mlops-rectrain-") as tmp:
        model_dir = Path(tmp) / "model_dir"
        model.save(model_dir)
        eval_dir = Path(tmp) / "evaluation"
        eval_dir.mkdir()
        history[["user_id", "item_id", "rating"]].to_parquet(eval_dir / "history.parquet")
        holdout[["user_id", "item_id"]].to_parquet(eval_dir / "holdout.parquet")
        run_id, model_uri = registry.log_training_run(
            tracking_uri=settings.mlflow_tracking_uri,
            experiment_id=experiment_id,
            run_name=f"{schema.name}-{day.isoformat()}",
            model=pyfunc_topk_model(model_dir, model.user_ids[:5]),
            params={
                **params.to_dict(),
                "users": len(model.user_ids),
                "items": len(model.item_ids),
                "train_interactions": len(history),
                "cutoff": cutoff.isoformat(),
                "holdout_days_used": holdout_days,
                "holdout_users": holdout_users,
            },
            metrics=metrics,
            tags=tags,
            artifacts={"evaluation": eval_dir},
        )
    _log_evaluation(settings.mlflow_tracking_uri, run_id, model, data, params.k)
    log_training_dataset(
        settings.mlflow_tracking_uri,
        run_id,
        history,
        name=schema.name,
        source_partitions={
            storage.uri(lake.working_data_key(schema.name, lake.parse_day(d))): h
            for d, h in partitions.items()
        },
        digest=tags["data_fingerprint"],
    )
    return {
        "run_id": run_id,
        "model_uri": model_uri,
        "metrics": metrics,
        "tags": tags,
        "holdout_days": holdout_days,
        "cutoff": cutoff.isoformat(),
    }


def _log_evaluation(uri: str, run_id: str, model: FactorModel, data: EvalSet, k: int) -> None:
    """recall@K, NDCG@K and coverage for K up to twice the gated K, as a plot and a table."""
    from mlops_core.recsys.evaluate import recommended_lists
    from mlops_core.tracking_artifacts import log_ranking_evaluation, ranking_curves

    ks = sorted({1, 5, k, 2 * k} | set(range(10, 2 * k + 1, 10)))
    lists = recommended_lists(model, data, max(ks))
    curves = ranking_curves(data.users, lists, data.relevant, ks, data.catalogue)
    log_ranking_evaluation(uri, run_id, curves)


def pyfunc_topk_model(model_dir: Path, example_users: list[str]) -> Callable[[Path, Any], None]:
    """A saver for :func:`registry.log_training_run`: the top-K pyfunc (models from code;
    factors and id maps as artifacts, nothing pickled), its signature from ``example_users``."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    from mlops_core.recsys import pyfunc_model

    example = pd.DataFrame({"user_id": example_users})
    output = recommend_known(FactorModel.load(model_dir), example_users, 10)
    signature = infer_signature(example, output, params={"k": 10})

    def save(path: Path, mlflow_model: Any) -> None:
        mlflow.pyfunc.save_model(
            str(path),
            mlflow_model=mlflow_model,
            python_model=pyfunc_model.__file__,
            artifacts={"model_dir": str(model_dir)},
            signature=signature,
            input_example=example,
        )

    return save


def load_factor_model(tracking_uri: str, ref: registry.ModelRef) -> FactorModel:
    """Download a registered version's arrays (no unpickling) and load them."""
    with tempfile.TemporaryDirectory(prefix="mlops-recmodel-") as tmp:
        return FactorModel.load(registry.download_model(tracking_uri, ref, Path(tmp)))


def gate(
    settings: Settings, model_name: str, version: str, thresholds: RecGateThresholds
) -> GateVerdict:
    """Challenger vs popularity vs champion on the challenger's holdout; raise on rejection."""
    from mlops_core.steps import ensure_not_self_evaluation, gate_candidates, record_gate_verdict

    uri = settings.mlflow_tracking_uri
    challenger, champion = gate_candidates(uri, model_name, version)
    with tempfile.TemporaryDirectory(prefix="mlops-recgate-") as tmp:
        folder = registry.download_run_artifact(uri, challenger.run_id, "evaluation", Path(tmp))
        history = pd.read_parquet(folder / "history.parquet")
        holdout = pd.read_parquet(folder / "holdout.parquet")
    data = EvalSet.build(history, holdout)
    k = thresholds.k
    if champion is not None:
        ensure_not_self_evaluation(uri, champion, challenger)
    verdict = evaluate_rec_gate(
        data,
        recommended_lists(load_factor_model(uri, challenger), data, k),
        popularity_lists(data, k),
        recommended_lists(load_factor_model(uri, champion), data, k) if champion else None,
        thresholds,
    )
    return record_gate_verdict(settings, challenger, champion, verdict)


OUTPUT_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("rank", pa.int16()),
        ("item_id", pa.string()),
        ("score", pa.float32()),
        ("model_version", pa.string()),
        ("source", pa.string()),
    ]
)


def score(
    storage: Storage,
    schema: DatasetSchema,
    day: dt.date,
    *,
    settings: Settings,
    model_name: str,
    alias: str = registry.CHAMPION,
    selection: str = "alias",
    k: int = 10,
    history_days: int = 28,
    users_per_chunk: int = 50_000,
    zone: str = lake.SCORED,
) -> OutputManifest:
    """Top-K unseen items for every user, written to ``scored/<dataset>/dt=<day>/``.

    Users: everyone the model was trained on plus everyone with interactions in the
    ``history_days`` validated partitions up to ``day``. Their vectors are folded in from
    their training interactions plus that recent history, and items from either are never
    recommended. Only users with no interaction on the model's items (new users whose
    recent items are all new too) get the most popular items, marked ``source=popularity``.
    Written chunk by chunk to a temp file, uploaded, manifest last; the same inputs and
    model give the same bytes.
    """
    from mlops_core.steps import select_model

    prefix = lake.working_prefix(schema.name, day)
    if not storage.exists(prefix + lake.VALIDATED_MARKER):
        raise InputMissingError(
            f"{schema.name} dt={day} is not validated ({storage.uri(prefix)}); run the "
            "scoring DAG's extract and validate tasks for this day first"
        )
    ref = select_model(storage, settings, model_name, day, selection=selection, alias=alias)
    model = load_factor_model(settings.mlflow_tracking_uri, ref)
    history, partitions = load_window(storage, schema, day, history_days)
    users = pd.Index(np.union1d(np.asarray(model.user_ids, dtype=str), history["user_id"].unique()))
    recent = interaction_matrix(history, users, model.item_index)
    rows_in = len(history)
    del history
    trained = model.training_rows(users)
    # Vectors fold in both; a pair in both counts once (the windows overlap by design).
    matrix = sp.csr_matrix(recent.maximum(trained))
    seen = _union_pattern(recent, trained)
    has_history = np.diff(seen.indptr) > 0
    out_key = lake.scored_prefix(schema.name, day, zone) + OUTPUT_FILE
    user_ids = users.to_numpy(dtype=object)
    item_ids = np.asarray(model.item_ids, dtype=object)
    rows_out = 0
    with tempfile.TemporaryDirectory(prefix="mlops-recscore-") as tmp:
        path = Path(tmp) / OUTPUT_FILE
        with pq.ParquetWriter(path, OUTPUT_SCHEMA, compression="zstd") as writer:
            for start in range(0, len(users), users_per_chunk):
                end = min(len(users), start + users_per_chunk)
                block = seen[start:end]
                idx, val = topk(model.fold_in(matrix[start:end]), model.item_factors, block, k)
                fallback = ~has_history[start:end]
                if fallback.any():
                    pidx, pval = popularity_topk(model.popularity, block[fallback], k)
                    idx[fallback], val[fallback] = pidx, pval
                table = _chunk_table(
                    user_ids[start:end], idx, val, fallback, item_ids, ref.version, k
                )
                rows_out += table.num_rows
                writer.write_table(table)
        manifest = OutputManifest(
            dataset=schema.name,
            day=day.isoformat(),
            output_key=out_key,
            output_sha256=sha256_file(path),
            rows_in=rows_in,
            rows_out=rows_out,
            inputs={
                lake.working_data_key(schema.name, lake.parse_day(d)): h
                for d, h in sorted(partitions.items())
            },
            model_name=ref.name,
            model_version=ref.version,
            model_rule=ref.rule,
            columns=OUTPUT_SCHEMA.names,
            details={
                "k": k,
                "users": len(users),
                "users_model": int(has_history.sum()),
                "users_popularity": int((~has_history).sum()),
                "history_days": sorted(partitions),
            },
        )
        outputs.publish(storage, schema, day, zone, path, manifest)
    return manifest


def _union_pattern(a: sp.csr_matrix, b: sp.csr_matrix) -> sp.csr_matrix:
    """Non-zero wherever ``a`` or ``b`` stores an entry (a rating of 0 is an interaction)."""
    ones = [
        sp.csr_matrix((np.ones_like(m.data), m.indices, m.indptr), shape=m.shape) for m in (a, b)
    ]
    union = sp.csr_matrix(ones[0] + ones[1])
    union.sort_indices()
    return union


def _chunk_table(
    users: np.ndarray,
    idx: np.ndarray,
    val: np.ndarray,
    fallback: np.ndarray,
    item_ids: np.ndarray,
    version: str,
    k: int,
) -> pa.Table:
    valid = (idx >= 0).ravel()
    n = len(users)
    source = np.where(fallback, "popularity", "model")
    return pa.table(
        {
            "user_id": pa.array(np.repeat(users, k)[valid], pa.string()),
            "rank": pa.array(np.tile(np.arange(1, k + 1, dtype=np.int16), n)[valid]),
            "item_id": pa.array(item_ids[idx.ravel()[valid]], pa.string()),
            "score": pa.array(val.ravel()[valid].astype(np.float32)),
            "model_version": pa.array([version] * int(valid.sum()), pa.string()),
            "source": pa.array(np.repeat(source, k)[valid], pa.string()),
        },
        schema=OUTPUT_SCHEMA,
    )
