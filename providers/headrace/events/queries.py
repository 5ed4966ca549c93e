"""Jobs and subjobs as the job-monitoring-api lists them, read from ``headrace_tracked_entity``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import and_, func, or_, select

from headrace.db.models import TrackedEntity

_T = TrackedEntity.__table__


@dataclass(frozen=True)
class EntityFilter:
    entity_type: str  # job or subjob
    start: datetime | None = None  # on started_at, else inserted_at for rows never started
    end: datetime | None = None
    statuses: Sequence[str] = ()
    app_name: str | None = None  # contains, case-insensitive
    site_id: str | None = None
    limit: int = 1000


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _item(m: Any, entity_type: str, subjobs: dict[tuple[str, str], int]) -> dict[str, Any]:
    duration = m["duration_s"]
    if duration is None and m["started_at"] is not None and m["ended_at"] is not None:
        duration = (m["ended_at"] - m["started_at"]).total_seconds()
    item: dict[str, Any] = {}
    if entity_type == "subjob":
        item |= {"subjob_id": m["entity_id"], "job_id": m["parent_id"], "parent_id": m["parent_id"]}
    else:
        item["job_id"] = m["entity_id"]
    item |= {
        "app_id": m["app_id"],
        "app_name": m["app_name"],
        "app_version": m["app_version"],
        "site_id": m["site_id"],
        "job_key": m["job_key"],
        "status": m["status"],
        "started_at": _iso(m["started_at"]),
        "ended_at": _iso(m["ended_at"]),
        "duration_s": duration,
        "cpu_user_s": m["cpu_user_s"],
        "cpu_system_s": m["cpu_system_s"],
        "mem_max_mb": m["mem_max_mb"],
        "metadata": m["metadata"] or {},
        "inserted_at": _iso(m["inserted_at"]),
    }
    if entity_type == "job":
        item["subjob_count"] = subjobs.get((m["site_id"], m["entity_id"]), 0)
    return item


def list_entities(engine: sqlalchemy.Engine, f: EntityFilter) -> list[dict[str, Any]]:
    """Newest first (by started_at, else inserted_at), at most ``f.limit`` items."""
    when = func.coalesce(_T.c.started_at, _T.c.inserted_at)
    query = select(_T).where(_T.c.entity_type == f.entity_type)
    if f.start is not None:
        query = query.where(
            or_(_T.c.started_at >= f.start, and_(_T.c.started_at.is_(None), _T.c.inserted_at >= f.start))
        )
    if f.end is not None:
        query = query.where(
            or_(_T.c.started_at <= f.end, and_(_T.c.started_at.is_(None), _T.c.inserted_at <= f.end))
        )
    if f.statuses:
        query = query.where(_T.c.status.in_(list(f.statuses)))
    if f.app_name:
        query = query.where(func.lower(_T.c.app_name).like(f"%{_escape(f.app_name.lower())}%", escape="\\"))
    if f.site_id is not None:
        query = query.where(_T.c.site_id == f.site_id)
    query = query.order_by(when.desc(), _T.c.entity_id.desc()).limit(f.limit)
    with engine.connect() as connection:
        rows = [r._mapping for r in connection.execute(query)]
        counts: dict[tuple[str, str], int] = {}
        if f.entity_type == "job" and rows:
            ids = sorted({r["entity_id"] for r in rows})
            for start in range(0, len(ids), 500):
                count_query = (
                    select(_T.c.site_id, _T.c.parent_id, func.count())
                    .where(_T.c.entity_type == "subjob", _T.c.parent_id.in_(ids[start : start + 500]))
                    .group_by(_T.c.site_id, _T.c.parent_id)
                )
                counts |= {(s, p): n for s, p, n in connection.execute(count_query)}
    return [_item(m, f.entity_type, counts) for m in rows]
