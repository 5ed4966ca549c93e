"""The event log: one append-only table of everything that runs, and the jobs folded from it.

:class:`EventLog` is the one way events get in, whoever publishes them (``POST /v1/ingest/events``,
the sidecar, Airflow runs, the binary job queue). An append is one transaction that

1. inserts the events with ``INSERT .. ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING``
   (effectively once: the unique index, never check-then-insert, decides what is a duplicate);
2. folds the *newly stored* events into ``headrace_tracked_entity`` (:mod:`headrace.events.fold`:
   one upsert statement per batch);
3. writes their webhook deliveries (:func:`headrace.events.webhooks.enqueue`).

So an event is never visible without its job row and its deliveries, and a replayed batch changes
nothing. Log ids only grow; :meth:`EventLog.read_after` is how streams resume (SSE ``Last-Event-ID``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.dialect import aware
from headrace.db.models import MonitoringEvent as EventRow
from headrace.events import metrics, webhooks
from headrace.events.fold import fold
from headrace.events.model import MonitoringEvent
from headrace.events.records import Source, StoredEvent

_TABLE = EventRow.__table__


@dataclass(frozen=True)
class AppendResult:
    stored: list[StoredEvent]  # newly stored, in log-id order
    duplicates: int  # events whose (site_id, idempotency_key) was already stored: changed nothing


def _row(event: MonitoringEvent, source: str, now: datetime) -> dict[str, Any]:
    entity, occurrence, app = event.entity, event.event, event.app
    return {
        "idempotency_key": event.idempotency_key,
        "site_id": event.site_id,
        "source": source,
        "app_id": app.app_id,
        "app_name": app.name,
        "app_version": app.version,
        "entity_type": entity.type.value,
        "entity_id": entity.id,
        "parent_id": entity.parent_id,
        "business_key": entity.business_key,
        "sub_key": entity.sub_key,
        "kind": occurrence.kind.value,
        "status": occurrence.status.value if occurrence.status is not None else None,
        "at": occurrence.at.astimezone(UTC),
        "metrics": dict(occurrence.metrics),
        "metadata": dict(occurrence.metadata),
        "inserted_at": now,
    }


def _stored(id_: int, row: dict[str, Any]) -> StoredEvent:
    return StoredEvent(id=id_, **row)  # the row's keys are the event's fields


def to_stored(row: Any) -> StoredEvent:
    """A ``headrace_event`` row (a Core row mapping) as a :class:`StoredEvent`."""
    m = row._mapping
    return StoredEvent(
        id=m["id"],
        idempotency_key=m["idempotency_key"],
        site_id=m["site_id"],
        source=m["source"],
        entity_type=m["entity_type"],
        entity_id=m["entity_id"],
        kind=m["kind"],
        at=aware(m["at"]),
        inserted_at=aware(m["inserted_at"]),
        app_id=m["app_id"],
        app_name=m["app_name"],
        app_version=m["app_version"],
        parent_id=m["parent_id"],
        business_key=m["business_key"],
        sub_key=m["sub_key"],
        status=m["status"],
        metrics=m["metrics"] or {},
        metadata=m["metadata"] or {},
    )


class EventLog:
    """The event log on an Engine (Airflow's metadata database: PostgreSQL, or SQLite embedded)."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.engine = engine

    def append(self, events: Sequence[MonitoringEvent], *, source: str = Source.INGEST) -> AppendResult:
        """Store, fold and announce ``events`` in one transaction; duplicates are counted, not stored."""
        if not events:
            return AppendResult([], 0)
        with self.engine.begin() as connection:
            return self.append_with(connection, events, source=source)

    def append_with(
        self, connection: Connection, events: Sequence[MonitoringEvent], *, source: str = Source.INGEST
    ) -> AppendResult:
        """The same inside the caller's transaction (the job queue publishes in its own)."""
        if not events:
            return AppendResult([], 0)
        began = time.perf_counter()
        now = datetime.now(UTC)
        stmt = (
            dialect.insert(connection, _TABLE)
            .on_conflict_do_nothing(index_elements=["site_id", "idempotency_key"])
            .returning(_TABLE.c.id, _TABLE.c.site_id, _TABLE.c.idempotency_key)
        )
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for event in events:  # a key repeated within the batch: its first event is the one stored
            rows.setdefault((event.site_id, event.idempotency_key), _row(event, source, now))
        # executemany: SQLAlchemy's "insertmanyvalues" batches the rows into multi-row INSERTs with a
        # cached compiled statement (building one 1,000-row VALUES per call compiles slowly). Only the
        # ids come back: the rest of each stored event is what was just sent.
        returned = connection.execute(stmt, list(rows.values())).all()
        stored = sorted(
            (_stored(id_, rows[(site_id, key)]) for id_, site_id, key in returned), key=lambda e: e.id
        )
        if stored:
            fold(connection, stored)
            webhooks.enqueue(connection, stored)
        duplicates = len(events) - len(stored)
        metrics.observe(
            source, [e.kind for e in stored], duplicates, len(events), time.perf_counter() - began
        )
        return AppendResult(stored, duplicates)

    def read_after(
        self,
        after_id: int,
        *,
        limit: int = 500,
        entity_type: str | None = None,
        app_name: str | None = None,
        site_id: str | None = None,
    ) -> list[StoredEvent]:
        """Stored events with ``id > after_id``, ascending id (``app_name``: exact match)."""
        query = select(_TABLE).where(_TABLE.c.id > after_id)
        if entity_type is not None:
            query = query.where(_TABLE.c.entity_type == entity_type)
        if app_name is not None:
            query = query.where(_TABLE.c.app_name == app_name)
        if site_id is not None:
            query = query.where(_TABLE.c.site_id == site_id)
        query = query.order_by(_TABLE.c.id).limit(max(1, limit))
        with self.engine.connect() as connection:
            return [to_stored(r) for r in connection.execute(query)]

    def last_id(self) -> int:
        """The greatest log id so far, 0 when the log is empty."""
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.coalesce(func.max(_TABLE.c.id), 0))).scalar_one())
