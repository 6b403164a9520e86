"""Benchmarks: each prints `<name> ratio=<value> target=<value>` against a baseline measured in
the same run on the same machine. Details go to stderr; the ratio lines come last on stdout.

    python bench/run.py [--rows 1000000] [--big-rows 10000000] [--only NAME ...]

``gate_false_rejection`` / ``gate_false_promotion`` are shares of 30 daily retrain-and-gate
cycles on the stationary generator (the breakdown by verdict and by dropped feature goes to
stderr). ``monitoring_false_alerts`` is a count (alert-level days over 30 stationary days; the
retrain decisions among them go to stderr). ``monitoring_medium_drift_detection`` is in days
(``days=``, not ``ratio=``): from the onset of the generator's medium drift to the retraining
policy's decision to retrain, the worst of three onsets; the small and large levels' days to
alert and to retrain go to stderr.
``shadow_false_promotion`` is a share (equal-challenger sequences promoted at any of 30 daily
looks; the power and median promotion look of a better challenger go to stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGETS = {
    "fraud_scoring_throughput": (">=", 0.9),
    "fraud_scoring_memory": ("<=", 1.2),
    "dag_parse": ("<=", 1.5),
    "validation_overhead": ("<=", 0.25),
    "recommender_topk_vs_implicit": (">=", 1.0),
    "recommender_topk_vs_matmul": ("<=", 2.0),
    # A count, not a ratio: alert-level monitoring days over 30 stationary days.
    "monitoring_false_alerts": ("<=", 1),
    # Days, not a ratio: from the onset of medium drift to the policy's retrain decision.
    # A retrain waits until min_new_labelled_rows drifted rows with final labels reach its
    # training split: at 5,000 rows a day the newest ~1.7 days go to the holdout and one day
    # to the embargo, so day 4 is the earliest even for a drift alerting on day 1 (large drift
    # retrains on day 4); medium drift alerts on day 3 (3 warn days persist), hence 7. (It was
    # 5 while the policy counted rows that sat in the holdout: those retrains learned nothing
    # of the drift.)
    "monitoring_medium_drift_detection": ("<=", 7),
    # Shares of 30 daily retrain-and-gate cycles on the stationary generator.
    "gate_false_rejection": ("<=", 0.05),
    "gate_false_promotion": ("<=", 0.05),
    # A share: simulated equal-challenger sequences promoted at any of 30 daily looks.
    "shadow_false_promotion": ("<=", 0.05),
}

# Lines whose value is not a ratio say what it is instead of ``ratio=``.
UNITS = {"monitoring_medium_drift_detection": "days"}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def fitted_pipeline():
    import pandas as pd

    from mlops_core.sample_data import generate_transactions
    from mlops_core.schema import load_schema
    from mlops_core.train import TrainParams, train_model

    schema = load_schema("fraud")
    frame = pd.concat(
        [generate_transactions(dt.date(2026, 11, d), n_rows=5_000) for d in range(1, 8)],
        ignore_index=True,
    )
    started = time.perf_counter()
    result = train_model(frame, schema, TrainParams())
    return schema, result.pipeline, time.perf_counter() - started


def write_partition(path: Path, rows: int, chunk: int = 1_000_000) -> None:
    """A scoring input of ``rows`` rows, generated and written chunk by chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_core.sample_data import generate_transactions

    writer = None
    for i, start in enumerate(range(0, rows, chunk)):
        frame = generate_transactions(
            dt.date(2026, 11, 1) + dt.timedelta(days=i), n_rows=min(chunk, rows - start)
        )
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd")
        writer.write_table(table, row_group_size=250_000)
    writer.close()


def bench_throughput(tmp: Path, rows: int) -> float:
    import pandas as pd

    from mlops_core.score import score_file
    from mlops_core.storage import sha256_file

    schema, pipeline, _ = fitted_pipeline()
    src = tmp / "input.parquet"
    write_partition(src, rows)
    frame = pd.read_parquet(src, columns=schema.model_input_columns)
    bare, full = [], []
    for _ in range(2):
        started = time.perf_counter()
        pipeline.predict_proba(frame)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        score_file(src, tmp / "scores.parquet", pipeline, schema, model_version="1")
        sha256_file(tmp / "scores.parquet")  # the manifest checksum is part of the task
        full.append(time.perf_counter() - started)
    log(
        f"throughput: {rows} rows, bare predict_proba best {min(bare):.2f}s, full scoring path best {min(full):.2f}s"
    )
    return min(bare) / min(full)


_RSS_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    import skops.io
    from mlops_core.schema import load_schema
    from mlops_core.score import score_file
    from mlops_core.registry import TRUSTED_TYPES
    model = skops.io.load(sys.argv[1], trusted=TRUSTED_TYPES)
    started = time.perf_counter()
    rows = score_file(Path(sys.argv[2]), Path(sys.argv[3]), model, load_schema("fraud"), model_version="1")
    print(json.dumps({"rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "seconds": time.perf_counter() - started, "rows": rows[1]}))
    """
)


def bench_memory(tmp: Path, rows: int, big_rows: int) -> float:
    import skops.io

    _, pipeline, _ = fitted_pipeline()
    model = tmp / "model.skops"
    skops.io.dump(pipeline, model)
    peaks = {}
    for n in (rows, big_rows):
        src = tmp / f"input_{n}.parquet"
        write_partition(src, n)
        out = subprocess.run(
            [sys.executable, "-c", _RSS_CHILD, str(model), str(src), str(tmp / f"out_{n}.parquet")],
            capture_output=True,
            text=True,
            check=True,
        )
        peaks[n] = json.loads(out.stdout.strip().splitlines()[-1])
        log(
            f"memory: {n} rows scored in {peaks[n]['seconds']:.1f}s, peak RSS {peaks[n]['rss_kb'] / 1024:.0f} MiB"
        )
        src.unlink()
    return peaks[big_rows]["rss_kb"] / peaks[rows]["rss_kb"]


_PARSE_CHILD = textwrap.dedent(
    """
    import json, runpy, sys, time
    import airflow.sdk  # the baseline for both: Airflow itself is loaded
    from airflow.sdk import DAG
    started = time.perf_counter()
    namespace = runpy.run_path(sys.argv[1])
    seconds = time.perf_counter() - started
    dags = [v for v in namespace.values() if isinstance(v, DAG)]
    shape = [[d.dag_id, len(d.tasks), type(d.timetable).__name__] for d in dags]
    print(json.dumps({"seconds": seconds, "shape": shape}))
    """
)


def _same_shape_dag_file(shape: list[list]) -> str:
    """A DAG file with the same DAGs, task counts and kinds of schedule as the measured one,
    built from Airflow's own EmptyOperator: Airflow's intrinsic cost for that many DAGs."""
    lines = [
        "from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronDataIntervalTimetable",
        "from airflow.providers.standard.operators.empty import EmptyOperator",
        "",
    ]
    for i, (dag_id, tasks, timetable) in enumerate(shape):
        if timetable == "AssetOrTimeSchedule":
            schedule = (
                "AssetOrTimeSchedule(timetable=CronDataIntervalTimetable('0 2 * * *', "
                f"timezone='UTC'), assets=Asset(name='a{i}', uri='x-bench://a/{i}'))"
            )
        elif timetable == "CronDataIntervalTimetable":
            schedule = "CronDataIntervalTimetable('0 2 * * *', timezone='UTC')"
        elif timetable == "AssetTriggeredTimetable":
            schedule = f"Asset(name='a{i}', uri='x-bench://a/{i}')"
        else:
            schedule = "None"
        lines.append(f"with DAG(dag_id={dag_id!r}, start_date=None, schedule={schedule}):")
        lines.append("    prev = None")
        lines.append(f"    for t in range({tasks}):")
        lines.append("        task = EmptyOperator(task_id=f't{t}')")
        lines.append("        if prev is not None:")
        lines.append("            prev >> task")
        lines.append("        prev = task")
    return "\n".join(lines) + "\n"


def bench_dag_parse(tmp: Path) -> float:
    """Each DAG file's parse time against a file of the same DAGs (same count, tasks and kinds
    of schedule) made of EmptyOperators: what the factory, the spec loading and our operators
    add on top of what Airflow itself costs for those DAGs."""

    def parse(path: Path) -> dict:
        # Fastest of 7 fresh interpreters: parsing is deterministic work, so the minimum is
        # the least-disturbed measurement on a shared machine (as timeit recommends).
        runs = []
        for _ in range(7):
            out = subprocess.run(
                [sys.executable, "-c", _PARSE_CHILD, str(path)],
                capture_output=True,
                text=True,
                check=True,
                cwd=tmp,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        return min(runs, key=lambda r: r["seconds"])

    worst = 0.0
    for dag_file in sorted((REPO / "dags").glob("*.py")):
        ours = parse(dag_file)
        baseline_file = tmp / f"same_shape_{dag_file.name}"
        baseline_file.write_text(_same_shape_dag_file(ours["shape"]))
        baseline = parse(baseline_file)
        tasks = sum(n for _, n, _ in ours["shape"])
        log(
            f"dag_parse: {dag_file.name} {ours['seconds'] * 1000:.0f} ms for "
            f"{len(ours['shape'])} DAGs / {tasks} tasks; the same shape of EmptyOperator DAGs "
            f"{baseline['seconds'] * 1000:.0f} ms"
        )
        worst = max(worst, ours["seconds"] / baseline["seconds"])
    return worst


def bench_validation(tmp: Path, rows: int) -> float:
    """GX validation of a partition vs the training task's fit on the same rows."""
    import pandas as pd

    from mlops_core.sample_data import generate_transactions
    from mlops_core.schema import load_schema
    from mlops_core.train import TrainParams, train_model
    from mlops_core.validate import validate_frame

    schema = load_schema("fraud")
    days = 10
    frame = pd.concat(
        [
            generate_transactions(dt.date(2026, 11, 1) + dt.timedelta(days=i), n_rows=rows // days)
            for i in range(days)
        ],
        ignore_index=True,
    )
    day = dt.date(2026, 11, 1)
    one_day = frame[frame["timestamp"].dt.date == day]
    validate_frame(one_day.head(1000), schema, day)  # GX import + warm-up
    # Validation runs per daily partition; time it over the same rows the model trains on.
    started = time.perf_counter()
    for i in range(days):
        current = day + dt.timedelta(days=i)
        report = validate_frame(frame[frame["timestamp"].dt.date == current], schema, current)
        assert report.success, report.summary()
    validation = time.perf_counter() - started
    started = time.perf_counter()
    train_model(frame, schema, TrainParams())
    training = time.perf_counter() - started
    log(
        f"validation: {len(frame)} rows in {days} partitions {validation:.2f}s; training on the same rows {training:.2f}s"
    )
    return validation / training


_TOPK_CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np, scipy.sparse as sp
    from threadpoolctl import threadpool_limits

    mode, users, items, factors, seen_n, k, repeats = sys.argv[1], *map(int, sys.argv[2:8])
    rng = np.random.default_rng(42)
    U = (rng.standard_normal((users, factors)) * 0.1).astype(np.float32)
    V = (rng.standard_normal((items, factors)) * 0.1).astype(np.float32)
    rows = rng.integers(0, users, seen_n)
    cols = (rng.pareto(1.2, seen_n) * 50).astype(np.int64) % items  # popular items seen more
    seen = sp.csr_matrix((np.ones(seen_n, np.float32), (rows, cols)), shape=(users, items))
    seen.sum_duplicates()

    def bare():
        # The bare product, blocked so the users x items matrix is never materialised whole.
        out = np.empty((4096, items), np.float32)
        VT = np.ascontiguousarray(V.T)
        for s in range(0, users, 4096):
            e = min(users, s + 4096)
            np.matmul(U[s:e], VT, out=out[: e - s])
        return None

    def ours():
        from mlops_core.recsys.topk import topk
        return topk(U, V, seen, k)[0]

    def implicit_default():
        from implicit.cpu.als import AlternatingLeastSquares
        model = AlternatingLeastSquares(factors=factors, dtype=np.float32)
        model.user_factors, model.item_factors = U, V
        return model.recommend(np.arange(users), seen, N=k, filter_already_liked_items=True)[0]

    def implicit_blas1():  # implicit's own advice: one BLAS thread, its threads do the rest
        with threadpool_limits(1, "blas"):
            return implicit_default()

    fn = {"bare": bare, "ours": ours, "implicit": implicit_default, "implicit_blas1": implicit_blas1}[mode]
    result = fn()  # warm-up (numba compile cache, imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    if result is not None:
        np.save(sys.argv[8], np.sort(result, 1))
    print(json.dumps({"seconds": min(times), "times": times, "seen": int(seen.nnz),
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    """
)


def _topk_run(mode: str, args: list[str], tmp: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _TOPK_CHILD, mode, *args, str(tmp / f"{mode}.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_topk(
    tmp: Path, users: int, items: int, factors: int, seen: int, k: int = 10
) -> dict[str, float]:
    """Top-10 with seen items excluded: ours vs implicit's batch recommend vs bare matmul.

    Each contender runs in its own process (peak RSS per contender), on the same factors and
    seen matrix, best of 3 after a warm-up. implicit is measured with its default BLAS
    threads and with the single BLAS thread it recommends; the faster one is the baseline.
    """
    args = [str(v) for v in (users, items, factors, seen, k, 3)]
    modes = ("bare", "ours", "implicit", "implicit_blas1")
    runs = {mode: _topk_run(mode, args, tmp) for mode in modes}
    best_implicit = min(("implicit", "implicit_blas1"), key=lambda m: runs[m]["seconds"])
    for mode, run in runs.items():
        log(
            f"topk {users}x{items}x{factors}, {run['seen']} seen: {mode} {run['seconds']:.2f}s "
            f"(runs {', '.join(f'{t:.2f}' for t in run['times'])}), peak RSS {run['peak_rss_mib']:.0f} MiB"
        )
    import numpy as np

    ours, theirs = np.load(tmp / "ours.npy"), np.load(tmp / f"{best_implicit}.npy")
    same_rows = float((ours == theirs).all(axis=1).mean())
    overlap = float(
        np.mean([len(np.intersect1d(a, b)) / k for a, b in zip(ours, theirs, strict=True)])
    )
    log(
        f"topk: identical top-{k} sets for {same_rows:.4%} of users, mean overlap {overlap:.5f}"
        + ("" if same_rows == 1 else " (the rest are float near-ties: different summation order)")
    )
    if overlap < 0.999:
        raise SystemExit("top-K results disagree with implicit's; the benchmark is void")
    return {
        "recommender_topk_vs_implicit": runs[best_implicit]["seconds"] / runs["ours"]["seconds"],
        "recommender_topk_vs_matmul": runs["ours"]["seconds"] / runs["bare"]["seconds"],
    }


GATE_WORSE_FEATURE = "device"  # dropping it costs ~1/3 of the holdout PR-AUC (0.36 -> 0.24)


def bench_gate(cycles: int = 30, rows: int = 20_000) -> dict[str, float]:
    """The fraud gate on 30 daily retrain-and-gate cycles of the stationary generator, through
    the domain code (train_model + evaluate_gate, no MLflow), the way the training DAG runs
    it: each day a model is trained on the spec's window with only the labels final by the
    end of that day, an embargo day before its holdout, and a holdout that pools matured days
    up to the spec's ``holdout_positives`` but never starts before the champion's cutoff (no
    self-evaluation); it is gated against the champion (the last promoted model) on that
    holdout. A challenger trained the same way without one feature is gated against the same
    champion on the same rows.

    20,000 rows a day: ~160 frauds a day, of which only the matured ones count; the holdout
    pools ~11 days to the spec's 1,100 positives (the gate asks an open comparison to show
    an 18% drop with 95% power, which needs about that many).

    - false rejection: the fresh model, as good as the champion in expectation, is not
      promoted (``reject`` or ``insufficient``);
    - false promotion: the challenger missing ``GATE_WORSE_FEATURE`` is promoted.
    """
    import dataclasses

    import pandas as pd

    from mlops_core.evaluate import PROMOTE, cluster_groups, evaluate_gate
    from mlops_core.sample_data import generate_transactions
    from mlops_core.spec import load_spec
    from mlops_core.train import train_model

    spec = load_spec("fraud")
    schema, params, thresholds = spec.dataset, spec.train, spec.gate
    window = params.window_days
    start = dt.date(2026, 6, 1)
    frames = {
        start + dt.timedelta(days=i): generate_transactions(
            start + dt.timedelta(days=i), n_rows=rows
        )
        for i in range(-window, cycles)
    }

    def window_frame(end: dt.date) -> pd.DataFrame:
        days = [end - dt.timedelta(days=o) for o in range(window)]
        return pd.concat([frames[d] for d in sorted(days)], ignore_index=True)

    def without(column: str):
        return dataclasses.replace(
            schema,
            numeric=tuple(n for n in schema.numeric if n.name != column),
            categoricals=tuple(c for c in schema.categoricals if c.name != column),
        )

    worse_schema = without(GATE_WORSE_FEATURE)
    first = start - dt.timedelta(days=1)
    trained = train_model(window_frame(first), schema, params, day=first)
    champion, champion_cutoff = trained.pipeline, pd.Timestamp(trained.cutoff)
    fresh_verdicts: list[str] = []
    worse_verdicts: dict[str, list[str]] = {GATE_WORSE_FEATURE: []}
    positives: list[int] = []
    holdout_days: list[float] = []
    pr_auc: dict[str, list[float]] = {"fresh": [], "champion": [], GATE_WORSE_FEATURE: []}
    reasons: list[str] = []
    started = time.perf_counter()
    for i in range(cycles):
        day = start + dt.timedelta(days=i)
        frame = window_frame(day)
        fresh = train_model(frame, schema, params, day=day, evaluate_after=champion_cutoff)
        holdout = fresh.holdout
        y = schema.target(holdout[schema.label_column])
        positives.append(int(y.sum()))
        holdout_days.append(
            (pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1) - pd.Timestamp(fresh.cutoff))
            / pd.Timedelta(days=1)
        )
        champ_scores = champion.predict_proba(holdout[schema.model_input_columns])[:, 1]
        groups = cluster_groups(holdout, thresholds.cluster_column)
        verdict = evaluate_gate(
            y,
            fresh.pipeline.predict_proba(holdout[schema.model_input_columns])[:, 1],
            champ_scores,
            thresholds,
            groups=groups,
        )
        fresh_verdicts.append(verdict.decision)
        pr_auc["fresh"].append(verdict.challenger["pr_auc"])
        pr_auc["champion"].append(verdict.champion["pr_auc"])
        worse = train_model(frame, worse_schema, params, day=day, evaluate_after=champion_cutoff)
        assert len(worse.holdout) == len(holdout)  # the same rows: same labels, same split
        scores = worse.pipeline.predict_proba(holdout[worse_schema.model_input_columns])[:, 1]
        judged = evaluate_gate(y, scores, champ_scores, thresholds, groups=groups)
        worse_verdicts[GATE_WORSE_FEATURE].append(judged.decision)
        pr_auc[GATE_WORSE_FEATURE].append(judged.challenger["pr_auc"])
        if verdict.decision != PROMOTE:
            reasons.append(f"{day} fresh {verdict.decision}: {verdict.reasons[-1][:160]}")
        if judged.decision == PROMOTE:
            reasons.append(
                f"{day} without {GATE_WORSE_FEATURE} promoted: {judged.reasons[-1][:160]}"
            )
        if verdict.decision == PROMOTE:
            champion, champion_cutoff = fresh.pipeline, pd.Timestamp(fresh.cutoff)
    counts = {
        name: {d: v.count(d) for d in sorted(set(v))}
        for name, v in {"fresh": fresh_verdicts, **worse_verdicts}.items()
    }
    log(
        f"gate: {cycles} cycles of {window} days x {rows} rows ({time.perf_counter() - started:.0f}s); "
        f"holdout positives min {min(positives)} median {sorted(positives)[len(positives) // 2]} "
        f"max {max(positives)}, holdout days median {sorted(holdout_days)[cycles // 2]:.1f}; "
        f"verdicts {counts}" + "".join(f"\n    {r}" for r in reasons)
    )
    log(
        "gate: mean holdout PR-AUC "
        + ", ".join(f"{name} {sum(v) / len(v):.3f}" for name, v in pr_auc.items())
    )
    promoted = {c: v.count(PROMOTE) / cycles for c, v in worse_verdicts.items()}
    log(
        "gate: challenger without "
        + ", ".join(f"{c}: promoted {share:.1%}" for c, share in promoted.items())
    )
    return {
        "gate_false_rejection": sum(d != PROMOTE for d in fresh_verdicts) / cycles,
        "gate_false_promotion": promoted[GATE_WORSE_FEATURE],
    }


class _MonitoredLake:
    """A local lake with the fraud use case's validated partitions and champion scores,
    written the way the pipeline writes them, and the domain monitoring run on it directly
    (no Airflow, no MLflow)."""

    def __init__(self, root: Path, champion, train_frames: dict) -> None:
        from mlops_core.schema import load_schema
        from mlops_core.spec import load_spec
        from mlops_core.storage import LocalStorage

        self.storage = LocalStorage(root)
        self.schema = load_schema("fraud")
        self.spec = load_spec("fraud")
        self.champion = champion
        for day, frame in train_frames.items():
            self._validated(day, frame)

    def _validated(self, day: dt.date, frame) -> None:
        from mlops_core import lake

        path = self.storage.path(lake.working_data_key(self.schema.name, day))
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_parquet(path, index=False)
        marker = lake.working_prefix(self.schema.name, day) + lake.VALIDATED_MARKER
        self.storage.write_bytes(marker, json.dumps({"rows": len(frame)}).encode())

    def monitor_day(self, day: dt.date, frame) -> dict:
        import pandas as pd

        from mlops_core import lake
        from mlops_core.monitoring import assess

        self._validated(day, frame)
        scores = pd.DataFrame(
            {
                self.schema.id_column: frame[self.schema.id_column],
                "score": self.champion.model.predict_proba(frame[self.schema.model_input_columns])[
                    :, 1
                ],
                "model_version": self.champion.version,
            }
        )
        prefix = lake.scored_prefix(self.schema.name, day)
        self.storage.path(prefix).mkdir(parents=True, exist_ok=True)
        scores.to_parquet(self.storage.path(prefix + "scores.parquet"), index=False)
        manifest = {"model_version": str(self.champion.version)}
        self.storage.write_bytes(prefix + lake.MANIFEST, json.dumps(manifest).encode())
        monitoring = self.spec.monitoring
        return assess(
            self.storage,
            self.schema,
            day,
            self.champion,
            model_name="fraud_model",
            thresholds=monitoring.drift,
            perf=monitoring.performance,
            policy=monitoring.policy,
            training=self.spec.train,
        ).record


def _monitoring_champion(first: dt.date, rows: int):
    """The fraud spec's model trained once on the 7 stationary days from ``first``."""
    import pandas as pd

    from mlops_core.monitoring import Champion
    from mlops_core.sample_data import generate_transactions
    from mlops_core.schema import load_schema
    from mlops_core.train import TrainParams, train_model

    train_frames = {
        first + dt.timedelta(days=i): generate_transactions(
            first + dt.timedelta(days=i), n_rows=rows
        )
        for i in range(7)
    }
    frame = pd.concat(train_frames.values(), ignore_index=True)
    result = train_model(frame, load_schema("fraud"), TrainParams())
    champion = Champion(
        version=1,
        model=result.pipeline,
        reference_days=[d.isoformat() for d in train_frames],
        trained_through=max(train_frames).isoformat(),
        holdout=result.holdout,
    )
    return champion, train_frames


def _days_to_retrain(
    lake: _MonitoredLake, onset: dt.date, drift: float, rows: int, calm: int = 3, days: int = 10
) -> dict:
    """Monitor ``calm`` stationary days before ``onset`` (a baseline to judge against), then
    ``days`` drifted ones; the days from the onset (the onset itself is day 1) to the first
    warn-or-worse, the first alert and the first retrain decision (None: not within
    ``days``)."""
    from mlops_core.sample_data import generate_transactions

    found: dict = {"warn": None, "alert": None, "retrain": None, "why": None}
    for i in range(-calm, days):
        day = onset + dt.timedelta(days=i)
        strength = drift if i >= 0 else 0.0
        record = lake.monitor_day(day, generate_transactions(day, n_rows=rows, drift=strength))
        if i < 0:
            continue
        level = record["decision"]["level"]
        if found["warn"] is None and level != "ok":
            found["warn"] = i + 1
            found["why"] = record["drifted_features"] or "prevalence/performance"
        if found["alert"] is None and level == "alert":
            found["alert"] = i + 1
        if record["decision"]["retrain"]:
            found["retrain"] = i + 1
            break
    return found


def bench_monitoring(tmp: Path, rows: int = 5_000, days: int = 30) -> dict[str, float]:
    """Alert-level days over ``days`` stationary days (``generate_transactions`` is stationary
    day to day) for a model trained once on the 7 days before, monitored with the fraud spec's
    settings through the domain functions.

    Then graded drift (``sample_data.DRIFT_LEVELS``; its docstring gives the PSI of each
    level): from the onset of a level, the days to the first alert-level day and to the first
    retrain decision of the policy. ``monitoring_medium_drift_detection`` is the worst, over
    three onsets (different days of data), of the days from the onset of medium drift to the
    retrain decision (``inf``: none within 10 days)."""
    from mlops_core.sample_data import DRIFT_LEVELS, generate_transactions

    started = time.perf_counter()
    first = dt.date(2026, 11, 1)
    champion, train_frames = _monitoring_champion(first, rows)
    log(f"monitoring: trained once on {7 * rows} rows in {time.perf_counter() - started:.1f}s")

    lake = _MonitoredLake(tmp / "monitoring-stationary", champion, train_frames)
    levels, retrains, why = [], 0, []
    for i in range(days):
        day = first + dt.timedelta(days=7 + i)
        record = lake.monitor_day(day, generate_transactions(day, n_rows=rows))
        levels.append(record["decision"]["level"])
        retrains += record["decision"]["retrain"]
        if record["decision"]["level"] != "ok":
            why.append(
                f"{day}: drift {record['drift_level']} {record['drifted_features']}; "
                f"performance {record['performance_level']} ({record['performance_reason']}); "
                f"prevalence {record['prevalence_level']} ({record['prevalence']['reason']})"
            )
    alerts = levels.count("alert")
    log(
        f"monitoring: {days} stationary days of {rows} rows: {alerts} alert-level days, "
        f"{levels.count('warn')} warn-level days, {retrains} retrain decisions "
        f"({time.perf_counter() - started:.1f}s so far)" + "".join(f"\n    {w}" for w in why)
    )

    medium = []
    for name in ("small", "medium", "large"):
        onsets = [
            first + dt.timedelta(days=10 + 13 * r) for r in range(3 if name == "medium" else 1)
        ]
        for r, onset in enumerate(onsets):
            lake = _MonitoredLake(tmp / f"monitoring-drift-{name}-{r}", champion, train_frames)
            found = _days_to_retrain(lake, onset, DRIFT_LEVELS[name], rows)
            log(
                f"monitoring: {name} drift ({DRIFT_LEVELS[name]}) from {onset} (day 1): first "
                f"warn-or-worse on day {found['warn'] or 'none within 10'} ({found['why']}), "
                f"first alert on day {found['alert'] or 'none within 10'}, retrain decision on "
                f"day {found['retrain'] or 'none within 10'}"
            )
            if name == "medium":
                medium.append(found["retrain"] or float("inf"))
    log(f"monitoring: bench took {time.perf_counter() - started:.1f}s")
    return {
        "monitoring_false_alerts": float(alerts),
        "monitoring_medium_drift_detection": float(max(medium)),
    }


def bench_shadow(days: int = 30, rows: int = 5_000, sequences: int = 20_000) -> float:
    """False promotions of the shadow test over ``days`` daily looks, on paths of the pooled
    PR-AUC difference simulated from what ``generate_transactions`` gives.

    Calibration (real): the fraud spec's gradient boosting trained on one stationary week is
    the champion; the same estimator and settings trained on the next week is the *equal*
    challenger (same family, disjoint sample); shallower trees (8 leaves, 100 iterations at
    0.05) are the *better* challenger. All three score ``days`` new stationary days of
    ``rows``; ``shadow.compare`` judges both pairs at every look on the pooled days (paired
    bootstrap, the spec's shadow settings), which measures the bootstrap se per positive and
    when the real sequences promote. Single days check the normal approximation: their
    standardised differences should have standard deviation ~1.

    Simulation (the ratio): ``sequences`` paths with daily positives drawn at the measured
    rate, information ``positives / (se per positive)**2`` and the score ``difference *
    information`` as Brownian motion with drift 0 (an exactly equal challenger) whose noise
    is the calibration's spread times the bootstrap's (when above 1), judged with
    ``shadow.boundary`` as ``compare`` does. Bootstraps draw the spec's ``cluster_column``
    groups whole. The same paths with the better pair's measured
    drift give its power and median promotion look."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import average_precision_score

    from mlops_core.sample_data import generate_transactions
    from mlops_core.schema import load_schema
    from mlops_core.shadow import PROMOTE, boundary, compare
    from mlops_core.spec import load_spec
    from mlops_core.train import TrainParams, train_model

    started = time.perf_counter()
    schema = load_schema("fraud")
    policy = load_spec("fraud").monitoring.shadow
    first = dt.date(2026, 11, 1)

    def week(start: dt.date) -> pd.DataFrame:
        return pd.concat(
            [generate_transactions(start + dt.timedelta(days=i), n_rows=rows) for i in range(7)],
            ignore_index=True,
        )

    base = TrainParams()
    champion = train_model(week(first), schema, base).pipeline
    equal = train_model(week(first + dt.timedelta(days=7)), schema, base).pipeline
    better_params = TrainParams(max_iter=100, learning_rate=0.05, max_leaf_nodes=8)
    better = train_model(week(first), schema, better_params).pipeline
    live = [
        generate_transactions(first + dt.timedelta(days=14 + i), n_rows=rows) for i in range(days)
    ]
    y = [np.asarray(schema.target(f[schema.label_column]), dtype=bool) for f in live]
    # The spec's cluster column: a customer's burst of frauds is drawn whole.
    groups = [f[policy.cluster_column].astype(str).to_numpy() for f in live]
    scores = {
        name: [m.predict_proba(f[schema.model_input_columns])[:, 1] for f in live]
        for name, m in (("champion", champion), ("equal", equal), ("better", better))
    }
    log(
        f"shadow: 3 models trained, {days} days of {rows} rows scored in {time.perf_counter() - started:.1f}s"
    )

    real: dict[str, dict] = {}
    for name in ("equal", "better"):
        promoted, verdict = None, None
        for look in range(1, days + 1):
            verdict = compare(
                np.concatenate(y[:look]),
                np.concatenate(scores["champion"][:look]),
                np.concatenate(scores[name][:look]),
                policy,
                look=look,
                groups=np.concatenate(groups[:look]),
            )
            if verdict.decision == PROMOTE:
                promoted = look
                break
        real[name] = {"promoted": promoted, "verdict": verdict}
        log(
            f"shadow: real {name} challenger: "
            + (f"promoted at look {promoted}" if promoted else f"not promoted in {days} looks")
            + f"; {verdict.reason}"
        )
    last = real["equal"]["verdict"]
    se_per_positive = last.se * np.sqrt(last.positives)
    prevalence = last.positives / last.rows
    one_day = dataclasses.replace(policy, min_rows=1, min_positives=5)
    daily = [
        compare(y[d], scores["champion"][d], scores["equal"][d], one_day, groups=groups[d])
        for d in range(days)
    ]
    diffs = np.array([v.diff for v in daily])
    spread = np.std((diffs - diffs.mean()) / np.array([v.se for v in daily]), ddof=1)
    # The paths below move by the true spread: when the bootstrap se is too small (spread
    # above 1), the test's boundary (set in bootstrap se) is crossed more often, and the
    # ratio counts those promotions; a spread below 1 (conservative se) is not credited.
    inflation = max(1.0, float(spread))
    log(
        f"shadow: calibration: se of the PR-AUC difference {se_per_positive:.3f}/sqrt(positives), "
        f"prevalence {prevalence:.4f}; single days: sd of (difference - mean)/se = {spread:.2f} "
        f"over {days} days (1 if the bootstrap se is right); the paths' noise is scaled by "
        f"{inflation:.2f}"
    )

    rng = np.random.default_rng(0)
    positives = rng.binomial(rows, prevalence, (sequences, days)).cumsum(axis=1)
    info = positives / se_per_positive**2
    step = np.diff(info, axis=1, prepend=0.0)
    noise = inflation * np.sqrt(step) * rng.standard_normal(step.shape)
    se = 1 / np.sqrt(info)
    bar = boundary(se, policy.min_effect, policy.confidence)
    judged = (positives >= policy.min_positives) & (
        np.arange(1, days + 1) * rows >= policy.min_rows
    )

    def first_promotion(delta: float) -> np.ndarray:
        estimate = np.cumsum(delta * step + noise, axis=1) / info
        hit = judged & (estimate - bar * se > 0)
        return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0)

    false_share = float((first_promotion(0.0) > 0).mean())
    naive = (judged & (np.cumsum(noise, axis=1) / info / se > 1.96)).any(axis=1).mean()
    log(
        f"shadow: {sequences} simulated equal-challenger sequences of {days} looks: "
        f"{false_share:.2%} promoted (a fixed 95% interval judged daily: {naive:.1%})"
    )
    pooled_y = np.concatenate(y)
    gain = average_precision_score(pooled_y, np.concatenate(scores["better"])) - (
        average_precision_score(pooled_y, np.concatenate(scores["champion"]))
    )
    for label, delta in (
        (f"better challenger (measured on all {days} days)", gain),
        ("a gain of min_effect", policy.min_effect),
    ):
        looks = first_promotion(delta)
        hits = looks[looks > 0]
        log(
            f"shadow: {label}, PR-AUC +{delta:.3f}: power {(looks > 0).mean():.1%} within "
            f"{days} looks, median promotion look {np.median(hits) if len(hits) else 'none'}"
        )
    log(f"shadow: bench took {time.perf_counter() - started:.1f}s")
    return false_share


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--only", nargs="*", default=list(TARGETS))
    parser.add_argument("--gate-cycles", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    results = {}
    with tempfile.TemporaryDirectory(prefix="mlops-bench-") as tmp_dir:
        tmp = Path(tmp_dir)
        runners = {
            "fraud_scoring_throughput": lambda: bench_throughput(tmp, args.rows),
            "fraud_scoring_memory": lambda: bench_memory(tmp, args.rows, args.big_rows),
            "dag_parse": lambda: bench_dag_parse(tmp),
            "validation_overhead": lambda: bench_validation(tmp, args.rows),
            "shadow_false_promotion": bench_shadow,
        }
        topk_results: dict[str, float] = {}
        gate_results: dict[str, float] = {}
        monitoring_results: dict[str, float] = {}
        for name in args.only:
            if name.startswith("monitoring_"):
                if not monitoring_results:
                    monitoring_results = bench_monitoring(tmp)
                results[name] = monitoring_results[name]
            elif name.startswith("gate_"):
                if not gate_results:
                    gate_results = bench_gate(args.gate_cycles)
                results[name] = gate_results[name]
            elif name.startswith("recommender_topk"):
                if not topk_results:
                    topk_results = bench_topk(tmp, 100_000, 20_000, 64, 2_000_000)
                results[name] = topk_results[name]
            else:
                results[name] = runners[name]()
    log(f"own peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for name, ratio in results.items():
        op, target = TARGETS[name]
        unit = UNITS.get(name, "ratio")
        print(f"{name} {unit}={ratio:.3f} target={op}{target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
