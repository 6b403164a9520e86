"""The embedded default as a live Airflow (scripts/live_airflow.py: scheduler, dag-processor,
triggerer and api-server on SQLite with the LocalExecutor, schedules on), driven through its
REST API and in Chromium as on-call uses it.

One module-scoped stack runs the loans use case (the fastest to train) through what only a real
scheduler does: a landed partition -> a scheduler-created training run; its promotion -> a
scheduler-created scoring run; a retrain request -> a scheduler-created training run. Then a bad
batch fails `validate`, and the failure must be readable where on-call looks: the task log, the
task-instance note (what broke, the quarantine path, a working runbook link), the extra links.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))

from airflow_env import BIN, demo_environment, prepare_data_root  # noqa: E402
from live_airflow import LiveAirflow, free_port, live_environment  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

TRAIN_DAY = dt.date(2025, 3, 14)
BAD_DAY = dt.date(2025, 3, 16)
DOCS = REPO / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def _wait(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Stack:
    def __init__(self, live: LiveAirflow, root: Path, mlflow_url: str) -> None:
        self.live, self.root, self.mlflow_url = live, root, mlflow_url
        self.client = live.client()
        self.runs: dict[str, dict] = {}

    def scheduler_run(self, dag_id: str, after: set[str], timeout: float = 600) -> dict:
        """The first run of ``dag_id`` the scheduler created from an Asset event (not in
        ``after``), once it finished."""

        def created() -> dict | None:
            for run in self.client.dag_runs(dag_id):
                if run["run_type"] == "asset_triggered" and run["dag_run_id"] not in after:
                    return run
            return None

        run = _wait(created, timeout, f"an asset-triggered run of {dag_id}")
        return self.client.wait_run(dag_id, run["dag_run_id"], timeout=timeout)

    def run_ids(self, dag_id: str) -> set[str]:
        return {r["dag_run_id"] for r in self.client.dag_runs(dag_id)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("live")
    env, _ = demo_environment(os.environ, data_root=root, use_environment=False)
    prepare_data_root(root, keep=False)
    mlflow_port = free_port()
    mlflow_url = f"http://127.0.0.1:{mlflow_port}"
    env["MLOPS_MLFLOW_UI_URL"] = mlflow_url
    env["MLOPS_SENSOR_POKE_SECONDS"] = "3"
    port = free_port()
    env = live_environment(env, port=port, schedules=True)
    (root / "mlflow").mkdir(exist_ok=True)
    mlflow = subprocess.Popen(
        [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{root / 'mlflow' / 'mlflow.db'}",
            "--default-artifact-root",
            (root / "mlflow" / "artifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(mlflow_port),
            "--workers",
            "1",
        ],
        env=env,
        cwd=root,
        stdout=open(root / "mlflow-server.log", "w"),  # noqa: SIM115 - closed with the process
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    live = LiveAirflow(env, port)
    try:
        live.start()
        live.wait_for_dags(["loans_sample_landing", "loans_training", "loans_scoring"])
        yield Stack(live, root, mlflow_url)
    finally:
        live.stop()
        mlflow.terminate()
        mlflow.wait(timeout=30)


@pytest.fixture(scope="module")
def scheduled(stack: Stack) -> Stack:
    """Landing -> training -> promotion -> scoring, then a retrain request -> training, each
    downstream run created by the scheduler from an Asset event."""
    from mlops_core import lake
    from mlops_core.config import Settings
    from mlops_core.generators import land_sample
    from mlops_core.spec import load_spec
    from mlops_core.storage import storage_from_url

    spec = load_spec("loans")
    settings = Settings.from_env(stack.live.env)
    storage = storage_from_url(settings.storage_url, settings.s3_endpoint_url)
    for i in range(spec.train.window_days - 1, 0, -1):
        land_sample(storage, spec, TRAIN_DAY - dt.timedelta(days=i))
    c = stack.client
    # Unpausing made the scheduler start today's cron runs; they wait for today's partition,
    # which this test never lands, and at max_active_runs=1 they would hold the Asset-triggered
    # runs back (as a cron run waiting on late data does in production). Mark them failed, as
    # on-call would.
    for dag_id in ("loans_training", "loans_scoring"):
        cron = _wait(
            lambda d=dag_id: [r for r in c.dag_runs(d) if r["run_type"] == "scheduled"],
            120,
            f"the cron run of {dag_id}",
        )
        for run in cron:
            c.api("PATCH", f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}", json={"state": "failed"})
    before = {d: stack.run_ids(d) for d in ("loans_training", "loans_scoring")}
    landing = c.trigger("loans_sample_landing", f"{TRAIN_DAY}T00:00:00Z")
    assert c.wait_run("loans_sample_landing", landing, timeout=300)["state"] == "success"
    stack.runs["landing_training"] = stack.scheduler_run("loans_training", before["loans_training"])
    stack.runs["champion_scoring"] = stack.scheduler_run("loans_scoring", before["loans_scoring"])
    key = lake.scored_prefix(spec.dataset.name, TRAIN_DAY) + lake.MANIFEST
    stack.runs["scored_manifest"] = json.loads(storage.read_bytes(key))  # before any retrain
    seen = stack.run_ids("loans_training")
    c.create_asset_event(
        "x-mlops://monitoring/loans_model/retrain",
        {"day": TRAIN_DAY.isoformat(), "reason": "test: drift alert held 2 of 3 days"},
    )
    stack.runs["retrain_training"] = stack.scheduler_run("loans_training", seen)
    return stack


@pytest.fixture(scope="module")
def failed_validate(stack: Stack) -> dict:
    """A producer bug on BAD_DAY (negative loan amounts); a manual scoring run for that day."""
    from mlops_core.config import Settings
    from mlops_core.generators import generate, land_frame
    from mlops_core.spec import load_spec
    from mlops_core.storage import storage_from_url

    spec = load_spec("loans")
    settings = Settings.from_env(stack.live.env)
    storage = storage_from_url(settings.storage_url, settings.s3_endpoint_url)
    frame = generate("loans", BAD_DAY, seed=11, rows=400)
    frame.loc[[3, 9, 27], "loan_amount"] = -100.0
    land_frame(storage, spec.dataset, BAD_DAY, frame, fmt="csv")
    run_id = stack.client.trigger("loans_scoring", f"{BAD_DAY}T00:00:00Z")
    run = stack.client.wait_run("loans_scoring", run_id, timeout=600)
    ti = stack.client.task_instance("loans_scoring", run_id, "validate")
    return {"run": run, "run_id": run_id, "ti": ti}


def _states(stack: Stack, dag_id: str, run: dict) -> dict[str, str | None]:
    return stack.client.task_states(dag_id, run["dag_run_id"])


def _consumed(stack: Stack, dag_id: str, run: dict) -> list[dict]:
    """The Asset events the scheduler created ``run`` from: (uri, extra) pairs."""
    path = f"/dags/{dag_id}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
    return [(e["uri"], e["extra"]) for e in stack.client.api("GET", path)["asset_events"]]


def test_landed_data_makes_the_scheduler_run_training(scheduled: Stack) -> None:
    run = scheduled.runs["landing_training"]
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", _states(scheduled, "loans_training", run)
    assert [u for u, _ in _consumed(scheduled, "loans_training", run)] == [
        "x-mlops://lake/landing/loan_applications"
    ]
    states = _states(scheduled, "loans_training", run)
    assert states["train"] == "success" and states["evaluation_gate"] == "success"


def test_a_promotion_makes_the_scheduler_run_scoring(scheduled: Stack) -> None:
    run = scheduled.runs["champion_scoring"]
    assert run["run_type"] == "asset_triggered"
    assert run["state"] == "success", _states(scheduled, "loans_scoring", run)
    [(uri, extra)] = _consumed(scheduled, "loans_scoring", run)
    assert uri == "x-mlops://registry/loans_model/champion"
    # the version the promotion announced is the one that scored the day
    manifest = scheduled.runs["scored_manifest"]
    assert str(manifest["model_version"]) == str(extra["version"]) == "1"
    assert manifest["rows_in"] == manifest["rows_out"] > 0


def test_a_retrain_request_makes_the_scheduler_run_training(scheduled: Stack) -> None:
    run = scheduled.runs["retrain_training"]
    assert run["run_type"] == "asset_triggered"
    [(uri, extra)] = _consumed(scheduled, "loans_training", run)
    assert uri == "x-mlops://monitoring/loans_model/retrain" and extra["day"] == str(TRAIN_DAY)
    states = _states(scheduled, "loans_training", run)
    assert states["train"] == "success", states


def test_a_failed_validate_is_explained_in_its_log_and_note(failed_validate: dict, stack: Stack):
    ti = failed_validate["ti"]
    assert failed_validate["run"]["state"] == "failed"
    assert ti["state"] == "failed" and ti["try_number"] == 1  # a data failure is not retried
    log = stack.client.task_log("loans_scoring", failed_validate["run_id"], "validate", 1)
    assert "DataValidationError" in log
    quarantine = f"quarantine/loan_applications/dt={BAD_DAY}"
    assert quarantine in log
    note = ti["note"] or ""
    assert "**DataValidationError** in `validate`" in note
    assert quarantine in note
    assert "(/mlops/runbook#data-validation-failed)" in note
    # the runbook link in the note works: the page has the section's anchor
    page = httpx.get(
        f"{stack.live.base_url}/mlops/runbook",
        headers={"Authorization": f"Bearer {stack.client.token}"},
        timeout=30,
    )
    assert page.status_code == 200 and 'id="data-validation-failed"' in page.text
    assert httpx.get(f"{stack.live.base_url}/mlops/runbook", timeout=30).status_code == 401
    # the quarantine extra link opens the quarantined batch
    links = stack.client.api(
        "GET",
        f"/dags/loans_scoring/dagRuns/{failed_validate['run_id']}/taskInstances/validate/links",
    )
    url = links["extra_links"]["Quarantine"]
    resp = httpx.get(
        url if url.startswith("http") else stack.live.base_url + url,
        headers={"Authorization": f"Bearer {stack.client.token}"},
        timeout=30,
    )
    assert resp.status_code == 200 and "validation.json" in resp.text


def test_on_call_in_chromium(scheduled: Stack, failed_validate: dict, tmp_path: Path) -> None:
    """Sign in, open the failed validate task's log (the error and the quarantine path are
    there), follow the train task's MLflow link to a page that answers 200."""
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium package is required (make test installs it)"
    shots = DOCS if os.environ.get("MLOPS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    base = scheduled.live.base_url
    train_run = scheduled.runs["landing_training"]["dag_run_id"]
    mlflow_link = scheduled.client.api(
        "GET", f"/dags/loans_training/dagRuns/{train_run}/taskInstances/train/links"
    )["extra_links"]["MLflow run"]
    assert mlflow_link.startswith(scheduled.mlflow_url)
    run_id = mlflow_link.rsplit("/", 1)[-1]
    api = httpx.get(f"{scheduled.mlflow_url}/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert api.status_code == 200
    tags = {t["key"]: t["value"] for t in api.json()["run"]["data"]["tags"]}
    assert tags.get("airflow.dag_id") == "loans_training"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/dags", wait_until="networkidle")
            page.wait_for_url("**/auth/login**", timeout=30_000)
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", scheduled.live.password())
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)
            run_id_q = failed_validate["run_id"]
            page.goto(
                f"{base}/dags/loans_scoring/runs/{run_id_q}/tasks/validate",
                wait_until="networkidle",
            )
            expect(page.get_by_text("DataValidationError").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text(f"dt={BAD_DAY}").first).to_be_visible(timeout=30_000)
            page.screenshot(path=str(shots / "airflow-ui-failed-validate.png"))
            # "load", not "networkidle": MLflow's UI keeps polling, and on a busy machine the
            # network is never idle for long enough (seen: a 30 s timeout in CI)
            answer = page.goto(mlflow_link, wait_until="load", timeout=90_000)
            assert answer is not None and answer.status == 200
            page.wait_for_timeout(3000)
            # the run's evaluation plots (PR curve shown) for the README
            page.goto(f"{mlflow_link}/artifacts/evaluation/precision_recall.png", timeout=90_000)
            page.wait_for_timeout(4000)
            page.screenshot(path=str(shots / "mlflow-run.png"))
        finally:
            browser.close()


def test_tasks_fork_from_workers_that_preloaded_the_libraries(scheduled: Stack) -> None:
    # The scheduler imported the task libraries before it forked the LocalExecutor's workers
    # (plugins/mlops_airflow/preload.py); a failed import would show here as "N of M".
    log = (scheduled.live.component_logs / "scheduler.log").read_text()
    preloaded = [line for line in log.splitlines() if "Preloaded" in line]
    assert preloaded, "the scheduler did not preload the task libraries"
    assert "modules for forked tasks" in preloaded[0]
    count = preloaded[0].split("Preloaded ")[1].split(" modules")[0]
    done, _, total = count.partition(" of ")
    assert done == total and int(total) > 0, preloaded[0]
    assert log.index("Preloaded") < log.index("Worker starting up")
