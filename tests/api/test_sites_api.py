"""Central job-monitoring API sites over the real Flask app and metadata DB, with real loopback
HTTP servers playing the sites: registry routes, forwarding, fan-out and health."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from headrace.api.errors import ApiError
from headrace.api.services import sites as service

SITES = "/headrace/job-monitoring/v1/sites"
KEY = "the-site-key-0123456789"


class Site:
    """A loopback HTTP server answering ``/v1/jobs`` and ``/v1/healthz`` like a site."""

    def __init__(self, items: list[dict], *, delay: float = 0.0, status: int = 200) -> None:
        self.items, self.delay, self.status = items, delay, status
        self.requests: list[tuple[str, dict, str | None]] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                site.requests.append((url.path, parse_qs(url.query), self.headers.get("X-API-Key")))
                time.sleep(site.delay)
                body = (
                    {"status": "ok"}
                    if url.path.endswith("healthz")
                    else {"items": site.items, "count": len(site.items), "duration_s": 0.001}
                )
                data = json.dumps(body).encode()
                try:
                    self.send_response(site.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the caller gave up (timeout)
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pluginsv2/headrace/job-monitoring"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def site(items: list[dict], **options) -> Iterator[Site]:
    server = Site(items, **options)
    try:
        yield server
    finally:
        server.close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def job(job_id: str, started_at: str) -> dict:
    return {"job_id": job_id, "status": "running", "started_at": started_at}


@pytest.fixture
def added(client, admin_headers):
    ids: list[str] = []

    def add(site_id: str, endpoint: str, api_key: str | None = None):
        body = {"id": site_id, "endpoint": endpoint, **({"api_key": api_key} if api_key else {})}
        response = client.post(SITES, headers=admin_headers, json=body)
        if response.status_code == 201:
            ids.append(site_id)
        return response

    yield add
    for site_id in ids:
        client.delete(f"{SITES}/{site_id}", headers=admin_headers)


@pytest.fixture
def static(monkeypatch):
    def configure(sites: dict[str, str], timeout: float = 0.5) -> None:
        value = ";".join(f"{k}={v}" for k, v in sites.items())
        monkeypatch.setenv("AIRFLOW__HEADRACE__MONITORING_SITES", value)
        monkeypatch.setenv("AIRFLOW__HEADRACE__MONITORING_SITE_TIMEOUT", str(timeout))

    configure({})
    return configure


def test_add_list_delete_without_showing_the_key(client, admin_headers, added, static) -> None:
    static({"fab1": "http://site1:18000/"})
    response = added("fab2", "http://site2:18000/x/", KEY)
    assert response.status_code == 201, response.json
    assert response.json == {"id": "fab2", "endpoint": "http://site2:18000/x"}
    listing = client.get(SITES, headers=admin_headers)
    assert listing.status_code == 200
    assert listing.json == {
        "sites": [
            {"id": "fab1", "endpoint": "http://site1:18000"},
            {"id": "fab2", "endpoint": "http://site2:18000/x"},
        ],
        "count": 2,
    }
    assert KEY not in response.get_data(as_text=True) + listing.get_data(as_text=True)
    assert client.delete(f"{SITES}/fab2", headers=admin_headers).status_code == 204
    assert [s["id"] for s in client.get(SITES, headers=admin_headers).json["sites"]] == ["fab1"]


def test_conflicts_and_unknown(client, admin_headers, added, static) -> None:
    static({"fab1": "http://site1:18000"})
    assert added("fab2", "http://site2:18000").status_code == 201
    again = added("fab2", "http://elsewhere:1")
    assert again.status_code == 409 and again.json["context"] == {"site": "fab2"}
    assert added("fab1", "http://elsewhere:1").status_code == 409
    static_delete = client.delete(f"{SITES}/fab1", headers=admin_headers)
    assert static_delete.status_code == 409
    assert "[headrace] monitoring_sites" in static_delete.json["error"]
    unknown = client.delete(f"{SITES}/nope", headers=admin_headers)
    assert unknown.status_code == 404 and unknown.json["context"] == {"site": "nope"}


def test_validation_names_fields(client, admin_headers, added, static) -> None:
    response = added("-bad", "http://user:pw@site:1")
    assert response.status_code == 400
    fields = {e["field"] for e in response.json["context"]["errors"]}
    assert fields == {"id", "endpoint"}
    assert added("ok", "file:///etc/passwd").status_code == 400
    assert added("ok", "http://site/?q=1").status_code == 400


def test_viewer_may_list_but_not_change(client, viewer_headers, admin_headers, added, static) -> None:
    assert client.get(SITES, headers=viewer_headers).status_code == 200
    body = {"id": "fab7", "endpoint": "http://site7:1"}
    assert client.post(SITES, headers=viewer_headers, json=body).status_code == 403
    assert added("fab7", "http://site7:1").status_code == 201
    assert client.delete(f"{SITES}/fab7", headers=viewer_headers).status_code == 403
    assert client.get(SITES).status_code == 401


def test_forwarding_one_site(app, added, static, monkeypatch) -> None:
    with site([job("j1", "2024-01-01T00:00:00Z")]) as fab1, site([], delay=2.0) as slow:
        monkeypatch.setenv(
            "AIRFLOW_CONN_HEADRACE_SITE_FAB1", json.dumps({"conn_type": "http", "password": KEY})
        )
        static({"fab1": fab1.url, "slow": slow.url}, timeout=0.5)
        assert added("down", closed_port()).status_code == 201
        with app.test_request_context():
            answer = service.query_site("jobs", "fab1", {"site": "fab1", "status": "running", "limit": "5"})
            assert answer["items"] == [job("j1", "2024-01-01T00:00:00Z")] and answer["count"] == 1
            path, query, key = fab1.requests[-1]
            assert path.endswith("/v1/jobs") and query == {"status": ["running"], "limit": ["5"]}
            assert key == KEY
            for site_id, status in (("slow", 504), ("down", 502), ("nope", 404)):
                with pytest.raises(ApiError) as caught:
                    service.query_site("jobs", site_id, {"site": site_id})
                assert caught.value.status == status and caught.value.details["site"] == site_id
                assert site_id in caught.value.message


def test_site_answering_an_error_is_502_with_its_status(app, static) -> None:
    with site([], status=500) as broken:
        static({"broken": broken.url})
        with app.test_request_context(), pytest.raises(ApiError) as caught:
            service.query_site("subjobs", "broken", {})
        assert caught.value.status == 502 and caught.value.details["status"] == 500


def test_stored_site_key_is_sent(app, added, static) -> None:
    with site([]) as fab3:
        assert added("fab3", fab3.url, KEY).status_code == 201
        with app.test_request_context():
            service.query_site("jobs", "fab3", {})
        assert fab3.requests[-1][2] == KEY


def test_fan_out_merges_newest_first_with_partial_results(app, added, static) -> None:
    with (
        site([job("a1", "2024-01-01T00:00:00Z"), job("a2", "2024-01-03T00:00:00Z")]) as fab1,
        site([job("b1", "2024-01-02T00:00:00Z")]) as fab2,
        site([], delay=2.0) as slow,
    ):
        static({"fab1": fab1.url, "fab2": fab2.url, "slow": slow.url}, timeout=0.5)
        assert added("down", closed_port()).status_code == 201
        with app.test_request_context():
            started = time.monotonic()
            answer = service.query_site("jobs", "*", {"site": "*", "limit": "2"})
            elapsed = time.monotonic() - started
    assert elapsed < 1.5  # concurrently: one timeout, not two
    assert [(i["job_id"], i["site_id"]) for i in answer["items"]] == [("a2", "fab1"), ("b1", "fab2")]
    assert answer["count"] == 2
    assert answer["sites"]["fab1"] == {"status": "ok", "count": 2}
    assert answer["sites"]["slow"]["status"] == "error" and answer["sites"]["down"]["status"] == "error"
    assert sorted(answer["warnings"]) == [
        "site down: connection failed (ConnectError)",
        "site slow: timeout after 0.5s",
    ]


def test_health_hides_errors_from_anonymous_callers(app, added, static) -> None:
    with site([]) as fab1:
        static({"fab1": fab1.url}, timeout=0.5)
        assert added("down", closed_port()).status_code == 201
        with app.test_request_context():
            health = service.sites_health(authenticated=True)
            anonymous = service.sites_health(authenticated=False)
        assert health["fab1"] == {"status": "ok", "endpoint": fab1.url}
        assert health["down"]["status"] == "degraded" and "connection failed" in health["down"]["error"]
        assert anonymous["down"] == {"status": "degraded", "endpoint": health["down"]["endpoint"]}
        calls = len(fab1.requests)
        with app.test_request_context():
            service.sites_health(authenticated=False)
        assert len(fab1.requests) == calls  # cached: polling does not reach the sites
