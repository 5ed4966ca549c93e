"""The Monitoring page in the real Airflow UI (headless Chromium), live from the SSE stream.

Events go in as an application's would: through the job-monitoring ingest API with an API key of the
``events`` scope. The page must show them, then show events posted while it is open without a
reload (the stream), filter by site and status, and come back after the server drops its stream (a
burst of more than 1000 events at once, the documented "too slow" disconnect): the browser
reconnects with ``Last-Event-ID`` and the events of the burst still arrive.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests

pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select

from tests.e2e.ui_browser import go, login, open_headrace, severe, shot, text

pytestmark = pytest.mark.e2e
MONITORING = "/pluginsv2/headrace/job-monitoring"
BURST = 1200  # more than the stream's per-client queue (1000): the server drops the page's stream


@pytest.fixture(scope="module")
def events_key(airflow_cluster) -> str:
    admin = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    created = requests.post(
        f"{airflow_cluster.api}/auth/api-keys",
        headers=admin,
        json={"name": "e2e-ui-monitoring", "scopes": ["events"], "expires_in_days": 1},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    return created.json()["data"]["key"]


def _event(app: str, site: str, kind: str, entity: str, at: datetime, **extra) -> dict:
    parent = extra.pop("parent", None)
    return {
        "idempotency_key": uuid.uuid4().hex,
        "site_id": site,
        "app": {"app_id": app, "name": app, "version": "1.0.0"},
        "entity": {
            "type": "subjob" if parent else "job",
            "id": entity,
            "parent_id": parent,
            "business_key": entity,
            "sub_key": None,
        },
        "event": {
            "kind": kind,
            "at": at.isoformat().replace("+00:00", "Z"),
            "metrics": {},
            "metadata": {},
            **extra,
        },
    }


def _post(cluster, key: str, events: list[dict]) -> None:
    answer = requests.post(
        f"{cluster.url}{MONITORING}/v1/ingest/events:batch",
        headers={"X-API-Key": key},
        json=events,
        timeout=120,
    )
    assert answer.status_code == 200 and answer.json()["ok"], answer.text


def _select(driver, name: str, value: str) -> None:
    Select(driver.find_element(By.CSS_SELECTOR, f"#mon-filters select[name={name}]")).select_by_value(value)


def _shown_jobs(driver, ours: set[str]) -> set[str]:
    return {
        row.get_attribute("data-job")
        for row in driver.find_elements(By.CSS_SELECTOR, "#mon-jobs tbody tr[data-job]")
    } & ours


def test_monitoring_page_is_live_from_the_event_stream(airflow_cluster, browser, events_key, tmp_path):
    cluster, driver = airflow_cluster, browser
    suffix = uuid.uuid4().hex[:6]
    app, fab, lab = f"ui-mon-{suffix}", f"fab-{suffix}", f"lab-{suffix}"
    job1, job2, job3, job4, job5 = (f"{app}-job{i}" for i in range(1, 6))
    ours = {job1, job2, job3, job4, job5}
    sub1 = f"{job1}-sub1"
    start = datetime.now(UTC) - timedelta(minutes=5)
    _post(
        cluster,
        events_key,
        [
            _event(app, fab, "started", job1, start),
            _event(app, fab, "started", sub1, start + timedelta(seconds=1), parent=job1),
            _event(app, lab, "started", job2, start),
            _event(app, lab, "finished", job2, start + timedelta(seconds=42), status="failed"),
        ],
    )
    console: list[str] = []

    login(driver, cluster, "admin")
    wait = open_headrace(driver)
    go(driver, wait, "monitoring")
    wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#mon-jobs tr[data-job='{job1}']")))
    first = text(driver, f"#mon-jobs tr[data-job='{job1}']")
    assert "running" in first and fab in first and app in first
    failed = text(driver, f"#mon-jobs tr[data-job='{job2}']")
    assert "failed" in failed and lab in failed and "42.0 s" in failed
    assert "running" in text(driver, f"#mon-subjobs tr[data-subjob='{sub1}']")
    assert "● live" in text(driver, "#live")
    shot(driver, tmp_path, "monitoring")
    console += severe(driver)

    # The site filter: only the jobs of that site.
    _select(driver, "site", f"id:{fab}")
    wait.until(lambda d: _shown_jobs(d, ours) == {job1})

    # Posted while the page is open: it appears, and the job's status changes, without a reload.
    driver.execute_script("window.headraceTestMarker = 'same page'")
    _post(
        cluster,
        events_key,
        [
            _event(app, fab, "finished", sub1, start + timedelta(seconds=30), parent=job1),
            _event(app, fab, "finished", job1, start + timedelta(seconds=31)),
            _event(app, fab, "started", job3, start + timedelta(seconds=40)),
            _event(app, lab, "started", job5, start + timedelta(seconds=40)),  # another site: filtered out
        ],
    )
    wait.until(lambda d: "succeeded" in text(d, f"#mon-jobs tr[data-job='{job1}']"))
    wait.until(lambda d: _shown_jobs(d, ours) == {job1, job3})
    assert "succeeded" in text(driver, f"#mon-subjobs tr[data-subjob='{sub1}']")
    assert "31.0 s" in text(driver, f"#mon-jobs tr[data-job='{job1}']")  # ended - started
    assert driver.execute_script("return window.headraceTestMarker") == "same page"
    shot(driver, tmp_path, "monitoring-live", publish=True)

    # The status filter, across sites.
    _select(driver, "site", "")
    _select(driver, "status", "failed")
    wait.until(lambda d: _shown_jobs(d, ours) == {job2})
    _select(driver, "status", "")
    wait.until(lambda d: _shown_jobs(d, ours) == {job1, job2, job3, job5})
    console += severe(driver)

    # A burst the server will not buffer for the page: it drops the stream; the browser reconnects
    # with Last-Event-ID and gets the whole burst from the log, the last event of it included.
    opens = int(driver.find_element(By.ID, "live").get_attribute("data-opens"))
    burst = [
        _event(app, fab, "progress", job3, start + timedelta(seconds=41, milliseconds=i), status="running")
        for i in range(BURST)
    ]
    burst.append(_event(app, fab, "started", job4, start + timedelta(seconds=50)))
    _post(cluster, events_key, burst)
    wait.until(lambda d: int(d.find_element(By.ID, "live").get_attribute("data-opens")) > opens)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f"#mon-jobs tr[data-job='{job4}']")))
    wait.until(lambda d: d.find_element(By.ID, "live").get_attribute("data-state") == "live")
    _post(cluster, events_key, [_event(app, lab, "canceled", job5, start + timedelta(seconds=60))])
    wait.until(lambda d: "canceled" in text(d, f"#mon-jobs tr[data-job='{job5}']"))
    assert driver.execute_script("return window.headraceTestMarker") == "same page"
    console += severe(driver)

    # A phone-sized screen: no horizontal overflow of the page.
    driver.set_window_size(390, 844)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the Monitoring page is {overflow}px wider than a phone screen"
    shot(driver, tmp_path, "monitoring-phone")
    driver.set_window_size(1280, 900)
    console += severe(driver)

    assert console == [], "browser console errors:\n" + "\n".join(console)
