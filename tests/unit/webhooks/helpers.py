"""Real databases with Headrace's schema, stored events written as the event log writes them, and a
loopback HTTP receiver that answers what the test tells it."""

from __future__ import annotations

import http.server
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet

from headrace.db.models import MonitoringEvent, metadata
from headrace.events.records import StoredEvent
from tests.postgres import temporary_database

EVENTS = MonitoringEvent.__table__


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[sa.Engine]:
    if kind == "sqlite":
        engine = sa.create_engine(f"sqlite:///{tmp_path / 'headrace.db'}")
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with temporary_database("headrace_webhooks") as url:
        engine = sa.create_engine(url)
        metadata.create_all(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def store_event(connection: sa.Connection, **fields) -> StoredEvent:
    """Insert one headrace_event row (as the event log does) and return it as a StoredEvent."""
    now = datetime.now(UTC)
    row = {
        "idempotency_key": uuid.uuid4().hex,
        "site_id": "local",
        "source": "ingest",
        "entity_type": "job",
        "entity_id": "job-1",
        "kind": "finished",
        "status": "succeeded",
        "at": now,
        "inserted_at": now,
        "metrics": {},
        "metadata": {},
        **fields,
    }
    values = {("event_metadata" if k == "metadata" else k): v for k, v in row.items()}
    event_id = connection.execute(sa.insert(MonitoringEvent).values(**values)).inserted_primary_key[0]
    return StoredEvent(id=event_id, **row)


class Cipher:
    """Airflow's Fernet, without Airflow: encrypt for the store, reveal for the dispatcher."""

    def __init__(self) -> None:
        self.fernet = Fernet(Fernet.generate_key())

    def encrypt(self, secret: str) -> bytes:
        return self.fernet.encrypt(secret.encode())

    def reveal(self, token: bytes) -> str:
        return self.fernet.decrypt(bytes(token)).decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers ``statuses`` in order (then 200) and keeps every request."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    url: str = ""


@contextmanager
def receiver(statuses: list[int], host: str = "127.0.0.1") -> Iterator[Receiver]:
    state = Receiver(statuses=list(statuses))
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(Received(dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    state.url = f"http://{host}:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
