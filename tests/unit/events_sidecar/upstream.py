"""A small real job-monitoring upstream on loopback: stores batches, deduplicates, misbehaves on demand."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KEY = "hrk_test.secret-value"


class FakeUpstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.status = 200  # answer this instead of storing, when not 200
        self.delay = 0.0
        self.reject_ids: set[str] = set()  # entity ids answered as rejected
        self.stored: list[dict[str, Any]] = []  # in arrival order, each (site, key) once
        self.seen: set[tuple[str, str]] = set()
        self.calls = 0
        self.keys: list[str | None] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/pluginsv2/headrace/job-monitoring"

    def ids(self) -> list[str]:
        with self.lock:
            return [e["entity"]["id"] for e in self.stored]


class _Handler(BaseHTTPRequestHandler):
    server: FakeUpstream
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        up = self.server
        with up.lock:
            up.calls += 1
            up.keys.append(self.headers.get("X-API-Key"))
        if up.delay:
            time.sleep(up.delay)
        if not self.path.endswith("/v1/ingest/events:batch"):
            return self._answer(404, {"error": "not found"})
        if up.status != 200:
            return self._answer(up.status, {"error": "as configured"})
        if self.headers.get("X-API-Key") != KEY:
            return self._answer(401, {"error": "bad key"})
        stored = duplicates = 0
        rejected = []
        with up.lock:
            for index, event in enumerate(body):
                if event["entity"]["id"] in up.reject_ids:
                    rejected.append({"index": index, "errors": [{"field": "site_id", "message": "unknown"}]})
                    continue
                ident = (event["site_id"], event["idempotency_key"])
                if ident in up.seen:
                    duplicates += 1
                else:
                    up.seen.add(ident)
                    up.stored.append(event)
                    stored += 1
        self._answer(
            200, {"ok": not rejected, "stored": stored, "duplicates": duplicates, "rejected": rejected}
        )

    def _answer(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def fake_upstream() -> Iterator[FakeUpstream]:
    server = FakeUpstream()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def event(entity_id: str, key: str | None = None, **occurrence: Any) -> dict[str, Any]:
    """A valid contract event about job ``entity_id`` (its idempotency key defaults to the id)."""
    return {
        "idempotency_key": key or f"key-{entity_id}",
        "site_id": "fab1",
        "app": {"app_id": "a1", "name": "sidecar-test", "version": "1.0.0"},
        "entity": {"type": "job", "id": entity_id, "parent_id": None, "business_key": "b", "sub_key": None},
        "event": {
            "kind": "started",
            "at": "2026-12-01T12:00:00Z",
            "status": "running",
            "metrics": {},
            "metadata": {},
            **occurrence,
        },
    }


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
