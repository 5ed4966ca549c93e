"""One database session per request, for the steps the API layer itself takes around a handler.

Authentication (an API key's lookup), idempotency (sweep, reservation, answer, release) and the
API-key and token routes all work in :func:`transaction` blocks of the request's session: opened on
first use on one pooled connection kept for the whole request, closed in the blueprint's teardown.
Each block commits when it ends and rolls back when it raises, so an idempotency reservation is
committed before the handler runs (the primary key decides which of two concurrent twins runs it),
and a failure of one step leaves nothing half-written for the next. Handlers that call code managing
its own session (Airflow's DAG-run helpers, the ingestion services) keep that session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from airflow import settings
from flask import g
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

_KEY = "headrace_db"


@dataclass(frozen=True)
class _RequestDb:
    connection: Connection
    session: Session


def _request_session() -> Session:
    db: _RequestDb | None = g.get(_KEY)
    if db is None:
        connection = settings.engine.connect()
        # Airflow's own session settings (no expiry on commit, no autoflush), bound to this connection:
        # a commit ends the transaction but keeps the connection for the request's next step.
        db = _RequestDb(connection, settings.NonScopedSession(bind=connection))
        setattr(g, _KEY, db)
    return db.session


@contextmanager
def transaction() -> Iterator[Session]:
    """A unit of work in the request's session: committed when the block ends, rolled back on error."""
    session = _request_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def close(exc: BaseException | None = None) -> None:
    """End the request's session, if it opened one (registered as a teardown by the blueprint)."""
    db: _RequestDb | None = g.pop(_KEY, None)
    if db is None:
        return
    try:
        db.session.close()  # anything not committed by a transaction block is rolled back
    finally:
        db.connection.close()
