"""The api-server's tracker: Airflow's task instances (subjobs) and DagRuns (jobs) into the event log.

Where it runs: in the **api-server**, one daemon thread per process, started by
:func:`start_tracker` from :mod:`headrace.api.background`. Task-instance listener hooks run in the
worker next to the task, which in Airflow 3 has no metadata-database access, so instead this thread
reads Airflow's ``task_instance`` and ``dag_run`` tables every ``[headrace] airflow_tracking_interval``
seconds for the rows changed (``updated_at``) since a watermark, and publishes what each row's state
says (:mod:`headrace.listeners.translate`). The DagRun pass catches any run the scheduler's listener
missed.

Guarantees: the watermark is kept in ``headrace_event_cursor`` and written in the same transaction as
the events of its page, so a restart continues where it stopped. Each sweep re-reads ``OVERLAP``
before the watermark, because on PostgreSQL a transaction may commit rows with an ``updated_at``
older than rows already read; the re-read events carry the same idempotency keys and are skipped.
For the same reason any number of api-servers may run the tracker at once. A state that lasts less
than one interval may never be seen (only the states a sweep observes are published), but every
terminal state is, with its start and end times.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.dialect import aware
from headrace.db.models import EventCursor
from headrace.listeners.translate import dag_run_events, headrace_kind, task_instance_events

log = logging.getLogger(__name__)

CURSORS = EventCursor.__table__
TI_CURSOR = "airflow:task_instances"
RUN_CURSOR = "airflow:dag_runs"
OVERLAP = timedelta(seconds=30)
PAGE = 500


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Tracker:
    """One sweep at a time over Airflow's tables; :meth:`sweep` is what the thread repeats."""

    def __init__(
        self,
        engine: Engine,
        *,
        site_id: str,
        overlap: timedelta = OVERLAP,
        page: int = PAGE,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        from airflow.models.dag import DagTag
        from airflow.models.dag_version import DagVersion
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance

        self.engine, self.site_id, self.overlap, self.page, self.clock = engine, site_id, overlap, page, clock
        self._ti, self._run = TaskInstance.__table__, DagRun.__table__
        self._version, self._tags = DagVersion.__table__, DagTag.__table__

    def sweep(self) -> int:
        """Publish runs, then task instances, changed since the watermarks; returns events stored."""
        return self._pass(RUN_CURSOR, self._runs_query, self._run_events) + self._pass(
            TI_CURSOR, self._tis_query, self._ti_events
        )

    # -- one table ------------------------------------------------------------------------------

    def _pass(self, name: str, query: Callable[[], Any], translate: Callable[..., list]) -> int:
        statement = query()
        key_updated, key_id = statement.selected_columns.updated_at, statement.selected_columns.id
        with self.engine.connect() as connection:
            position = _read_cursor(connection, name)
        stored, last = 0, None
        while True:
            page_query = statement.where(key_updated.is_not(None))
            if last is not None:
                page_query = page_query.where(
                    or_(key_updated > last[0], and_(key_updated == last[0], key_id > last[1]))
                )
            elif position is not None:
                page_query = page_query.where(key_updated >= position - self.overlap)
            page_query = page_query.order_by(key_updated, key_id).limit(self.page)
            with self.engine.begin() as connection:
                rows = connection.execute(page_query).mappings().all()
                if not rows:
                    break
                events = translate(connection, rows)
                if events:
                    stored += _append(connection, events)
                newest = max(aware(row["updated_at"]) for row in rows)
                if position is None or newest > position:
                    position = newest
                    _write_cursor(connection, name, newest, self.clock())
            last = (rows[-1]["updated_at"], rows[-1]["id"])
            if len(rows) < self.page:
                break
        return stored

    def _runs_query(self):
        run, version = self._run, self._version
        return select(
            run.c.id,
            run.c.dag_id,
            run.c.run_id,
            run.c.state,
            run.c.run_type,
            run.c.logical_date,
            run.c.start_date,
            run.c.end_date,
            run.c.clear_number,
            run.c.updated_at,
            version.c.version_number,
        ).outerjoin(version, version.c.id == run.c.created_dag_version_id)

    def _tis_query(self):
        ti, version = self._ti, self._version
        return select(
            ti.c.id,
            ti.c.dag_id,
            ti.c.run_id,
            ti.c.task_id,
            ti.c.map_index,
            ti.c.state,
            ti.c.try_number,
            ti.c.start_date,
            ti.c.end_date,
            ti.c.duration,
            ti.c.hostname,
            ti.c.operator,
            ti.c.custom_operator_name,
            ti.c.updated_at,
            version.c.version_number,
        ).outerjoin(version, version.c.id == ti.c.dag_version_id)

    def _run_events(self, connection: Connection, rows: Sequence[Any]) -> list:
        from headrace.workflows.builder import HEADRACE_TAG

        dag_ids = sorted({row["dag_id"] for row in rows})
        tagged = set(
            connection.execute(
                select(self._tags.c.dag_id).where(
                    self._tags.c.name == HEADRACE_TAG, self._tags.c.dag_id.in_(dag_ids)
                )
            ).scalars()
        )
        events = []
        for row in rows:
            kind = headrace_kind(row["dag_id"], {HEADRACE_TAG} if row["dag_id"] in tagged else set())
            events += dag_run_events(
                row, site_id=self.site_id, version=row["version_number"], kind=kind, now=self.clock()
            )
        return events

    def _ti_events(self, connection: Connection, rows: Sequence[Any]) -> list:
        events = []
        for row in rows:
            events += task_instance_events(row, site_id=self.site_id, version=row["version_number"])
        return events


def _append(connection: Connection, events: list) -> int:
    from headrace.events.log import EventLog
    from headrace.events.records import Source

    return len(EventLog(connection.engine).append_with(connection, events, source=Source.AIRFLOW).stored)


def _read_cursor(connection: Connection, name: str) -> datetime | None:
    value = connection.execute(select(CURSORS.c.position).where(CURSORS.c.name == name)).scalar()
    return aware(datetime.fromisoformat(value)) if value else None


def _write_cursor(connection: Connection, name: str, position: datetime, now: datetime) -> None:
    """Upsert: api-servers racing here each write a position they have published up to."""
    statement = dialect.insert(connection, CURSORS).values(
        name=name, position=position.isoformat(), updated_at=now
    )
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[CURSORS.c.name],
            set_={"position": statement.excluded.position, "updated_at": statement.excluded.updated_at},
        )
    )


# -- the api-server's thread ------------------------------------------------------------------------

_started = False
_lock = threading.Lock()


def start_tracker() -> threading.Thread | None:
    """Start this process's tracker thread (once); called by :mod:`headrace.api.background`."""
    global _started
    with _lock:
        if _started:
            return None
        _started = True
    thread = threading.Thread(target=_loop, name="headrace-airflow-tracker", daemon=True)
    thread.start()
    return thread


def _loop() -> None:
    from airflow import settings

    from headrace import config

    tracker: Tracker | None = None
    while True:
        interval = 5.0
        try:
            interval = config.airflow_tracking_interval()
            if tracker is None:
                tracker = Tracker(settings.engine, site_id=config.monitoring_site_id())
            tracker.sweep()
        except Exception:  # the next round retries; the api-server keeps serving
            log.exception("Headrace's Airflow tracker failed a sweep")
        time.sleep(interval)
