"""Webhooks: which stored events announce which webhook events, and the outbox they are written to.

(Placeholder interface; the webhook helper fills it in.) :func:`enqueue` is called by
:meth:`headrace.events.log.EventLog.append` in the same transaction that stores the events, so an
event is never stored without its deliveries, nor a delivery without its event.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from headrace.events.records import StoredEvent


def enqueue(connection: Connection, stored: Sequence[StoredEvent]) -> int:
    """Write one outbox row per (matching webhook, event); returns how many were written."""
    return 0
