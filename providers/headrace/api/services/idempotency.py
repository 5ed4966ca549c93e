"""Idempotency keys: the first request with a key runs once; its repeats get its answer again.

The record is inserted *before* the request runs (``status_code`` NULL: in progress), so the primary
key (scope, client, key) decides which of two concurrent requests runs: the loser's insert fails and
it reads the winner's record instead, an answer to replay or a reservation still in progress. A
request that fails (an exception or a non-2xx answer) releases its reservation, so a retry can run.

Records expire: answers after ``[headrace] idempotency_ttl_hours`` (the key may then be used again),
reservations after :data:`IN_PROGRESS_EXPIRY`, so that a process which crashed in the middle of a
request does not block its key for a whole day.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.utils.session import create_session
from sqlalchemy import and_, delete, or_, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from headrace import config
from headrace.db.models import IdempotencyRecord

log = logging.getLogger(__name__)

MAX_KEY_LENGTH = 200
# Longer than any idempotent request takes (they trigger a run, they do not wait for it).
IN_PROGRESS_EXPIRY = timedelta(minutes=5)
_ATTEMPTS = 3

Sessions = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Reservation:
    """This request holds the key: run it, then :meth:`IdempotencyStore.complete` or ``release``."""

    scope: str
    client: str
    key: str
    created_at: datetime  # identifies this very reservation once an expired one was taken over


@dataclass(frozen=True)
class Existing:
    """An earlier request holds the key: its answer, or ``status_code`` None while it still runs."""

    request_hash: str
    status_code: int | None
    body: Any

    @property
    def in_progress(self) -> bool:
        return self.status_code is None


def request_hash(*parts: bytes) -> str:
    """SHA-256 of ``parts``, each length-prefixed so that no two different splits hash alike."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def configured_ttl() -> timedelta:
    return timedelta(hours=config.idempotency_ttl_hours())


class IdempotencyStore:
    """Reservations and answers in ``headrace_idempotency``; each step is its own transaction.

    ``sessions`` opens one transaction per step: the API passes the request's session
    (:func:`headrace.api.sessions.transaction`), so a request reserves, answers and releases on the
    one connection it authenticated with; each step still commits at once, the reservation before
    the handler runs.
    """

    def __init__(self, sessions: Sessions = create_session, ttl: Callable[[], timedelta] = configured_ttl):
        self._sessions = sessions
        self._ttl = ttl

    def reserve(
        self, *, scope: str, client: str, key: str, hashed: str, now: datetime | None = None
    ) -> Reservation | Existing:
        """Take the key for this request, or say who holds it. Expired holders are removed first."""
        now = now or datetime.now(UTC)
        self.sweep(now)
        for _ in range(_ATTEMPTS):
            if self._insert(scope, client, key, hashed, now):
                return Reservation(scope, client, key, now)
            with self._sessions() as session:
                record = session.get(IdempotencyRecord, (scope, client, key))
                if record is None:
                    continue  # its holder failed and released it meanwhile: try again
                if self._expired(record.status_code, record.created_at, now):
                    _delete(session, Reservation(scope, client, key, record.created_at))
                    continue
                body = record.response["body"] if record.response else None
                return Existing(record.request_hash, record.status_code, body)
        return Existing(hashed, None, None)  # the key changes hands faster than we can read it

    def complete(self, reservation: Reservation, *, status_code: int, body: Any) -> bool:
        """Store the answer; False when the reservation expired and another request took the key."""
        with self._sessions() as session:
            result = session.execute(
                update(IdempotencyRecord)
                .where(_is(reservation))
                .values(status_code=status_code, response={"body": body})
                .execution_options(synchronize_session=False)
            )
            return result.rowcount == 1

    def release(self, reservation: Reservation) -> None:
        """Give the key up after a failure, so that a retry runs instead of replaying the failure."""
        with self._sessions() as session:
            _delete(session, reservation)

    def sweep(self, now: datetime | None = None) -> None:
        """Delete every expired record. Housekeeping only: a failure is logged, never raised."""
        now = now or datetime.now(UTC)
        try:
            with self._sessions() as session:
                session.execute(
                    delete(IdempotencyRecord)
                    .where(
                        or_(
                            IdempotencyRecord.created_at < now - self._ttl(),
                            and_(
                                IdempotencyRecord.status_code.is_(None),
                                IdempotencyRecord.created_at < now - IN_PROGRESS_EXPIRY,
                            ),
                        )
                    )
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            log.warning("Could not delete expired idempotency records", exc_info=True)

    def _insert(self, scope: str, client: str, key: str, hashed: str, now: datetime) -> bool:
        try:
            with self._sessions() as session:
                session.add(
                    IdempotencyRecord(
                        scope=scope, client=client, key=key, request_hash=hashed, created_at=now
                    )
                )
                session.flush()
        except IntegrityError:
            return False
        return True

    def _expired(self, status_code: int | None, created_at: datetime, now: datetime) -> bool:
        lifetime = IN_PROGRESS_EXPIRY if status_code is None else self._ttl()
        return created_at < now - lifetime


def _delete(session: Session, reservation: Reservation) -> None:
    """Delete that very record: a record another request created for the key since then stays."""
    session.execute(
        delete(IdempotencyRecord).where(_is(reservation)).execution_options(synchronize_session=False)
    )


def _is(reservation: Reservation):
    """The row of ``reservation`` itself: its key *and* its creation time, not a later holder's row."""
    return and_(
        IdempotencyRecord.scope == reservation.scope,
        IdempotencyRecord.client == reservation.client,
        IdempotencyRecord.key == reservation.key,
        IdempotencyRecord.created_at == reservation.created_at,
    )
