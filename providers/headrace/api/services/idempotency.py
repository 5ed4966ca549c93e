"""Idempotency keys: the first answer to a request is stored and replayed for its repeats."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from headrace.db.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class StoredAnswer:
    request_hash: str
    status_code: int
    body: Any


def request_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def find(session: Session, *, scope: str, client: str, key: str) -> StoredAnswer | None:
    record = session.get(IdempotencyRecord, (scope, client, key))
    if record is None:
        return None
    return StoredAnswer(record.request_hash, record.status_code, record.response["body"])


def remember(
    session: Session, *, scope: str, client: str, key: str, hashed: str, status_code: int, body: Any
) -> None:
    """Store the first answer; a concurrent twin that stored first wins, which is just as good."""
    session.add(
        IdempotencyRecord(
            scope=scope,
            client=client,
            key=key,
            request_hash=hashed,
            status_code=status_code,
            response={"body": body},
            created_at=datetime.now(UTC),
        )
    )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
