"""Headrace's pages in the real Airflow UI, driven in headless Chromium (Debian's chromium and
chromium-driver) through Selenium, against the shared session cluster.

The test logs in through Airflow's own login form, finds "Headrace" in Airflow's navigation and works
inside the page Airflow embeds (an iframe of the same origin). The data it looks for was created
through the REST API (a catalog, queued jobs, a job an executor claimed and failed through the
job-queue API, an ingestion job run by the scheduler) or written by the core as LakehouseHook users
do (a table). Any browser console error of severity SEVERE after the login fails the test.
Screenshots of every page land in the test's tmp_path (see ``shot`` for the ones copied to docs/images/).
"""

from __future__ import annotations

import time
import uuid

import pyarrow as pa
import pytest
import requests

from headrace.lakehouse.service import Lakehouse, LakehouseSettings

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.e2e.ui_browser import click, go, login, open_headrace, severe, shot, text

pytestmark = pytest.mark.e2e
ORDERS = pa.table({"order_id": pa.array([1, 2, 3, 4], pa.int64()), "city": ["Lyon", "Graz", "Oslo", "Porto"]})
RUN = 300  # seconds for the scheduler to run an ingestion job on the shared machine


def _ingest_more_orders(cluster, headers, catalog: str, folder: str) -> str:
    """Upload two more orders and start an ingestion job appending them to the table: its snapshot
    records the job."""
    upload = requests.post(
        f"{cluster.api}/upload",
        headers=headers,
        files={"file": ("more-orders.csv", b"order_id,city\n5,Turku\n6,Ghent\n")},
        data={"bucket": "landing", "path": folder},
        timeout=60,
    )
    assert upload.status_code == 201, upload.text
    created = requests.post(
        f"{cluster.api}/ingestion/jobs",
        headers=headers,
        json={
            "target": {"catalog": catalog, "schema": "sales", "table": "orders"},
            "source": {"file_paths": upload.json()["data"]["s3Path"], "file_type": "csv"},
        },
        timeout=60,
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["job_id"]


def _wait_for_ingestion(cluster, headers, job_id: str) -> dict:
    deadline = time.monotonic() + RUN
    while time.monotonic() < deadline:
        job = requests.get(f"{cluster.api}/ingestion/jobs/{job_id}", headers=headers, timeout=30).json()[
            "data"
        ]
        if job["status"] in ("completed", "failed", "cancelled"):
            assert job["status"] == "completed", job["details"]
            return job
        time.sleep(2)
    pytest.fail(f"ingestion job {job_id} still {job['status']} after {RUN}s")


def _claim_and_fail(cluster, headers, job_type: str, executor: str) -> str:
    """An executor's side of the job-queue API: submit, claim (only this type), fail with output."""
    job = {
        "type": job_type,
        "binary_url": "http://127.0.0.1:9/job",
        "binary_sha256": "0" * 64,
        "priority": "foreground",
        "arguments": ["--day", "2026-12-01"],
    }
    submitted = requests.post(f"{cluster.api}/jobs", headers=headers, json=job, timeout=30)
    assert submitted.status_code == 201, submitted.text
    claim = {"executor_id": executor, "hostname": "ui-host", "types": [job_type]}
    claimed = requests.post(f"{cluster.api}/jobs/claim", headers=headers, json=claim, timeout=30)
    assert claimed.status_code == 200, claimed.text
    job_id = claimed.json()["id"]
    failed = requests.put(
        f"{cluster.api}/jobs/{job_id}/fail",
        headers=headers,
        json={
            "executor_id": executor,
            "stdout": "loading day 2026-12-01\n",
            "stderr": "error: table locked\n",
            "exit_code": 3,
            "error_message": "the binary exited with code 3",
        },
        timeout=30,
    )
    assert failed.status_code == 200, failed.text
    return job_id


def test_headrace_pages_in_the_airflow_ui(airflow_cluster, browser, tmp_path):
    cluster, driver = airflow_cluster, browser
    admin = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    suffix = uuid.uuid4().hex[:6]
    catalog = f"ui_{suffix}"
    created = requests.post(
        f"{cluster.api}/catalog", headers=admin, json={"name": catalog, "type": "iceberg"}
    )
    assert created.status_code == 201, created.text
    home = cluster.home
    Lakehouse(
        LakehouseSettings(
            catalog_uri=f"sqlite:///{home / 'headrace' / 'catalog.db'}",
            warehouse=str(home / "storage" / "warehouse"),
        )
    ).write(catalog, "sales", "orders", ORDERS)
    job_type = f"ui-e2e-{suffix}"  # no executor claims it: it stays pending
    job = {
        "type": job_type,
        "binary_url": "http://127.0.0.1:9/job",
        "binary_sha256": "0" * 64,
        "priority": "background",
    }
    job_ids = []
    for _ in range(3):
        submitted = requests.post(f"{cluster.api}/jobs", headers=admin, json=job, timeout=30)
        assert submitted.status_code == 201, submitted.text
        job_ids.append(submitted.json()["id"])
    executor = f"ui-executor-{suffix}"
    failed_job = _claim_and_fail(cluster, admin, f"ui-exec-{suffix}", executor)
    ingestion_job = _ingest_more_orders(cluster, admin, catalog, f"ui-{suffix}-in")
    console: list[str] = []

    login(driver, cluster, "admin")
    wait = open_headrace(driver)

    # Overview: every component of GET /health, with its status.
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#health tr[data-component='scheduler']")))
    assert "ok" in text(driver, "#health tr[data-component='metadata_db']")
    wait.until(lambda d: "active executors" in text(d, "#queue"))
    wait.until(lambda d: "rows ingested today" in text(d, "#ingestion"))
    # The request chart: this test's own API calls are among the last hour's requests.
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#rate-chart[data-chart='drawn'] canvas")))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#latency-chart[data-chart='drawn'] canvas")))
    requests_panel = driver.find_element(By.ID, "requests")
    assert requests_panel.get_attribute("data-minutes") == "60"
    assert int(requests_panel.get_attribute("data-total")) >= 8  # at least the POSTs above
    assert "requests in the last hour" in text(driver, "#requests .summary")
    shot(driver, tmp_path, "overview", publish=True)
    console += severe(driver)

    # Lakehouse: the catalog made through the API, its schema and table; the table page with the
    # snapshot the ingestion job wrote, linked to the Ingestion jobs page.
    ingested = _wait_for_ingestion(cluster, admin, ingestion_job)
    assert ingested["rows_written"] == 2
    go(driver, wait, "lakehouse")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"details[data-catalog='{catalog}']")))
    shot(driver, tmp_path, "lakehouse")
    driver.find_element(By.CSS_SELECTOR, f"details[data-catalog='{catalog}'] summary").click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, f"details[data-catalog='{catalog}'] a"))).click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#columns tbody tr")) == 2)
    assert [row.text.split()[0] for row in driver.find_elements(By.CSS_SELECTOR, "#columns tbody tr")] == [
        "order_id",
        "city",
    ]
    properties = text(driver, "#table-properties")
    assert "iceberg" in properties.lower() and f"warehouse/{catalog}/sales/orders" in properties
    assert "Rows\n6" in properties
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#snapshots[data-ready='true']")))
    snapshots = driver.find_elements(By.CSS_SELECTOR, "#snapshots tbody tr[data-version]")
    assert len(snapshots) == 2  # the core's write, then the ingestion job's append (newest first)
    assert snapshots[0].get_attribute("data-version") == ingested["version"]
    assert "append" in snapshots[0].text and ingestion_job in snapshots[0].text
    assert "not a Headrace job" in snapshots[1].text
    link = snapshots[0].find_element(By.CSS_SELECTOR, "a.job-link")
    assert link.get_attribute("href").endswith(f"/pluginsv2/headrace/ui/ingestion?job_id={ingestion_job}")
    shot(driver, tmp_path, "table", publish=True)
    link.click()
    wait.until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "a[data-nav='ingestion']").get_attribute("aria-current") == "page"
        )
    )
    console += severe(driver)

    # Upload two files at once through the page; both are listed and land in storage.
    go(driver, wait, "lakehouse")
    folder = f"ui-{suffix}"
    files = {"cities.csv": "id,city\n1,Lyon\n2,Graz\n", "events.json": '{"id": 1, "kind": "click"}\n'}
    for name, content in files.items():
        (tmp_path / name).write_text(content)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#upload-form[data-ready='true']")))
    path_input = driver.find_element(By.CSS_SELECTOR, "#upload-form input[name=path]")
    path_input.clear()
    path_input.send_keys(folder)
    driver.find_element(By.CSS_SELECTOR, "#upload-form input[type=file]").send_keys(
        "\n".join(str(tmp_path / name) for name in files)
    )
    driver.find_element(By.CSS_SELECTOR, "#upload-form button[type=submit]").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#uploaded tr.uploaded")) == 2)
    listed = text(driver, "#uploaded")
    for name, content in files.items():
        assert f"s3://landing/{folder}/{name}" in listed
        assert (home / "storage" / "landing" / folder / name).read_text() == content
    assert driver.find_element(By.ID, "upload-progress").get_attribute("value") == "100"
    shot(driver, tmp_path, "upload")
    console += severe(driver)

    # Job queue: the queued jobs, filtered by type; an operator may cancel one from the page.
    go(driver, wait, "jobs")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#filters[data-ready='true']")))
    driver.find_element(By.CSS_SELECTOR, "#filters input[name=type]").send_keys(job_type)
    driver.execute_script("document.getElementById('filters').dispatchEvent(new Event('change'))")
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job]")) == 3)
    shot(driver, tmp_path, "jobs")
    click(driver, f"tr[data-job='{job_ids[0]}'] button.cancel")
    wait.until(lambda d: "cancelled" in text(d, f"tr[data-job='{job_ids[0]}']"))
    answer = requests.get(f"{cluster.api}/jobs/{job_ids[0]}", headers=admin, timeout=30).json()
    assert answer["status"] == "cancelled"
    # The executor that claimed a job, with its last heartbeat.
    executor_row = f"#executors tr[data-executor='{executor}']"
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, executor_row)))
    assert "ui-host" in text(driver, executor_row) and "0 / 1" in text(driver, executor_row)
    console += severe(driver)

    # A job's page, from its row: attempts, output and error of the job the executor failed.
    filter_type = driver.find_element(By.CSS_SELECTOR, "#filters input[name=type]")
    filter_type.clear()
    filter_type.send_keys(f"ui-exec-{suffix}")
    driver.execute_script("document.getElementById('filters').dispatchEvent(new Event('change'))")
    click(driver, f"tr[data-job='{failed_job}'] a.job-link")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-details[data-status='failed']")))
    attempt = text(driver, "#attempts tr[data-attempt='1']")
    assert executor in attempt and "failed" in attempt and "the binary exited with code 3" in attempt
    assert text(driver, "#stdout .log") == "loading day 2026-12-01"
    assert text(driver, "#stderr .log") == "error: table locked"
    assert "--day 2026-12-01" in text(driver, "#job-binary")
    assert not driver.find_element(By.ID, "cancel").is_displayed()  # an ended job has nothing to cancel
    shot(driver, tmp_path, "job", publish=True)
    # ... and a pending job's page cancels it.
    go(driver, wait, "jobs")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#filters[data-ready='true']")))
    driver.find_element(By.CSS_SELECTOR, "#filters input[name=type]").send_keys(job_type)
    driver.execute_script("document.getElementById('filters').dispatchEvent(new Event('change'))")
    click(driver, f"tr[data-job='{job_ids[2]}'] a.job-link")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-details[data-status='pending']")))
    assert "not claimed by an executor yet" in text(driver, "#attempts")
    click(driver, "#cancel")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-details[data-status='cancelled']")))
    answer = requests.get(f"{cluster.api}/jobs/{job_ids[2]}", headers=admin, timeout=30).json()
    assert answer["status"] == "cancelled"
    console += severe(driver)

    # A phone-sized screen: the Overview fits its width, charts included; the rows ingested per hour
    # count the ingestion job's two rows.
    driver.set_window_size(390, 844)
    go(driver, wait, "overview")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#health tr[data-component='scheduler']")))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#rows-chart[data-chart='drawn'] canvas")))
    assert int(driver.find_element(By.ID, "rows").get_attribute("data-total")) >= 2
    chart_width = driver.execute_script("return document.querySelector('#rate-chart canvas').clientWidth")
    assert 200 <= chart_width <= 390
    driver.execute_script("document.getElementById('requests').scrollIntoView()")
    shot(driver, tmp_path, "overview-phone-charts")
    driver.execute_script("window.scrollTo(0, 0)")
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the Overview is {overflow}px wider than a phone screen"
    shot(driver, tmp_path, "overview-phone")
    console += severe(driver)
    driver.set_window_size(1280, 900)

    # Airflow's dark theme (its own setting, kept in localStorage) carries over to the pages.
    assert driver.execute_script("return document.documentElement.dataset.theme") == "light"
    driver.switch_to.default_content()
    driver.execute_script("localStorage.setItem('theme', 'dark')")
    driver.refresh()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, "iframe[title='Headrace']")))
    wait.until(lambda d: d.execute_script("return document.documentElement.dataset.theme") == "dark")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#health tr[data-component='scheduler']")))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#rate-chart[data-chart='drawn'] canvas")))
    shot(driver, tmp_path, "overview-dark")
    driver.switch_to.default_content()
    driver.execute_script("localStorage.setItem('theme', 'light')")
    console += severe(driver)

    # A viewer sees the queued job but no cancel button, and the API refuses the cancel anyway.
    login(driver, cluster, "vic")
    wait = open_headrace(driver)
    go(driver, wait, "jobs")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#filters[data-ready='true']")))
    driver.find_element(By.CSS_SELECTOR, "#filters input[name=type]").send_keys(job_type)
    driver.execute_script("document.getElementById('filters').dispatchEvent(new Event('change'))")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"tr[data-job='{job_ids[1]}']")))
    assert "pending" in text(driver, f"tr[data-job='{job_ids[1]}']")
    assert driver.find_elements(By.CSS_SELECTOR, "button.cancel") == []
    click(driver, f"tr[data-job='{job_ids[1]}'] a.job-link")  # nor on the job's page
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#job-details[data-status='pending']")))
    assert driver.find_elements(By.CSS_SELECTOR, "#cancel, #stop") == []
    viewer = {"Authorization": f"Bearer {cluster.airflow_token('vic')}"}
    refused = requests.delete(f"{cluster.api}/jobs/{job_ids[1]}", headers=viewer, timeout=30)
    assert refused.status_code == 403, refused.text
    go(driver, wait, "lakehouse")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"details[data-catalog='{catalog}']")))
    assert driver.find_elements(By.CSS_SELECTOR, "#upload-form") == []
    shot(driver, tmp_path, "jobs-viewer")
    console += severe(driver)

    assert console == [], "browser console errors:\n" + "\n".join(console)


def test_pages_without_the_airflow_login_ask_for_it(airflow_cluster):
    """No cookie, no page: the shell says to log in (401) and shows no data."""
    answer = requests.get(f"{airflow_cluster.url}/pluginsv2/headrace/ui/jobs", timeout=30)
    assert answer.status_code == 401
    assert "Log in to Airflow" in answer.text and "data-job" not in answer.text
