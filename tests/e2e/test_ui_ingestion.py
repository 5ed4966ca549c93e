"""The Ingestion jobs page, its form with live validation, and the dag_run tab of headrace_ingestion
runs, in the real Airflow UI (headless Chromium through Selenium, the shared session cluster).

A CSV is uploaded through the Lakehouse page and its "Ingest…" link opens the form prefilled; an
invalid table name is named next to its field while typing; the job started from the form is listed,
reaches ``completed`` with its rows, links to its DagRun in Airflow's own UI, and that DagRun's
"Ingestion job" tab shows the target table and the rows written. A running job is cancelled from the
page; a viewer sees the jobs but neither the form nor a cancel button. Any SEVERE console message fails.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import quote

import pytest
import requests

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e.ui_browser import click, go, login, open_headrace, severe, shot, text, waiting

pytestmark = pytest.mark.e2e
DAG_ID = "headrace_ingestion"
TAB = "a[href$='/plugin/headrace-ingestion-job']"  # the DagRun page's tab of the plugin
CSV = "id,city,amount\n1,Lyon,2.5\n2,Graz,3.5\n3,Oslo,1.0\n"
RUN = 300  # seconds for a job to be run by the scheduler and seen by a page polling every 30 s


def _row(job_id: str) -> str:
    return f"#ingestion-jobs tr[data-job='{job_id}']"


def _status(driver, job_id: str) -> str | None:
    return driver.find_element(By.CSS_SELECTOR, _row(job_id)).get_attribute("data-status")


def _value(driver, name: str) -> str | None:
    return driver.find_element(By.CSS_SELECTOR, f"#ingest-form [name='{name}']").get_attribute("value")


def _job(cluster, headers, job_id: str) -> dict:
    return requests.get(f"{cluster.api}/ingestion/jobs/{job_id}", headers=headers, timeout=30).json()["data"]


def _type(driver, name: str, value: str) -> None:
    field = driver.find_element(By.CSS_SELECTOR, f"#ingest-form [name='{name}']")
    field.clear()
    field.send_keys(value)


def test_the_plugin_adds_a_dag_run_tab(airflow_cluster):
    """Airflow's own plugin listing carries the tab, with the placeholders its UI fills in."""
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    plugins = requests.get(f"{airflow_cluster.url}/api/v2/plugins", headers=headers, timeout=30).json()
    views = [v for p in plugins["plugins"] if p["name"] == "headrace" for v in p["external_views"]]
    assert {(v["url_route"], v["destination"]) for v in views} == {
        ("headrace", "nav"),
        ("headrace-ingestion-job", "dag_run"),
    }
    tab = next(v for v in views if v["destination"] == "dag_run")
    assert tab["href"] == "/pluginsv2/headrace/ui/ingestion/dag-run/{DAG_ID}/{RUN_ID}"


def test_ingestion_page_form_and_dag_run_tab(airflow_cluster, browser, tmp_path):
    cluster, driver = airflow_cluster, browser
    admin = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    suffix = uuid.uuid4().hex[:6]
    catalog, folder, table = f"ing_{suffix}", f"ing-ui-{suffix}", f"orders_{suffix}"
    created = requests.post(
        f"{cluster.api}/catalog", headers=admin, json={"name": catalog, "type": "iceberg"}, timeout=30
    )
    assert created.status_code == 201, created.text
    (tmp_path / "orders.csv").write_text(CSV)
    console: list[str] = []

    login(driver, cluster, "admin")
    wait = open_headrace(driver)

    # Upload through the Lakehouse page; its "Ingest…" link opens the form with the file filled in.
    go(driver, wait, "lakehouse")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#upload-form[data-ready='true']")))
    path_input = driver.find_element(By.CSS_SELECTOR, "#upload-form input[name=path]")
    path_input.clear()
    path_input.send_keys(folder)
    csv_file = str(tmp_path / "orders.csv")
    driver.find_element(By.CSS_SELECTOR, "#upload-form input[type=file]").send_keys(csv_file)
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    click(driver, "#uploaded tr.uploaded a.ingest")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#ingest-form[data-ready='true']")))
    form = "#ingest-form"
    assert _value(driver, "source.file_paths") == f"s3://landing/{folder}/orders.csv"
    assert _value(driver, "source.file_type") == "csv"
    assert _value(driver, "target.table") == "orders"
    console += severe(driver)

    # Live validation: an invalid table name is named next to the table field while typing.
    _type(driver, "target.catalog", catalog)
    _type(driver, "target.schema", "sales")
    _type(driver, "target.table", "bad name!")
    table_error = f"{form} label:has(> input[name='target.table']) [data-error-for='target.table']"
    wait.until(lambda d: "letters, digits, underscore and hyphen" in text(d, table_error))
    assert driver.find_element(By.CSS_SELECTOR, f"{form} [data-error-for='target.catalog']").text == ""
    assert driver.find_element(By.NAME, "target.table").get_attribute("aria-invalid") == "true"
    shot(driver, tmp_path, "ingestion-form-error")
    _type(driver, "target.table", table)
    wait.until(lambda d: text(d, "#validation-state") == "✓ valid")
    assert driver.find_element(By.CSS_SELECTOR, table_error).text == ""

    # Start it from the form: the new job is listed at once and reaches completed with its rows.
    driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]").click()
    job_id = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#validation-state a.started"))[0].text
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, _row(job_id) + ".fresh")))
    assert f"{catalog}.sales.{table}" in text(driver, _row(job_id))
    waiting(driver, RUN).until(lambda d: _status(d, job_id) == "completed")
    assert text(driver, _row(job_id) + " td.rows") == "3"
    api_job = _job(cluster, admin, job_id)
    assert api_job["status"] == "completed" and api_job["rows_written"] == 3
    shot(driver, tmp_path, "ingestion-jobs", publish=True)
    console += severe(driver)

    # The job links to its DagRun in Airflow's own UI, opened in the top window.
    link = driver.find_element(By.CSS_SELECTOR, _row(job_id) + " a.dagrun")
    assert link.get_attribute("target") == "_top"
    run_path = f"/dags/{DAG_ID}/runs/{quote(job_id, safe='')}"
    assert link.get_attribute("href") == cluster.url + run_path
    link.click()
    driver.switch_to.default_content()
    wait.until(lambda d: d.current_url.split("?")[0] == cluster.url + run_path)
    console += severe(driver)

    # Airflow's DagRun page has the "Ingestion job" tab: target table, status and rows written.
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, TAB))).click()
    wait.until(ec.url_contains("/plugin/headrace-ingestion-job"))
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, "iframe[title='Ingestion job']")))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#ingestion-run [data-status='completed']")))
    assert text(driver, "dd[data-field='target-table']") == f"{catalog}.sales.{table}"
    assert text(driver, "dd[data-field='rows-written']") == "3"
    assert text(driver, "dd[data-field='status']") == "completed"
    assert driver.find_element(By.CSS_SELECTOR, "header.bar").is_displayed() is False
    driver.switch_to.default_content()
    driver.save_screenshot(str(tmp_path / "dag-run-tab.png"))
    console += severe(driver)

    # The tab is on every DAG's runs (Airflow cannot limit it to one DAG): another DAG's run says so.
    driver.get(f"{cluster.url}/pluginsv2/headrace/ui/ingestion/dag-run/some_other_dag/manual__2026-01-01")
    assert "Not a Headrace ingestion run" in text(driver, "#not-ingestion")
    console += severe(driver)

    # A job that has not finished is cancelled from the page. Its DAG is paused meanwhile, so that the
    # job stays queued until the click (a file of 3M rows loaded in 3 s, before the page got there).
    dag = f"{cluster.url}/api/v2/dags/{DAG_ID}"
    paused = requests.patch(dag, headers=admin, json={"is_paused": True}, timeout=30)
    assert paused.status_code == 200, paused.text
    try:
        started = requests.post(
            f"{cluster.api}/ingestion/jobs",
            headers=admin,
            json={
                "target": {"catalog": catalog, "schema": "sales", "table": f"pending_{suffix}"},
                "source": {"file_paths": f"s3://landing/{folder}/orders.csv", "file_type": "csv"},
            },
            timeout=30,
        )
        assert started.status_code == 201, started.text
        pending_id = started.json()["data"]["job_id"]
        driver.get(cluster.url + "/")
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a[href$='/plugin/headrace']")))
        wait = open_headrace(driver)
        go(driver, wait, "ingestion")
        click(driver, _row(pending_id) + " button.cancel")
        wait.until(lambda d: _status(d, pending_id) == "cancelled")
        assert _job(cluster, admin, pending_id)["status"] == "cancelled"
    finally:
        requests.patch(dag, headers=admin, json={"is_paused": False}, timeout=30).raise_for_status()
    console += severe(driver)

    # A phone-sized screen: the page fits its width (the jobs table scrolls inside its panel).
    driver.set_window_size(390, 844)
    go(driver, wait, "ingestion")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#ingest-form[data-ready='true']")))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the Ingestion page is {overflow}px wider than a phone screen"
    shot(driver, tmp_path, "ingestion-phone")
    driver.set_window_size(1280, 900)
    console += severe(driver)

    # A viewer sees the jobs, but neither the form nor a cancel button; the API refuses both anyway.
    login(driver, cluster, "vic")
    wait = open_headrace(driver)
    go(driver, wait, "ingestion")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, _row(job_id))))
    assert driver.find_elements(By.CSS_SELECTOR, "#ingest-form") == []
    assert "needs the permission" in text(driver, "#no-start")
    assert driver.find_elements(By.CSS_SELECTOR, "#ingestion-jobs button.cancel") == []
    shot(driver, tmp_path, "ingestion-viewer")
    viewer = {"Authorization": f"Bearer {cluster.airflow_token('vic')}"}
    refused = requests.post(f"{cluster.api}/ingestion/jobs", headers=viewer, json={}, timeout=30)
    assert refused.status_code == 403, refused.text
    console += severe(driver)

    assert console == [], "browser console errors:\n" + "\n".join(console)


def test_live_validation_stays_within_its_budget(airflow_cluster, browser):
    """Typing sends one check per pause, none for an unchanged form, and stops at the budget."""
    cluster, driver = airflow_cluster, browser
    login(driver, cluster, "admin")
    wait = open_headrace(driver)
    go(driver, wait, "ingestion")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#ingest-form[data-ready='true']")))
    driver.execute_script("localStorage.removeItem('headrace.ingestion.validations')")
    checks = "return JSON.parse(localStorage.getItem('headrace.ingestion.validations') || '[]').length"
    field = driver.find_element(By.NAME, "target.schema")
    field.send_keys("sal")
    field.send_keys("es")  # two bursts of typing within the 600 ms pause: one check
    wait.until(lambda d: d.execute_script(checks) == 1)
    time.sleep(1.5)
    assert driver.execute_script(checks) == 1
    driver.execute_script("document.getElementById('ingest-form').dispatchEvent(new Event('input'))")
    time.sleep(1.5)  # the same body again: no request
    assert driver.execute_script(checks) == 1
    # A spent budget (as another tab may have spent it) pauses the checks and says so.
    driver.execute_script(
        "localStorage.setItem('headrace.ingestion.validations', JSON.stringify(Array(30).fill(Date.now())))"
    )
    field.send_keys("x")
    wait.until(lambda d: "Live checks paused" in text(d, "#validation-state"))
    driver.execute_script("localStorage.removeItem('headrace.ingestion.validations')")
    assert severe(driver) == []
