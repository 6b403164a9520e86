"""The Airflow UI in headless Chromium (Debian's package) on the production-shaped stack:
login is required, the project's DAGs show with their tags, and the trigger form of
fraud_training submits a run with a changed Param."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.integration.cluster import AirflowCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_ui_login_dags_and_trigger_form(cluster: AirflowCluster, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), "Debian's chromium package is required (make test installs it)"
    cluster.wait_for_dag("fraud_training")
    cluster.wait_for_dag("fraud_scoring")
    shots = DOCS if os.environ.get("MLOPS_UPDATE_SCREENSHOTS") == "1" else tmp_path
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{cluster.base_url}/dags", wait_until="networkidle")
            page.wait_for_url("**/auth/login**", timeout=30_000)  # no anonymous access

            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "not-the-password")
            page.keyboard.press("Enter")
            page.wait_for_timeout(1500)
            assert "/auth/login" in page.url  # a wrong password does not get in

            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", cluster.password)
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: "/auth/login" not in url, timeout=30_000)

            page.goto(f"{cluster.base_url}/dags", wait_until="networkidle")
            for dag_id in ("fraud_training", "fraud_scoring", "fraud_sample_landing"):
                expect(page.get_by_role("link", name=dag_id, exact=True)).to_be_visible(
                    timeout=30_000
                )
            for tag in ("great-expectations", "mlflow", "scoring"):
                expect(page.get_by_text(tag, exact=True).first).to_be_visible()
            page.screenshot(path=str(shots / "airflow-ui-dags.png"))

            page.goto(f"{cluster.base_url}/dags/fraud_training", wait_until="networkidle")
            page.get_by_test_id("trigger-dag-button").click()
            dialog = page.get_by_role("dialog")
            expect(dialog.get_by_text("window_days")).to_be_visible(timeout=15_000)
            window = page.locator(
                "#"
                + page.get_attribute('[id="number-input:element_window_days:inc"]', "aria-controls")
            )
            window.fill("5")
            window.press("Tab")
            page.screenshot(path=str(shots / "airflow-ui-trigger.png"))
            before = {
                r["dag_run_id"]
                for r in cluster.api("GET", "/dags/fraud_training/dagRuns")["dag_runs"]
            }
            submit = page.get_by_test_id("trigger-dag-submit")
            try:  # the form validates its Params before it enables the button
                expect(submit).to_be_enabled(timeout=120_000)
            except AssertionError as exc:
                raise AssertionError(
                    f"the trigger form kept its submit button disabled: {dialog.inner_text()}"
                ) from exc
            submit.click()

            deadline = time.monotonic() + 60
            new_runs = []
            while not new_runs and time.monotonic() < deadline:
                runs = cluster.api("GET", "/dags/fraud_training/dagRuns")["dag_runs"]
                new_runs = [r for r in runs if r["dag_run_id"] not in before]
                time.sleep(1)
            assert new_runs, "submitting the trigger form created no run"
            run = new_runs[0]
            assert run["run_type"] == "manual"
            assert run["conf"]["window_days"] == 5
            # This run has no data to wait for; end it so it does not hold the DAG's only slot.
            cluster.api(
                "PATCH",
                f"/dags/fraud_training/dagRuns/{run['dag_run_id']}",
                json={"state": "failed"},
            )
        finally:
            browser.close()
