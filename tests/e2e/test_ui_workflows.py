"""The Workflows and pipelines page in the real Airflow UI (headless Chromium).

An administrator generates a pipeline from a sentence through the page, reads the YAML it drafted
and its warnings, deploys it and runs it from the page and sees the run complete (the real
dag-processor and scheduler run it; the page follows it on the event stream). A viewer sees the
pipeline but no generate, deploy or run control, and the API refuses the viewer anyway.
"""

from __future__ import annotations

import uuid

import pytest
import requests
import yaml

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e.ui_browser import click, go, login, open_headrace, severe, shot, text, waiting

pytestmark = pytest.mark.e2e
ORDERS = "order_id,amount,city\n" + "".join(f"{i},{i}.5,c{i % 3}\n" for i in range(1, 51))
RUN_TIMEOUT = 240  # seconds: deploy, parse, schedule and run two tasks on a shared machine


def _status(driver) -> str:
    return driver.find_element(By.ID, "status-props").get_attribute("data-status") or ""


def test_generate_deploy_and_run_a_pipeline_from_the_page(airflow_cluster, browser, tmp_path):
    cluster, driver = airflow_cluster, browser
    admin = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{cluster.api}/catalog", headers=admin, json={"name": "iceberg_data", "type": "iceberg"}, timeout=30
    )
    assert created.status_code in (201, 409), created.text
    suffix = uuid.uuid4().hex[:6]
    folder, table = f"ui-wf-{suffix}", f"orders_{suffix}"
    source = cluster.home / "storage" / "landing" / folder / "orders.csv"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text(ORDERS)
    sentence = (
        f"Ingest s3://landing/{folder}/*.csv into iceberg_data.ui.{table}, "
        "then check order_id is unique, with extra sparkle"
    )
    console: list[str] = []

    login(driver, cluster, "admin")
    wait = open_headrace(driver)
    go(driver, wait, "workflows")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "body[data-ready='true']")))
    driver.find_element(By.CSS_SELECTOR, "#generate-form textarea[name=description]").send_keys(sentence)
    driver.find_element(By.CSS_SELECTOR, "#generate-form button[type=submit]").click()

    # The draft: its YAML (what will be deployed), its warnings, and its validation.
    wait.until(ec.visibility_of_element_located((By.ID, "draft-yaml")))
    wait.until(lambda d: d.find_element(By.ID, "draft-id").text)
    pipeline_id = driver.find_element(By.ID, "draft-id").text
    drafted = yaml.safe_load(text(driver, "#draft-yaml"))
    assert drafted["id"] == pipeline_id
    assert [step["kind"] for step in drafted["steps"]] == ["ingest", "check"]
    assert drafted["steps"][0]["source"]["file_paths"] == f"s3://landing/{folder}/*.csv"
    assert drafted["steps"][0]["target"] == {"catalog": "iceberg_data", "schema": "ui", "table": table}
    assert "extra sparkle" in text(driver, "#draft-warnings")
    assert "passed_with_warnings" in text(driver, "#draft-validation")
    wait.until(lambda d: "draft" in text(d, f"#pipelines tr[data-pipeline='{pipeline_id}']"))
    wait.until(lambda d: _status(d) == "draft")
    assert not driver.find_element(By.ID, "run").is_enabled()  # a draft cannot run
    shot(driver, tmp_path, "workflows-draft")
    console += severe(driver)

    # Deploy, then run: the page waits for Airflow to load the DAG and follows the run to its end.
    click(driver, "#deploy")
    wait.until(lambda d: _status(d) == "deployed")
    assert not driver.find_element(By.ID, "deploy").is_displayed()
    click(driver, "#run")
    waiting(driver, RUN_TIMEOUT).until(lambda d: _status(d) in ("completed", "failed"))
    assert _status(driver) == "completed", text(driver, "#status-props")
    assert driver.find_element(By.ID, "run-progress").get_attribute("value") == "100"
    # While Airflow has not parsed the new DAG yet, :run answers 409 and the page retries (docs/ui.md);
    # the browser logs each such answer. Any other error still counts.
    console += [line for line in severe(driver) if not (":run - " in line and "status of 409" in line)]
    page_run = text(driver, "#status-props dd[data-field='run']")
    answer = requests.get(f"{cluster.api}/pipelines/{pipeline_id}/status", headers=admin, timeout=30).json()
    assert answer["status"] == "completed" and answer["run_id"] == page_run
    # The lists follow (refreshed when the event log reports the run, at most every 30 s).
    waiting(driver, 90).until(
        lambda d: "completed" in text(d, f"#workflows tr[data-workflow='{pipeline_id}']")
    )
    assert "deployed" in text(driver, f"#pipelines tr[data-pipeline='{pipeline_id}']")
    driver.execute_script("document.getElementById('status-props').scrollIntoView({block: 'center'})")
    shot(driver, tmp_path, "workflows-run", publish=True)
    console += severe(driver)

    # A viewer: the pipeline and its definition, but no generate, deploy or run control.
    login(driver, cluster, "vic")
    wait = open_headrace(driver)
    go(driver, wait, "workflows")
    wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, f"#pipelines tr[data-pipeline='{pipeline_id}']"))
    )
    assert driver.find_elements(By.CSS_SELECTOR, "#generate-form, #deploy, #run, #run-params") == []
    click(driver, f"#pipelines tr[data-pipeline='{pipeline_id}'] button.show")
    wait.until(lambda d: _status(d) == "completed")
    assert yaml.safe_load(text(driver, "#draft-yaml"))["id"] == pipeline_id
    shot(driver, tmp_path, "workflows-viewer")
    viewer = {"Authorization": f"Bearer {cluster.airflow_token('vic')}"}
    refused = requests.post(f"{cluster.api}/pipelines/{pipeline_id}:run", headers=viewer, json={}, timeout=30)
    assert refused.status_code == 403, refused.text
    console += severe(driver)

    assert console == [], "browser console errors:\n" + "\n".join(console)
