"""The sidecar's HTTP API and forwarding, in-process, against a real upstream on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from headrace.events.sidecar import SidecarConfig, build
from headrace.events.sidecar.forwarder import Forwarder
from tests.unit.events_sidecar.upstream import KEY, FakeUpstream, event, fake_upstream, wait_for


@dataclass
class Running:
    url: str
    forwarder: Forwarder
    upstream: FakeUpstream
    spool_dir: Path

    def post(self, path: str, body, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=10, **kwargs)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with fake_upstream() as server:
        yield server


def _start(upstream: FakeUpstream, spool_dir: Path, **overrides) -> tuple[Running, callable]:
    config = SidecarConfig(
        listen=("127.0.0.1", 0),
        upstream=upstream.url,
        api_key=KEY,
        spool_dir=spool_dir,
        timeout=overrides.pop("timeout", 2.0),
        backoff_initial=0.02,
        backoff_max=0.1,
        **overrides,
    )
    server, forwarder = build(config)
    forwarder.start()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        forwarder.stop()

    url = f"http://127.0.0.1:{server.server_address[1]}"
    return Running(url, forwarder, upstream, spool_dir), stop


@pytest.fixture
def sidecar(upstream, tmp_path) -> Iterator[Running]:
    running, stop = _start(upstream, tmp_path / "spool")
    yield running
    stop()


def test_events_go_straight_upstream_with_the_key(sidecar, upstream):
    single = sidecar.post("/v1/ingest/events", event("j1"))
    batch = sidecar.post("/v1/ingest/events:batch", [event("j2"), event("j3")])

    assert single.status_code == 200 and single.json() == {"ok": True, "forwarded": 1, "spooled": 0}
    assert batch.json() == {"ok": True, "forwarded": 2, "spooled": 0, "rejected": []}
    assert upstream.ids() == ["j1", "j2", "j3"] and set(upstream.keys) == {KEY}
    health = httpx.get(sidecar.url + "/v1/healthz").json()
    assert health["service"] == "sidecar-agent" and health["status"] == "ok"
    assert health["spool_count"] == 0 and health["spool_dir"] == str(sidecar.spool_dir)
    assert KEY not in json.dumps(health)


@pytest.mark.parametrize("status", [500, 503, 429, 401, 403])
def test_while_upstream_refuses_events_are_spooled_then_replayed_in_order(sidecar, upstream, status):
    upstream.status = status
    answers = [sidecar.post("/v1/ingest/events", event(f"j{i}")).json() for i in range(5)]
    answers.append(sidecar.post("/v1/ingest/events:batch", [event("j5"), event("j6")]).json())

    assert [a["spooled"] for a in answers] == [1, 1, 1, 1, 1, 2] and upstream.ids() == []
    assert httpx.get(sidecar.url + "/v1/healthz").json()["spool_count"] == 7
    assert len(sidecar.forwarder.spool) == 7
    calls = upstream.calls
    wait_for(lambda: upstream.calls > calls + 1)  # it keeps retrying (backoff), e.g. 401 until fixed

    upstream.status = 200
    wait_for(lambda: len(upstream.ids()) == 7)
    assert upstream.ids() == [f"j{i}" for i in range(7)]
    wait_for(lambda: len(sidecar.forwarder.spool) == 0)
    direct = sidecar.post("/v1/ingest/events", event("j7")).json()
    assert direct == {"ok": True, "forwarded": 1, "spooled": 0}  # spool empty again: direct


def test_a_slow_upstream_times_out_into_the_spool(upstream, tmp_path):
    running, stop = _start(upstream, tmp_path / "spool", timeout=0.3)
    try:
        upstream.delay = 1.0
        assert running.post("/v1/ingest/events", event("slow")).json()["spooled"] == 1
        upstream.delay = 0
        wait_for(lambda: len(running.forwarder.spool) == 0)
        assert upstream.ids() == ["slow"]  # the timed-out first try was stored too: deduplicated
    finally:
        stop()


def test_resending_the_same_event_never_doubles_it(sidecar, upstream):
    upstream.status = 503
    sidecar.post("/v1/ingest/events", event("dup"))
    upstream.status = 200
    wait_for(lambda: len(sidecar.forwarder.spool) == 0)
    again = sidecar.post("/v1/ingest/events:batch", [event("dup"), event("dup")])
    assert again.json()["ok"] and upstream.ids() == ["dup"]


def test_invalid_events_are_refused_locally_and_never_spooled(sidecar, upstream):
    upstream.status = 500
    bad = event("b1")
    del bad["site_id"]
    bad["entity"]["type"] = "pipeline"

    single = sidecar.post("/v1/ingest/events", bad)
    batch = sidecar.post("/v1/ingest/events:batch", [event("ok1"), bad, event("ok2")])

    assert single.status_code == 400
    fields = {e["field"] for e in single.json()["context"]["errors"]}
    assert fields == {"site_id", "entity.type"} and single.json()["code"] == "VALIDATION_ERROR"
    assert batch.status_code == 200
    body = batch.json()
    assert body["spooled"] == 2 and body["ok"] is False
    assert [r["index"] for r in body["rejected"]] == [1]
    assert {e["field"] for e in body["rejected"][0]["errors"]} == {"site_id", "entity.type"}
    assert [r["entity"]["id"] for r in sidecar.forwarder.spool.peek().records] == ["ok1", "ok2"]


def test_events_the_upstream_rejects_go_to_the_dead_letter_file(sidecar, upstream):
    upstream.reject_ids = {"bad-site"}
    direct = sidecar.post("/v1/ingest/events:batch", [event("good"), event("bad-site")]).json()
    upstream.status = 502
    sidecar.post("/v1/ingest/events:batch", [event("bad-site", key="k2"), event("good2")])
    upstream.status = 200
    wait_for(lambda: len(sidecar.forwarder.spool) == 0)

    assert direct["forwarded"] == 1 and direct["dead_lettered"] == 1 and direct["ok"] is False
    assert upstream.ids() == ["good", "good2"]
    letters = [
        json.loads(line) for line in (sidecar.spool_dir / "dead-letter.jsonl").read_text().splitlines()
    ]
    assert [d["event"]["idempotency_key"] for d in letters] == ["key-bad-site", "k2"]
    assert letters[0]["errors"] == [{"field": "site_id", "message": "unknown"}]
    calls = upstream.calls
    sidecar.post("/v1/ingest/events", event("after"))
    assert upstream.calls == calls + 1  # nothing is retried forever


def test_a_full_spool_answers_503_and_keeps_what_it_has(upstream, tmp_path):
    running, stop = _start(upstream, tmp_path / "spool", max_spool_bytes=4096)
    try:
        upstream.status = 503
        statuses = [running.post("/v1/ingest/events", event(f"f{i}")).status_code for i in range(20)]
        accepted = statuses.count(200)
        assert 0 < accepted < 20 and set(statuses[accepted:]) == {503}  # refuses once full, never drops
        full = running.post("/v1/ingest/events", event("more"))
        assert full.json()["code"] == "SPOOL_FULL" and full.headers["Retry-After"]
        upstream.status = 200
        wait_for(lambda: len(upstream.ids()) == accepted)
        assert upstream.ids() == [f"f{i}" for i in range(accepted)]
    finally:
        stop()


def test_bodies_must_be_json_and_not_too_large(upstream, tmp_path):
    running, stop = _start(upstream, tmp_path / "spool", max_body_bytes=2048)
    try:
        text = httpx.post(
            running.url + "/v1/ingest/events", content=b"x", headers={"Content-Type": "text/plain"}
        )
        big = running.post("/v1/ingest/events:batch", [event(f"b{i}") for i in range(20)])
        broken = httpx.post(
            running.url + "/v1/ingest/events", content=b"{", headers={"Content-Type": "application/json"}
        )
        not_array = running.post("/v1/ingest/events:batch", event("x"))
        assert (text.status_code, big.status_code, broken.status_code) == (415, 413, 400)
        assert not_array.status_code == 400 and broken.json()["code"] == "INVALID_JSON"
        assert httpx.get(running.url + "/nope").status_code == 404
        assert upstream.calls == 0
    finally:
        stop()


def test_metrics_count_what_happened(sidecar, upstream):
    sidecar.post("/v1/ingest/events", event("m1"))
    upstream.status = 500
    sidecar.post("/v1/ingest/events", event("m2"))
    text = httpx.get(sidecar.url + "/metrics").text
    assert "headrace_sidecar_events_forwarded_total 1.0" in text
    assert "headrace_sidecar_events_spooled_total 1.0" in text
    assert 'headrace_sidecar_upstream_errors_total{reason="server_error"}' in text
    assert "headrace_sidecar_spool_events 1.0" in text
    upstream.status = 200
    wait_for(lambda: "headrace_sidecar_events_replayed_total 1.0" in httpx.get(sidecar.url + "/metrics").text)


def test_a_batch_the_upstream_calls_invalid_is_dead_lettered_not_retried(sidecar, upstream):
    upstream.status = 400
    answer = sidecar.post("/v1/ingest/events", event("refused")).json()
    assert answer == {"ok": False, "forwarded": 0, "spooled": 0, "dead_lettered": 1}
    assert len(sidecar.forwarder.spool) == 0
    letter = json.loads((sidecar.spool_dir / "dead-letter.jsonl").read_text())
    assert letter["event"]["entity"]["id"] == "refused" and "HTTP 400" in letter["errors"][0]["message"]
