"""Folding events into tracked jobs and subjobs (``headrace_tracked_entity``), commutatively.

Every column is a commutative, associative combination of the events seen so far, so the order in
which events *arrive* never matters, only their ``at``; that is what lets a batch become one
``INSERT .. ON CONFLICT DO UPDATE`` per entity (no read-modify-write, no lost update when two
appends touch the same job: PostgreSQL serialises the two upserts on the row).

The rules:

- ``status``: the status of the *winning* status event, where a terminal status (succeeded, failed,
  canceled) always beats a non-terminal one (terminal states are sticky: a late ``progress`` never
  reopens a finished job) and, between equals, the later ``at`` wins (ties: the greater status name,
  so that the result stays order independent). ``status_at`` is that event's ``at``.
- Implied statuses: ``started`` → running, ``progress`` → its status or running, ``finished`` →
  its status or succeeded, ``error`` → its status or failed, ``canceled`` → canceled; ``metric``
  carries none unless given.
- ``started_at``: the earliest ``started`` event (else the earliest event, if any had a status);
  ``ended_at``: the ``at`` of the winning terminal event.
- ``duration_s``, ``cpu_user_s``, ``cpu_system_s``, ``mem_max_mb``: the maximum seen (CPU times are
  cumulative, memory is a peak); ``duration_s`` falls back to ``ended_at - started_at`` when read.
- ``app_*``, ``parent_id``, ``job_key``, ``sub_key``: the last non-null by ``at``, approximated as
  "first non-null wins" across batches (they do not change over a job's life).
- ``metadata``: a shallow merge, the keys of the later events winning.
- A subjob's unknown parent gets a ``placeholder`` row (``ON CONFLICT DO NOTHING``) that its own
  events fill in.

On PostgreSQL the event log's insert does the fold in the same statement (:func:`pg_fold`): the
batch is reduced in SQL to one row per entity and upserted with :func:`_pg_set`'s rules
(``GREATEST``/``LEAST`` skipping NULLs like :func:`_max`/:func:`_min`). Elsewhere (SQLite)
:func:`fold` reduces the batch in Python (:class:`_Row`, the same rules) and writes it with the
Core statement of :func:`_upsert`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, func, or_, select, union_all
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.models import TrackedEntity
from headrace.events.model import TERMINAL_STATUSES, EventKind, EventStatus
from headrace.events.records import StoredEvent

_TERMINAL = {s.value for s in TERMINAL_STATUSES}
_IMPLIED = {
    EventKind.STARTED.value: EventStatus.RUNNING.value,
    EventKind.PROGRESS.value: EventStatus.RUNNING.value,
    EventKind.FINISHED.value: EventStatus.SUCCEEDED.value,
    EventKind.ERROR.value: EventStatus.FAILED.value,
    EventKind.CANCELED.value: EventStatus.CANCELED.value,
}
_STARTED, _RUNNING = EventKind.STARTED.value, EventStatus.RUNNING.value
_MEASURES = ("duration_s", "cpu_user_s", "cpu_system_s", "mem_max_mb")
_CHUNK = 500  # rows per statement (bind parameter limits of SQLite and PostgreSQL)


def effective_status(kind: str, status: str | None) -> str | None:
    """The status an event stands for (the event's own, else the one its kind implies)."""
    if kind == _STARTED:
        return _RUNNING
    return status or _IMPLIED.get(kind)


def _rank(status: str, at: datetime) -> tuple[bool, datetime, str]:
    return (status in _TERMINAL, at, status)


def _max(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _min(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


@dataclass
class _Row:
    """One entity's contribution of one batch, folded in Python first (same rules as the SQL)."""

    site_id: str
    entity_type: str
    entity_id: str
    placeholder: bool = True
    parent_id: str | None = None
    app_id: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    job_key: str | None = None
    sub_key: str | None = None
    status: str | None = None
    status_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    measures: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(_MEASURES))
    metadata: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)
    last_event_at: datetime | None = None

    def add(self, event: StoredEvent) -> None:
        # Called once per stored event: plain attribute tests, no enum lookups (see _STARTED).
        self.placeholder = False
        if self.parent_id is None:
            self.parent_id = event.parent_id
        if self.app_id is None:
            self.app_id = event.app_id
        if self.app_name is None:
            self.app_name = event.app_name
        if self.app_version is None:
            self.app_version = event.app_version
        if self.sub_key is None:
            self.sub_key = event.sub_key
        if self.job_key is None:
            self.job_key = event.business_key
        at, kind = event.at, event.kind
        if kind == _STARTED:
            status = _RUNNING
            if self.started_at is None or at < self.started_at:
                self.started_at = at
        else:
            status = event.status or _IMPLIED.get(kind)
        if status is not None and (
            self.status is None or _rank(status, at) > _rank(self.status, self.status_at)
        ):
            self.status, self.status_at = status, at
        if event.metrics:
            measures = self.measures
            for name in _MEASURES:
                value = event.metrics.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    measures[name] = _max(measures[name], float(value))
        if event.metadata:
            self.metadata.append((at, event.id, event.metadata))
        if self.last_event_at is None or at > self.last_event_at:
            self.last_event_at = at

    def values(self, now: datetime) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for _, _, metadata in sorted(self.metadata, key=lambda m: (m[0], m[1])):
            merged.update(metadata)
        return {
            "site_id": self.site_id,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "parent_id": self.parent_id,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "app_version": self.app_version,
            "job_key": self.job_key,
            "sub_key": self.sub_key,
            "status": self.status,
            "status_at": self.status_at,
            "started_at": self.started_at,
            "ended_at": self.status_at if self.status in _TERMINAL else None,
            **self.measures,
            "metadata": merged,  # the column (the ORM attribute is entity_metadata)
            "placeholder": self.placeholder,
            "last_event_at": self.last_event_at,
            "inserted_at": now,
            "updated_at": now,
        }


def _merge_json(connection: Connection, older, newer):
    """A shallow JSON merge, ``newer``'s keys winning."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB

        return cast(cast(older, JSONB).op("||")(cast(newer, JSONB)), TrackedEntity.__table__.c.metadata.type)
    return _sqlite_merge(cast(older, String), cast(newer, String))


def _sqlite_merge(older, newer):
    """SQLite's shallow merge that keeps a key set to null (``json_patch`` is RFC 7396's merge patch,
    which deletes it; PostgreSQL's ``||`` keeps it): older's other keys, then every key of newer."""
    old_items = func.json_each(older).table_valued("key", "value", "type").alias("old_items")
    new_items = func.json_each(newer).table_valued("key", "value", "type").alias("new_items")
    new_keys = func.json_each(newer).table_valued("key").alias("new_keys")
    items = union_all(
        select(old_items.c.key, old_items.c.value, old_items.c.type).where(
            old_items.c.key.not_in(select(new_keys.c.key))
        ),
        select(new_items.c.key, new_items.c.value, new_items.c.type),
    ).subquery("items")
    value = case(  # json_each gives objects and arrays as text and booleans as 0/1: JSON again
        (
            or_(items.c.type == "object", items.c.type == "array"),
            func.json(items.c.value),
        ),  # no IN: executemany
        (items.c.type == "true", func.json("true")),
        (items.c.type == "false", func.json("false")),
        else_=items.c.value,
    )
    return select(func.json_group_object(items.c.key, value)).scalar_subquery()


def _upsert(connection: Connection, rows: list[dict[str, Any]]) -> None:
    table = TrackedEntity.__table__
    stmt = dialect.insert(connection, table)
    new, old = stmt.excluded, table.c

    def terminal(column):
        # Not IN (..): an expanding parameter cannot be used with executemany.
        return or_(*(column == status for status in sorted(_TERMINAL)))

    # The new status wins when it ranks higher: terminal beats non-terminal, then later at, then name.
    new_wins = and_(
        new.status.is_not(None),
        or_(
            old.status.is_(None),
            and_(terminal(new.status), ~terminal(old.status)),
            and_(
                terminal(new.status) == terminal(old.status),
                or_(
                    new.status_at > old.status_at,
                    and_(new.status_at == old.status_at, new.status > old.status),
                ),
            ),
        ),
    )
    newer_meta = or_(old.last_event_at.is_(None), new.last_event_at >= old.last_event_at)

    def least(a, b):
        return case((a.is_(None), b), (b.is_(None), a), (b < a, b), else_=a)

    def greatest(a, b):
        return case((a.is_(None), b), (b.is_(None), a), (b > a, b), else_=a)

    update = {
        "parent_id": func.coalesce(old.parent_id, new.parent_id),
        "app_id": func.coalesce(old.app_id, new.app_id),
        "app_name": func.coalesce(old.app_name, new.app_name),
        "app_version": func.coalesce(old.app_version, new.app_version),
        "job_key": func.coalesce(old.job_key, new.job_key),
        "sub_key": func.coalesce(old.sub_key, new.sub_key),
        "status": case((new_wins, new.status), else_=old.status),
        "status_at": case((new_wins, new.status_at), else_=old.status_at),
        "ended_at": case((new_wins, new.ended_at), else_=old.ended_at),
        "started_at": least(old.started_at, new.started_at),
        **{name: greatest(old[name], new[name]) for name in _MEASURES},
        "metadata": case(
            (newer_meta, _merge_json(connection, old.metadata, new.metadata)),
            else_=_merge_json(connection, new.metadata, old.metadata),
        ),
        "placeholder": and_(old.placeholder, new.placeholder),
        "last_event_at": greatest(old.last_event_at, new.last_event_at),
        "updated_at": new.updated_at,
    }
    # RETURNING makes SQLAlchemy batch the rows into multi-row statements ("insertmanyvalues"); it
    # sends an ON CONFLICT DO UPDATE without RETURNING one row per round trip.
    stmt = stmt.on_conflict_do_update(
        index_elements=["site_id", "entity_type", "entity_id"], set_=update
    ).returning(table.c.entity_id)
    for start in range(0, len(rows), _CHUNK):
        connection.execute(stmt, rows[start : start + _CHUNK]).all()


# The entity columns in the order pg_fold inserts them.
_PG_COLUMNS = (
    "site_id", "entity_type", "entity_id", "parent_id", "app_id", "app_name", "app_version", "job_key",
    "sub_key", "status", "status_at", "started_at", "ended_at", *_MEASURES,
    "metadata", "placeholder", "last_event_at", "inserted_at", "updated_at",
)  # fmt: skip
_PG_STATUSES = ", ".join(f"'{status}'" for status in sorted(_TERMINAL))  # constants, never input


def _pg_set(new: str, old: str) -> str:
    """The ``DO UPDATE SET`` of :func:`_upsert` in PostgreSQL's SQL (``new``: excluded, ``old``: the row)."""

    def terminal(row: str) -> str:
        return f"({row}.status IN ({_PG_STATUSES}))"

    new_wins = (
        f"({new}.status IS NOT NULL AND ({old}.status IS NULL"
        f" OR ({terminal(new)} AND NOT {terminal(old)})"
        f" OR ({terminal(new)} = {terminal(old)} AND ({new}.status_at > {old}.status_at"
        f" OR ({new}.status_at = {old}.status_at AND {new}.status > {old}.status)))))"
    )
    newer_meta = f"({old}.last_event_at IS NULL OR {new}.last_event_at >= {old}.last_event_at)"
    first = ("parent_id", "app_id", "app_name", "app_version", "job_key", "sub_key")
    return ", ".join(
        [
            *(f"{name} = COALESCE({old}.{name}, {new}.{name})" for name in first),
            *(
                f"{name} = CASE WHEN {new_wins} THEN {new}.{name} ELSE {old}.{name} END"
                for name in ("status", "status_at", "ended_at")
            ),
            f"started_at = LEAST({old}.started_at, {new}.started_at)",  # LEAST/GREATEST skip NULLs
            *(f"{name} = GREATEST({old}.{name}, {new}.{name})" for name in _MEASURES),
            f"metadata = CASE WHEN {newer_meta}"
            f" THEN ({old}.metadata::jsonb || {new}.metadata::jsonb)::json"
            f" ELSE ({new}.metadata::jsonb || {old}.metadata::jsonb)::json END",
            f"placeholder = {old}.placeholder AND {new}.placeholder",
            f"last_event_at = GREATEST({old}.last_event_at, {new}.last_event_at)",
            f"updated_at = {new}.updated_at",
        ]
    )


def _pg_implied(kind: str, status: str) -> str:
    """:func:`effective_status` in SQL."""
    implied = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in sorted(_IMPLIED.items()))
    return (
        f"CASE WHEN {kind} = '{_STARTED}' THEN '{_RUNNING}'"
        f" ELSE COALESCE({status}, CASE {kind} {implied} END) END"
    )


def pg_fold(inserted: str, now: str) -> str:
    """The fold of :func:`fold` as data-modifying CTEs, for a statement whose CTE ``inserted`` is
    the ``INSERT .. RETURNING`` of the newly stored events (their ``id``, ``site_id``, entity
    columns, ``kind``, ``status``, ``at``, ``metrics``, ``metadata``): the batch is reduced in SQL,
    one row per entity by :class:`_Row`'s rules, and upserted with :func:`_pg_set`'s, in the same
    statement as the insert (one round trip; duplicates are not in ``inserted``, so never folded).
    ``now`` is the SQL of the fold's timestamp. Returns ``name AS (..), ..`` to follow ``inserted``.

    - first non-null (``parent_id``, ``app_*``, ``job_key``, ``sub_key``): in log-id order;
    - status: the winning effective status, terminal first, then the later ``at``, then the greater
      name (``ORDER BY .. DESC``, the first of the array), ``status_at`` its ``at``;
    - ``started_at``: the earliest ``started``; measures: the maximum of the JSON numbers;
    - metadata: every key of every event, later ``(at, id)`` winning (``jsonb_object_agg`` keeps a
      repeated key's last value);
    - placeholders: a subjob's parent job that has no event in the batch (``ON CONFLICT DO NOTHING``,
      the app of the parent's first subjob event).
    """
    table = TrackedEntity.__tablename__
    wins = f"(eff IN ({_PG_STATUSES})) DESC, at DESC, eff DESC"
    first = (
        ("parent_id", "parent_id"),
        ("app_id", "app_id"),
        ("app_name", "app_name"),
        ("app_version", "app_version"),
        ("job_key", "business_key"),
        ("sub_key", "sub_key"),
    )
    measures = ", ".join(
        f"MAX(CASE WHEN jsonb_typeof(mj -> '{name}') = 'number' THEN (mj ->> '{name}')::float8 END) AS {name}"
        for name in _MEASURES
    )
    columns = ", ".join(_PG_COLUMNS)
    return (
        f"fold_events AS (SELECT id, site_id, entity_type, entity_id, parent_id, app_id, app_name,"
        f" app_version, business_key, sub_key, kind, at, metrics::jsonb AS mj, metadata::jsonb AS mdj,"
        f" {_pg_implied('kind', 'status')} AS eff FROM {inserted}), "
        f"fold_rows AS (SELECT site_id, entity_type, entity_id, "
        + ", ".join(
            f"(array_agg({source} ORDER BY id) FILTER (WHERE {source} IS NOT NULL))[1] AS {name}"
            for name, source in first
        )
        + f", (array_agg(eff ORDER BY {wins}) FILTER (WHERE eff IS NOT NULL))[1] AS status"
        f", (array_agg(at ORDER BY {wins}) FILTER (WHERE eff IS NOT NULL))[1] AS status_at"
        f", MIN(at) FILTER (WHERE kind = '{_STARTED}') AS started_at, {measures}"
        f", MAX(at) AS last_event_at FROM fold_events GROUP BY site_id, entity_type, entity_id), "
        f"fold_metadata AS (SELECT e.site_id, e.entity_type, e.entity_id,"
        f" jsonb_object_agg(m.key, m.value ORDER BY e.at, e.id) AS metadata"
        f" FROM fold_events e CROSS JOIN LATERAL jsonb_each(e.mdj) m"
        f" GROUP BY e.site_id, e.entity_type, e.entity_id), "
        f"fold_placeholders AS (INSERT INTO {table} ({columns})"
        f" SELECT e.site_id, 'job', e.parent_id, NULL, (array_agg(e.app_id ORDER BY e.id))[1],"
        f" (array_agg(e.app_name ORDER BY e.id))[1], (array_agg(e.app_version ORDER BY e.id))[1],"
        f" NULL, NULL, NULL, NULL, NULL, NULL, {', '.join('NULL' for _ in _MEASURES)},"
        f" '{{}}'::json, true, NULL, {now}, {now}"
        f" FROM fold_events e WHERE e.entity_type = 'subjob' AND e.parent_id <> ''"
        f" AND NOT EXISTS (SELECT 1 FROM fold_events j WHERE j.site_id = e.site_id"
        f" AND j.entity_type = 'job' AND j.entity_id = e.parent_id)"
        f" GROUP BY e.site_id, e.parent_id ORDER BY e.site_id, e.parent_id ON CONFLICT DO NOTHING), "
        f"fold_upsert AS (INSERT INTO {table} ({columns})"
        f" SELECT r.site_id, r.entity_type, r.entity_id, r.parent_id, r.app_id, r.app_name,"
        f" r.app_version, r.job_key, r.sub_key, r.status, r.status_at, r.started_at,"
        f" CASE WHEN r.status IN ({_PG_STATUSES}) THEN r.status_at END,"
        f" {', '.join(f'r.{name}' for name in _MEASURES)},"
        f" COALESCE(m.metadata, '{{}}'::jsonb)::json, false, r.last_event_at, {now}, {now}"
        f" FROM fold_rows r LEFT JOIN fold_metadata m USING (site_id, entity_type, entity_id)"
        # Sorted by key: concurrent batches lock rows in the same order (no deadlock).
        f" ORDER BY r.site_id, r.entity_type, r.entity_id"
        f" ON CONFLICT (site_id, entity_type, entity_id) DO UPDATE SET {_pg_set('excluded', table)})"
    )


def fold(connection: Connection, stored: Iterable[StoredEvent]) -> int:
    """Fold newly stored events into their entities (and placeholders for unknown parents)."""
    now = datetime.now(UTC)
    rows: dict[tuple[str, str, str], _Row] = {}
    parents: dict[tuple[str, str, str], _Row] = {}
    for event in stored:
        key = (event.site_id, event.entity_type, event.entity_id)
        row = rows.get(key) or rows.setdefault(key, _Row(*key))
        row.add(event)
        if event.entity_type == "subjob" and event.parent_id:
            pkey = (event.site_id, "job", event.parent_id)
            parents.setdefault(
                pkey, _Row(*pkey, app_id=event.app_id, app_name=event.app_name, app_version=event.app_version)
            )
    if not rows:
        return 0
    placeholders = [p.values(now) for k, p in sorted(parents.items()) if k not in rows]
    upserts = [rows[k].values(now) for k in sorted(rows)]
    if placeholders:
        table = TrackedEntity.__table__
        stmt = dialect.insert(connection, table).on_conflict_do_nothing().returning(table.c.entity_id)
        for start in range(0, len(placeholders), _CHUNK):
            connection.execute(stmt, placeholders[start : start + _CHUNK]).all()
    # Sorted by key: concurrent batches lock rows in the same order (no deadlock on PostgreSQL).
    _upsert(connection, upserts)
    return len(rows)


__all__ = ["effective_status", "fold", "pg_fold"]
