"""`make demo`: every scenario end to end through Airflow on the embedded default stack.

SQLite Airflow metadata DB, local MLflow (SQLite + local artifacts) and a local lake, all under
the demo's own data root: `<repo>/.local/`, or `--data-root PATH`. Inherited `MLOPS_*`,
`MLFLOW_*` and `AIRFLOW_*` settings are ignored (their names are printed) unless
`--use-environment` is given. The demo marks the root it creates, refuses a non-empty root
without that marker, and on a fresh run removes only its own entries in it (`--keep` removes
nothing). The demo starts the embedded live Airflow (scripts/live_airflow.py: scheduler,
dag-processor, triggerer, api-server on 127.0.0.1, LocalExecutor) with schedules off and triggers
every run through its REST API, so the runs, their task logs, durations, notes and extra links are
in the Airflow UI afterwards (`make airflow`). The fraud and retraining scenarios run in order;
the recommender and loans scenarios run beside them. The demo exits non-zero when any expected
outcome is not met, and writes `<data root>/demo-summary.json`.

    python scripts/demo.py [--data-root PATH] [--use-environment] [--keep] [--rows N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

from airflow_env import (  # noqa: E402
    DataRootRefused,
    demo_environment,
    ignored_message,
    is_store_setting,
    migrate,
    prepare_data_root,
)
from live_airflow import LiveAirflow, free_port, live_environment, port_free  # noqa: E402

from mlops_airflow.rest import AirflowRestClient  # noqa: E402

HISTORY_START = dt.date(2026, 11, 1)
TRAIN_DAY = dt.date(2026, 11, 7)
SCORE_DAYS = [dt.date(2026, 11, 8), dt.date(2026, 11, 9), dt.date(2026, 11, 10)]
BAD_DAY = dt.date(2026, 11, 11)
MONITOR_DAYS = [dt.date(2026, 11, 12) + dt.timedelta(days=i) for i in range(6)]
DRIFT_FROM = dt.date(2026, 11, 13)
REC_WINDOW = 28
REC_TRAIN_DAY = dt.date(2026, 11, 7)
REC_SCORE_DAY = dt.date(2026, 11, 8)
# The third use case lives on other dates and columns: text labels, nulls, issued_at.
LOANS_TRAIN_DAY = dt.date(2025, 3, 14)
LOANS_SCORE_DAY = dt.date(2025, 3, 15)


# A DAG run through the live Airflow (fraud training with its gate is the longest, ~1-2 min).
RUN_TIMEOUT = 900
DEMO_DAGS = (
    "fraud_sample_landing",
    "fraud_training",
    "fraud_scoring",
    "fraud_monitoring",
    "recommender_sample_landing",
    "recommender_training",
    "recommender_scoring",
    "loans_sample_landing",
    "loans_training",
    "loans_scoring",
)
SCENARIOS = ("fraud", "retraining", "recommender", "loans")


class DemoFailure(RuntimeError):
    pass


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def _lake(env: dict[str, str]):
    from mlops_core.config import Settings
    from mlops_core.schema import load_schema
    from mlops_core.storage import storage_from_url

    settings = Settings.from_env(env)
    return (
        settings,
        storage_from_url(settings.storage_url, settings.s3_endpoint_url),
        load_schema("fraud"),
    )


def land_bad_batch(env: dict[str, str], day: dt.date, rows: int) -> dict[str, object]:
    """A producer bug: three negative amounts and a duplicated transaction id."""
    from mlops_core import lake
    from mlops_core.sample_data import generate_transactions

    _, storage, schema = _lake(env)
    frame = generate_transactions(day, n_rows=rows)
    frame.loc[[5, 17, 99], "amount"] = -20.0
    frame.loc[7, "transaction_id"] = frame.loc[8, "transaction_id"]
    frame["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prefix = lake.landing_prefix(schema.name, day)
    storage.write_bytes(prefix + "part-000.csv", frame.to_csv(index=False).encode())
    storage.write_bytes(prefix + lake.SUCCESS_MARKER, b"")
    return {"negative_amount_rows": 3, "duplicate_id_rows": 2}


class DagRunner:
    """Runs DAGs for days through the live Airflow (REST trigger, scheduler, LocalExecutor) and
    checks each final state against the expected one."""

    def __init__(self, airflow: AirflowRestClient, runs: list[dict], base_url: str) -> None:
        self.airflow, self.runs, self.base_url = airflow, runs, base_url

    def start(
        self, dag_id: str, day: dt.date, conf: dict | None = None, rerun: bool = False
    ) -> tuple[str, dt.date, str, float]:
        started = time.monotonic()
        if rerun:  # what on-call does in the UI: clear the day's run; the scheduler reruns it
            run_id = next(
                r["run_id"]
                for r in reversed(self.runs)
                if r["dag_id"] == dag_id and r["day"] == day.isoformat()
            )
            self.airflow.clear_run(dag_id, run_id)
        else:
            run_id = self.airflow.trigger(dag_id, f"{day.isoformat()}T00:00:00Z", conf)
        return dag_id, day, run_id, started

    def logs(self, dag_id: str, run_id: str) -> str:
        """Every task's log of the run (the last try of each), as the UI shows them."""
        parts = []
        for ti in self.airflow.task_instances(dag_id, run_id):
            if ti["try_number"]:
                text = self.airflow.task_log(dag_id, run_id, ti["task_id"], ti["try_number"])
                parts.append(f"--- {ti['task_id']} ({ti['state']}) ---\n{text}")
        return "\n".join(parts)

    def attempt(
        self, dag_id: str, day: dt.date, conf: dict | None = None, rerun: bool = False
    ) -> tuple[str, str]:
        """A run whose outcome the caller checks: (final state, task logs)."""
        dag_id, day, run_id, started = self.start(dag_id, day, conf, rerun)
        state = self.airflow.wait_run(dag_id, run_id, timeout=RUN_TIMEOUT)["state"]
        return state, self.logs(dag_id, run_id)

    def finish(self, handle: tuple[str, dt.date, str, float], expect: str = "success") -> None:
        dag_id, day, run_id, started = handle
        run = self.airflow.wait_run(dag_id, run_id, timeout=RUN_TIMEOUT)
        seconds = time.monotonic() - started
        state = run["state"]
        states = self.airflow.task_states(dag_id, run_id)
        failed = sorted(t for t, s in states.items() if s == "failed")
        url = f"{self.base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
        self.runs.append(
            {
                "dag_id": dag_id,
                "day": day.isoformat(),
                "run_id": run_id,
                "state": state,
                "expected": expect,
                "seconds": round(seconds, 1),
                "failed_tasks": failed,
                "url": url,
            }
        )
        _say(f"{dag_id} {day}: {state} in {seconds:.0f}s (expected {expect}); {url}")
        if state != expect:
            raise DemoFailure(
                f"{dag_id} {day} ended {state} (failed tasks {failed}), expected {expect}; see {url}"
            )

    def __call__(
        self,
        dag_id: str,
        day: dt.date,
        expect: str = "success",
        conf: dict | None = None,
        rerun: bool = False,
    ) -> None:
        self.finish(self.start(dag_id, day, conf, rerun), expect)

    def many(self, dag_id: str, days: list[dt.date]) -> None:
        """Runs for several days at once (the scheduler runs them side by side)."""
        handles = [self.start(dag_id, day) for day in days]
        for handle in handles:
            self.finish(handle)


def retraining_scenario(env: dict[str, str], rows: int, dag: DagRunner) -> dict[str, object]:
    """Drift from DRIFT_FROM: monitoring flags it on the first drifted day; one alert day never
    retrains, and the policy waits until drifted rows with final labels reach the training
    split a retrain would cut (the newest rows go to its holdout, one embargo day before it:
    at the demo's 5,000 rows a day that is the fourth drifted day); the retrained model passes
    the gate and replaces the champion; the next alert does not retrain again (cooldown)."""
    from mlops_core import ledger, registry, sample_data

    settings, storage, schema = _lake(env)
    before = registry.require(settings.mlflow_tracking_uri, "fraud_model")
    for day in MONITOR_DAYS:
        sample_data.land_sample_partition(
            storage, schema, day, rows=rows, drift=1.0 if day >= DRIFT_FROM else 0.0
        )
    _say(f"landed {MONITOR_DAYS[0]}..{MONITOR_DAYS[-1]}; the data drifts from {DRIFT_FROM}")
    # The days are scored side by side with the champion (as the daily scoring runs would
    # have scored them); monitoring then walks the days in order, as its daily runs would.
    dag.many("fraud_scoring", MONITOR_DAYS)
    decisions, retrain_runs = [], []
    for day in MONITOR_DAYS:
        dag("fraud_monitoring", day)
        record = json.loads(
            storage.read_bytes(f"monitoring/fraud_model/decisions/dt={day.isoformat()}.json")
        )
        decisions.append(
            {
                "day": day.isoformat(),
                "drift_level": record["drift_level"],
                "drifted_features": record["drifted_features"],
                "performance_level": record["performance_level"],
                "retrain": record["decision"]["retrain"],
                "rows_for_training": record["policy_state"]["rows_for_training"],
                "reason": record["decision"]["reason"],
            }
        )
        _say(
            f"monitoring {day}: drift {record['drift_level']} {record['drifted_features']}; "
            f"retrain={record['decision']['retrain']} ({record['decision']['reason']})"
        )
        if record["decision"]["retrain"]:
            # What the scheduler does on the retrain-request Asset event (its extra carries the day).
            dag("fraud_training", day, conf={"day": day.isoformat()})
            retrain_runs.append(day.isoformat())
    after = registry.require(settings.mlflow_tracking_uri, "fraud_model")
    verdict_path = (
        settings.reports_dir / "gates" / "fraud_model" / f"v{after.version}" / "verdict.json"
    )
    verdict = json.loads(verdict_path.read_text()) if after.version != before.version else None
    first_alert = next((d["day"] for d in decisions if d["drift_level"] == "alert"), None)
    return {
        "drift_injected_from": DRIFT_FROM.isoformat(),
        "drift_detected_on": first_alert,
        "decisions": decisions,
        "retraining_runs": retrain_runs,
        "champion_before": before.version,
        "champion_after": after.version,
        "gate": verdict
        and {
            "decision": verdict["decision"],
            "challenger": verdict["challenger"],
            "champion": verdict["champion"],
            "verdict": str(verdict_path),
        },
        "ledger": [
            {"seq": e.seq, "kind": e.kind, "from": e.from_version, "to": e.to_version, "at": e.at}
            for e in ledger.read_ledger(storage, "fraud_model")
        ],
        "reports": str(settings.reports_dir / "monitoring" / "fraud_model"),
    }


def recommender_scenario(env: dict[str, str], sessions: int, dag: DagRunner) -> dict[str, object]:
    """27 days of interactions landed directly, the 28th through the producer DAG; train,
    gate against popularity, promote; then top-10 for every user for the next day."""
    from mlops_core import lake, registry, steps
    from mlops_core.recsys import steps as rec_steps
    from mlops_core.schema import load_schema

    settings, storage, _ = _lake(env)
    schema = load_schema("recommender")
    history = steps.window_days(REC_TRAIN_DAY, REC_WINDOW)[:-1]
    _say(f"landing {len(history)} days of interactions directly, then {REC_TRAIN_DAY} via the DAG")
    for day in history:
        rec_steps.land_sample_partition(storage, schema, day, sessions=sessions)
    dag("recommender_sample_landing", REC_TRAIN_DAY, conf={"rows": sessions})
    dag("recommender_training", REC_TRAIN_DAY, conf={"window_days": REC_WINDOW})
    champion = registry.require(settings.mlflow_tracking_uri, "recommender_model")
    verdict_path = (
        settings.reports_dir
        / "gates"
        / "recommender_model"
        / f"v{champion.version}"
        / "verdict.json"
    )
    verdict = json.loads(verdict_path.read_text())
    rec_steps.land_sample_partition(storage, schema, REC_SCORE_DAY, sessions=sessions)
    dag("recommender_scoring", REC_SCORE_DAY)
    manifest = json.loads(
        storage.read_bytes(lake.scored_prefix(schema.name, REC_SCORE_DAY) + lake.MANIFEST)
    )
    if manifest["rows_out"] < manifest["users"]:
        raise DemoFailure(f"recommendations missing for some users: {manifest}")
    return {
        "model_name": "recommender_model",
        "champion_version": champion.version,
        "gate": {
            "decision": verdict["decision"],
            "challenger": verdict["challenger"],
            "popularity": verdict["context"]["popularity"],
            "thresholds": verdict["thresholds"],
            "verdict": str(verdict_path),
        },
        "recommendations": {
            "day": manifest["day"],
            "k": manifest["k"],
            "users_scored": manifest["users"],
            "users_model": manifest["users_model"],
            "users_popularity_fallback": manifest["users_popularity"],
            "rows_written": manifest["rows_out"],
            "model_version": manifest["model_version"],
            "output": storage.uri(manifest["output_key"]),
            "sha256": manifest["output_sha256"],
        },
    }


def loans_scenario(env: dict[str, str], dag: DagRunner) -> dict[str, object]:
    """A use case added as one spec file (include/specs/loans.yaml), no code: 6 days landed
    directly, the 7th through its producer DAG; train (logistic regression compared with
    gradient boosting on a validation slice), gate, promote; score the next day."""
    from mlops_core import lake, registry, steps
    from mlops_core.generators import land_sample
    from mlops_core.spec import load_spec

    settings, storage, _ = _lake(env)
    spec = load_spec("loans")
    days = steps.window_days(LOANS_TRAIN_DAY, spec.train.window_days)
    for day in days[:-1]:
        land_sample(storage, spec, day)
    _say(f"loans: landed {days[0]}..{days[-2]} directly, {LOANS_TRAIN_DAY} via the DAG")
    dag("loans_sample_landing", LOANS_TRAIN_DAY)
    dag("loans_training", LOANS_TRAIN_DAY)
    champion = registry.require(settings.mlflow_tracking_uri, spec.model_name)
    verdict_path = (
        settings.reports_dir / "gates" / spec.model_name / f"v{champion.version}" / "verdict.json"
    )
    verdict = json.loads(verdict_path.read_text())
    run = registry.client(settings.mlflow_tracking_uri).get_run(champion.run_id)
    land_sample(storage, spec, LOANS_SCORE_DAY)
    dag("loans_scoring", LOANS_SCORE_DAY)
    manifest = json.loads(
        storage.read_bytes(lake.scored_prefix(spec.dataset.name, LOANS_SCORE_DAY) + lake.MANIFEST)
    )
    if manifest["rows_in"] != manifest["rows_out"]:
        raise DemoFailure(f"loans scoring lost rows: {manifest}")
    return {
        "model_name": spec.model_name,
        "champion_version": champion.version,
        "estimator": run.data.params.get("estimator"),
        "gate": {
            "decision": verdict["decision"],
            "challenger": verdict["challenger"],
            "baseline": verdict["context"].get("logistic_regression_baseline"),
            "thresholds": verdict["thresholds"],
            "verdict": str(verdict_path),
        },
        "scored": {
            "day": manifest["day"],
            "rows": manifest["rows_out"],
            "output": storage.uri(manifest["output_key"]),
        },
    }


def fraud_scenario(
    env: dict[str, str], rows: int, dag: DagRunner, score_days: list[dt.date] | None = None
) -> dict[str, object]:
    """Land history, train, score ``score_days`` (the demo's three by default), rerun the
    first and land a bad batch; raises DemoFailure on any surprise."""
    from mlops_core import lake, registry, sample_data

    score_days = score_days or SCORE_DAYS

    settings, storage, schema = _lake(env)

    _say(
        f"landing {(TRAIN_DAY - HISTORY_START).days} days of history directly, then {TRAIN_DAY} through the producer DAG"
    )
    day = HISTORY_START
    while day < TRAIN_DAY:
        sample_data.land_sample_partition(storage, schema, day, rows=rows)
        day += dt.timedelta(days=1)
    dag("fraud_sample_landing", TRAIN_DAY, conf={"rows": rows})
    for day in SCORE_DAYS:  # landed whether scored or not: the days stay as the demo's
        sample_data.land_sample_partition(storage, schema, day, rows=rows)

    dag("fraud_training", TRAIN_DAY)
    champion = registry.require(settings.mlflow_tracking_uri, "fraud_model")
    verdict_path = (
        settings.reports_dir / "gates" / "fraud_model" / f"v{champion.version}" / "verdict.json"
    )
    verdict = json.loads(verdict_path.read_text())

    scored = []
    dag.many("fraud_scoring", score_days)
    for day in score_days:
        manifest = json.loads(
            storage.read_bytes(lake.scored_prefix(schema.name, day) + lake.MANIFEST)
        )
        scored.append(manifest)
        if manifest["rows_in"] != manifest["rows_out"]:
            raise DemoFailure(f"scoring {day} lost rows: {manifest}")

    _say(f"rerunning fraud_scoring for {score_days[0]} to check it rewrites identical bytes")
    dag("fraud_scoring", score_days[0], rerun=True)
    rerun = json.loads(
        storage.read_bytes(lake.scored_prefix(schema.name, score_days[0]) + lake.MANIFEST)
    )
    identical = rerun["output_sha256"] == scored[0]["output_sha256"]
    if not identical:
        raise DemoFailure(f"rerun of {score_days[0]} changed the output: {rerun} vs {scored[0]}")

    _say(f"landing a bad batch for {BAD_DAY} (negative amounts, duplicate id)")
    injected = land_bad_batch(env, BAD_DAY, rows)
    dag("fraud_scoring", BAD_DAY, expect="failed")
    quarantined = sorted({k.rsplit("/", 1)[0] for k in storage.list(f"quarantine/{schema.name}/")})
    if not quarantined:
        raise DemoFailure("the bad batch was not quarantined")
    after = registry.require(settings.mlflow_tracking_uri, "fraud_model")
    if after.version != champion.version:
        raise DemoFailure(f"champion moved from {champion.version} to {after.version} on bad data")
    if storage.exists(lake.scored_prefix(schema.name, BAD_DAY) + lake.MANIFEST):
        raise DemoFailure("a scored output exists for the quarantined day")
    incidents = [json.loads(line) for line in settings.incidents_log.read_text().splitlines()]

    return {
        "model_name": "fraud_model",
        "champion_version": champion.version,
        "champion_run_id": champion.run_id,
        "gate": {
            "decision": verdict["decision"],
            "challenger": verdict["challenger"],
            "baseline": verdict["context"].get("logistic_regression_baseline"),
            "thresholds": verdict["thresholds"],
            "verdict": str(verdict_path),
        },
        "scored_partitions": [
            {
                "day": m["day"],
                "rows_in": m["rows_in"],
                "rows_out": m["rows_out"],
                "model_version": m["model_version"],
                "output": storage.uri(m["output_key"]),
                "sha256": m["output_sha256"],
            }
            for m in scored
        ],
        "rerun_identical_bytes": identical,
        "quarantined_batches": [storage.uri(q) for q in quarantined],
        "bad_batch": {
            "day": BAD_DAY.isoformat(),
            "injected": injected,
            "incident": next(
                (i for i in reversed(incidents) if i["dag_id"] == "fraud_scoring"), None
            ),
            "champion_unchanged": after.version == champion.version,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-root", type=Path, help="the demo's data root (default: <repo>/.local)"
    )
    parser.add_argument(
        "--use-environment",
        action="store_true",
        help="honour inherited MLOPS_*, MLFLOW_*, AIRFLOW_* settings: the demo then writes to "
        "the lake, MLflow server and Airflow home they name",
    )
    parser.add_argument("--keep", action="store_true", help="keep the previous demo state")
    parser.add_argument("--rows", type=int, default=5_000, help="transactions per day")
    parser.add_argument("--sessions", type=int, default=2_500, help="user sessions per day")
    parser.add_argument(
        "--port", type=int, default=8080, help="api-server port (a free one if taken)"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    env, ignored = demo_environment(
        os.environ, data_root=args.data_root, use_environment=args.use_environment
    )
    root = Path(env["MLOPS_DATA_ROOT"])
    if ignored:
        _say(ignored_message(ignored))
    if args.use_environment:
        honoured = sorted(name for name in os.environ if is_store_setting(name))
        _say(f"--use-environment: honouring {', '.join(honoured) or 'no inherited settings'}")
    try:
        removed = prepare_data_root(root, keep=args.keep)
    except DataRootRefused as exc:
        print(f"[demo] {exc}", file=sys.stderr, flush=True)
        return 2
    if removed:
        _say(f"removed the previous run's {', '.join(p.name for p in removed)} from {root}")
    port = args.port if port_free(args.port) else free_port()
    env = live_environment(env, port=port, schedules=False)
    live = LiveAirflow(env, port)
    _say(f"data root {root}; starting Airflow on {live.base_url} (SQLite, LocalExecutor)")
    migrate(env)

    runs: list[dict] = []
    summary: dict[str, object] = {"data_root": str(root), "dag_runs": runs, "scenarios": {}}
    errors: list[str] = []
    try:
        live.start()
        live.wait_for_dags(list(DEMO_DAGS))
        _say(
            f"Airflow is up after {time.monotonic() - started:.0f}s; user admin, password in "
            f"{live.home / 'simple_auth_manager_passwords.json.generated'}"
        )
        dag = DagRunner(live.client(), runs, live.base_url)

        def chain(*steps: tuple[str, Callable[[], dict]]) -> None:
            for name, step in steps:
                try:
                    summary["scenarios"][name] = step()
                except Exception as exc:  # noqa: BLE001 - reported in the summary, demo fails
                    errors.append(f"{name}: {type(exc).__name__}: {exc}")
                    return

        lanes = [
            threading.Thread(
                target=chain,
                args=(
                    ("fraud", lambda: fraud_scenario(env, args.rows, dag)),
                    ("retraining", lambda: retraining_scenario(env, args.rows, dag)),
                ),
            ),
            threading.Thread(
                target=chain,
                args=(
                    ("recommender", lambda: recommender_scenario(env, args.sessions, dag)),
                    ("loans", lambda: loans_scenario(env, dag)),
                ),
            ),
        ]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join()
    finally:
        live.stop()
    status = 0
    missing = [n for n in SCENARIOS if n not in summary["scenarios"]]
    if missing and not errors:
        errors.append(f"scenarios did not finish: {missing}")
    if errors:
        summary["error"] = "; ".join(errors)
        status = 1
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    summary["where_to_look"] = {
        "lake": str(root / "lake"),
        "gate_verdicts": str(root / "reports" / "gates"),
        "data_docs": str(root / "reports" / "data_docs"),
        "incidents": str(root / "incidents.jsonl"),
        "airflow_ui": "make airflow  (http://127.0.0.1:8080, user admin, password in "
        + str(live.home / "simple_auth_manager_passwords.json.generated")
        + ")",
        "mlflow_ui": "make mlflow-ui  (http://localhost:5000)",
    }
    out = root / "demo-summary.json"
    out.write_text(json.dumps(summary, indent=2, sort_keys=True))
    print_summary(summary, out)
    return status


def print_summary(summary: dict, path: Path) -> None:
    print("\n=== demo summary ===")
    for run in summary["dag_runs"]:
        mark = "ok " if run["state"] == run["expected"] else "BAD"
        print(
            f"  [{mark}] {run['dag_id']:<22} {run['day']}  {run['state']:<8} {run['seconds']:>5}s"
        )
    fraud = summary["scenarios"].get("fraud")
    if fraud:
        gate = fraud["gate"]
        print(
            f"\nfraud: champion {fraud['model_name']} v{fraud['champion_version']}  gate {gate['decision']}"
            f"  PR-AUC {gate['challenger']['pr_auc']:.3f}  recall@1%FPR {gate['challenger']['recall_at_fpr']:.3f}"
        )
        for part in fraud["scored_partitions"]:
            print(
                f"  scored {part['day']}: {part['rows_out']} rows with v{part['model_version']} -> {part['output']}"
            )
        print(f"  rerun wrote identical bytes: {fraud['rerun_identical_bytes']}")
        for q in fraud["quarantined_batches"]:
            print(f"  quarantined: {q}")
        print(f"  champion unchanged after bad batch: {fraud['bad_batch']['champion_unchanged']}")
    retraining = summary["scenarios"].get("retraining")
    if retraining:
        print(
            f"\nretraining: drift injected from {retraining['drift_injected_from']}, "
            f"detected on {retraining['drift_detected_on']}"
        )
        for d in retraining["decisions"]:
            print(
                f"  {d['day']}: drift {d['drift_level']:<5} retrain={str(d['retrain']):<5} {d['reason']}"
            )
        print(
            f"  retraining runs: {retraining['retraining_runs']}; champion "
            f"v{retraining['champion_before']} -> v{retraining['champion_after']}"
        )
        if retraining["gate"]:
            g = retraining["gate"]
            print(
                f"  gate {g['decision']}: challenger PR-AUC {g['challenger']['pr_auc']:.3f} vs champion "
                f"{g['champion']['pr_auc']:.3f} on the same holdout"
            )
    rec = summary["scenarios"].get("recommender")
    if rec:
        g, r = rec["gate"], rec["recommendations"]
        print(
            f"\nrecommender: champion {rec['model_name']} v{rec['champion_version']}  gate {g['decision']}"
            f"  recall@{g['thresholds']['k']} {g['challenger']['recall_at_k']:.3f} vs popularity "
            f"{g['popularity']['recall_at_k']:.3f}  NDCG {g['challenger']['ndcg_at_k']:.3f} vs "
            f"{g['popularity']['ndcg_at_k']:.3f}  coverage {g['challenger']['coverage']:.3f}"
        )
        print(
            f"  top-{r['k']} for {r['users_scored']} users on {r['day']} ({r['users_popularity_fallback']} "
            f"popularity fallback): {r['rows_written']} rows -> {r['output']}"
        )
    loans = summary["scenarios"].get("loans")
    if loans:
        g = loans["gate"]
        base = g["baseline"] or {}
        print(
            f"\nloans: champion {loans['model_name']} v{loans['champion_version']} "
            f"({loans['estimator']})  gate {g['decision']}  PR-AUC {g['challenger']['pr_auc']:.3f}"
            f"  recall@{g['thresholds']['fpr_target']:.0%}FPR {g['challenger']['recall_at_fpr']:.3f}"
            + (f"  (logistic baseline PR-AUC {base['pr_auc']:.3f})" if base else "")
        )
        print(f"  scored {loans['scored']['day']}: {loans['scored']['rows']} rows")
    if "error" in summary:
        print(f"\nDEMO FAILED: {summary['error']}")
    print(f"\nwall time {summary['wall_seconds']}s; summary written to {path}")
    for name, where in summary["where_to_look"].items():
        print(f"  {name:<15} {where}")


if __name__ == "__main__":
    sys.exit(main())
