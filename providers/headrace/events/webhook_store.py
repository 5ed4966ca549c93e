"""Webhook subscriptions and their delivery history, on an Engine passed in.

The secret arrives here already encrypted (the API layer holds Airflow's Fernet key) and never leaves
again: nothing here returns it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

from headrace.db.models import Webhook, WebhookAttempt, WebhookDelivery

# Webhook ids are UUIDs (uuid4); the API documents this pattern, and any other id names nothing (404).
ID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_WEBHOOKS = Webhook.__table__
_DELIVERIES = WebhookDelivery.__table__
_ATTEMPTS = WebhookAttempt.__table__
_PUBLIC = (_WEBHOOKS.c.id, _WEBHOOKS.c.url, _WEBHOOKS.c.events, _WEBHOOKS.c.owner, _WEBHOOKS.c.created_at)


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    events: list[str]
    owner: str | None
    created_at: datetime


@dataclass(frozen=True)
class Attempt:
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float | None


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: int
    event: str
    status: str
    attempt_count: int
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    attempts: list[Attempt]


class WebhookStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self, url: str, events: Sequence[str], secret_encrypted: bytes, owner: str | None
    ) -> Subscription:
        hook = Subscription(
            id=str(uuid.uuid4()), url=url, events=list(events), owner=owner, created_at=datetime.now(UTC)
        )
        with self.engine.begin() as connection:
            connection.execute(
                insert(_WEBHOOKS).values(
                    id=hook.id,
                    url=hook.url,
                    events=hook.events,
                    secret_encrypted=secret_encrypted,
                    owner=owner,
                    created_at=hook.created_at,
                )
            )
        return hook

    def list(self) -> list[Subscription]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(*_PUBLIC).order_by(_WEBHOOKS.c.created_at, _WEBHOOKS.c.id))
            return [Subscription(**row._mapping) for row in rows]

    def get(self, webhook_id: str) -> Subscription | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(*_PUBLIC).where(_WEBHOOKS.c.id == webhook_id)).first()
        return None if row is None else Subscription(**row._mapping)

    def delete(self, webhook_id: str) -> bool:
        """Deletes the subscription with its pending and past deliveries (explicitly: SQLite may
        run without foreign keys enforced, so ON DELETE CASCADE is not relied on)."""
        with self.engine.begin() as connection:
            ids = select(_DELIVERIES.c.id).where(_DELIVERIES.c.webhook_id == webhook_id)
            connection.execute(delete(_ATTEMPTS).where(_ATTEMPTS.c.delivery_id.in_(ids)))
            connection.execute(delete(_DELIVERIES).where(_DELIVERIES.c.webhook_id == webhook_id))
            return connection.execute(delete(_WEBHOOKS).where(_WEBHOOKS.c.id == webhook_id)).rowcount == 1

    def deliveries(self, webhook_id: str, limit: int = 50) -> list[Delivery]:
        """The most recent deliveries, newest first, each with its attempts in order."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(_DELIVERIES)
                .where(_DELIVERIES.c.webhook_id == webhook_id)
                .order_by(_DELIVERIES.c.id.desc())
                .limit(limit)
            ).all()
            ids = [row.id for row in rows]
            attempts: dict[int, list[Attempt]] = {delivery_id: [] for delivery_id in ids}
            if ids:
                for a in connection.execute(
                    select(_ATTEMPTS)
                    .where(_ATTEMPTS.c.delivery_id.in_(ids))
                    .order_by(_ATTEMPTS.c.delivery_id, _ATTEMPTS.c.number)
                ):
                    attempts[a.delivery_id].append(
                        Attempt(a.number, a.at, a.status_code, a.error, a.duration_ms)
                    )
        return [
            Delivery(
                id=row.id,
                event_id=row.event_id,
                event=row.event_name,
                status=row.status,
                attempt_count=row.attempts,
                created_at=row.created_at,
                next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
                delivered_at=row.delivered_at,
                attempts=attempts[row.id],
            )
            for row in rows
        ]
