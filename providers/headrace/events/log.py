"""The event log: one append-only table of everything that runs, and the jobs folded from it.

:class:`EventLog` is the one way events get in, whoever publishes them (``POST /v1/ingest/events``,
the sidecar, Airflow runs, the binary job queue). An append is one transaction that

1. inserts the events with ``INSERT .. ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING``
   (effectively once: the unique index, never check-then-insert, decides what is a duplicate);
2. folds the *newly stored* events into ``headrace_tracked_entity`` (:mod:`headrace.events.fold`:
   one upsert statement per batch; duplicates are not folded at all);
3. writes their webhook deliveries (:func:`headrace.events.webhooks.enqueue`).

So an event is never visible without its job row and its deliveries, and a replayed batch changes
nothing. On PostgreSQL steps 1 and 2 are one statement: the batch goes as one JSON document
(:mod:`headrace.events.bulk`) instead of one bound parameter per row and column, and the insert's
``RETURNING`` feeds the fold's data-modifying CTEs (:func:`headrace.events.fold.pg_fold`), so only
the ids come back; SQLite takes the generic Core statements and folds in Python (the same rules,
the same results: ``tests/unit/events/test_fold_dialects.py``).

Log ids only grow; :meth:`EventLog.read_after` is how streams resume (SSE ``Last-Event-ID``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.dialect import aware
from headrace.db.models import MonitoringEvent as EventRow
from headrace.events import bulk, metrics, webhooks
from headrace.events.fold import fold, pg_fold
from headrace.events.model import MonitoringEvent
from headrace.events.records import Source, StoredEvent

_TABLE = EventRow.__table__

# The PostgreSQL append (:mod:`headrace.events.bulk`): the batch as one JSON document, inserted
# and folded in one statement (the insert's RETURNING feeds the fold's CTEs, :func:`pg_fold`).
_PG_INSERT = bulk.insert_sql(
    _TABLE.name,
    (
        ("idempotency_key", "text"),
        ("site_id", "text"),
        ("source", "text"),
        ("app_id", "text"),
        ("app_name", "text"),
        ("app_version", "text"),
        ("entity_type", "text"),
        ("entity_id", "text"),
        ("parent_id", "text"),
        ("business_key", "text"),
        ("sub_key", "text"),
        ("kind", "text"),
        ("status", "text"),
        ("at", "timestamptz"),
        ("metrics", "json"),
        ("metadata", "json"),
    ),
    "ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING id, site_id, idempotency_key,"
    " entity_type, entity_id, parent_id, app_id, app_name, app_version, business_key, sub_key, kind,"
    " status, at, metrics, metadata",
    same=(("inserted_at", "CAST(:now AS timestamptz)"),),  # one ISO string, not one per row
)
_PG_APPEND = sqlalchemy.text(
    f"WITH inserted AS ({_PG_INSERT}), {pg_fold('inserted', 'CAST(:now AS timestamptz)')}"
    " SELECT id, site_id, idempotency_key FROM inserted"
)


@dataclass(frozen=True)
class AppendResult:
    stored: list[StoredEvent]  # newly stored, in log-id order
    duplicates: int  # events whose (site_id, idempotency_key) was already stored: changed nothing


def _row(event: MonitoringEvent, source: str) -> dict[str, Any]:
    """The event's columns but ``id`` and ``inserted_at`` (the same for the whole batch)."""
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
        "metrics": occurrence.metrics,  # the frozen event's own dicts: nothing changes them
        "metadata": occurrence.metadata,
    }


def _insert(connection: Connection, rows: list[dict[str, Any]], now: datetime) -> list[Any]:
    """Insert the rows whose (site_id, idempotency_key) is new; ``(id, site_id, key)`` of each.
    On PostgreSQL the same statement folds them (:func:`pg_fold`), elsewhere the caller does."""
    if connection.dialect.name == "postgresql":
        return connection.execute(_PG_APPEND, {"rows": bulk.document(rows), "now": now}).all()
    rows = [{**row, "inserted_at": now} for row in rows]
    stmt = (
        dialect.insert(connection, _TABLE)
        .on_conflict_do_nothing(index_elements=["site_id", "idempotency_key"])
        .returning(_TABLE.c.id, _TABLE.c.site_id, _TABLE.c.idempotency_key)
    )
    # executemany: SQLAlchemy's "insertmanyvalues" batches the rows into multi-row INSERTs with a
    # cached compiled statement (building one 1,000-row VALUES per call compiles slowly).
    return connection.execute(stmt, rows).all()


def _stored(id_: int, row: dict[str, Any], now: datetime) -> StoredEvent:
    return StoredEvent(id=id_, inserted_at=now, **row)  # the row's keys are the event's fields


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


@dataclass
class _Batch:
    """The rows of one append, one per (site_id, idempotency_key): a key repeated within the batch
    stores its first event."""

    source: str
    rows: dict[tuple[str, str], dict[str, Any]]
    received: int
    now: datetime  # inserted_at of every event of the batch

    @classmethod
    def of(cls, events: Iterable[MonitoringEvent], source: str) -> _Batch:
        now = datetime.now(UTC)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        received = 0
        for event in events:
            received += 1
            key = (event.site_id, event.idempotency_key)
            if key not in rows:
                rows[key] = _row(event, source)
        return cls(source, rows, received, now)

    def append(self, connection: Connection) -> AppendResult:
        began = time.perf_counter()
        rows = self.rows
        # Only the ids come back: the rest of each stored event is what was just sent.
        now = self.now
        returned = _insert(connection, list(rows.values()), now)
        stored = sorted(
            (_stored(id_, rows[(site_id, key)], now) for id_, site_id, key in returned), key=lambda e: e.id
        )
        if stored:
            if connection.dialect.name != "postgresql":  # PostgreSQL's insert has folded them
                fold(connection, stored)
            webhooks.enqueue(connection, stored)
        duplicates = self.received - len(stored)
        metrics.observe(
            self.source, [e.kind for e in stored], duplicates, self.received, time.perf_counter() - began
        )
        return AppendResult(stored, duplicates)


class EventLog:
    """The event log on an Engine (Airflow's metadata database: PostgreSQL, or SQLite embedded)."""

    def __init__(self, engine: sqlalchemy.Engine) -> None:
        self.engine = engine

    def append(self, events: Iterable[MonitoringEvent], *, source: str = Source.INGEST) -> AppendResult:
        """Store, fold and announce ``events`` in one transaction; duplicates are counted, not stored.

        ``events`` is read once, before the transaction begins: a generator that validates as it
        goes (``POST /v1/ingest/events:batch``) keeps no model alive beyond its own row.
        """
        batch = _Batch.of(events, source)
        if not batch.received:
            return AppendResult([], 0)
        with self.engine.begin() as connection:
            return batch.append(connection)

    def append_with(
        self, connection: Connection, events: Iterable[MonitoringEvent], *, source: str = Source.INGEST
    ) -> AppendResult:
        """The same inside the caller's transaction (the job queue publishes in its own)."""
        batch = _Batch.of(events, source)
        if not batch.received:
            return AppendResult([], 0)
        return batch.append(connection)

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
