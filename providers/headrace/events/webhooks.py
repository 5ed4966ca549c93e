"""Webhooks: which stored events announce which webhook events, and the outbox they are written to.

:func:`enqueue` is called by :meth:`headrace.events.log.EventLog.append` in the same transaction that
stores the events, so an event is never stored without its deliveries, nor a delivery without its
event. It must stay cheap on the ingest path: one SELECT of the subscriptions per call (none when no
event of the call announces anything), nothing else when there are none, one multi-row INSERT
otherwise.

Which events announce what (only job entities, only their start and their end):

- ``source="airflow"`` with ``metadata.headrace == "workflow"``: ``pipeline.*`` and ``workflow.*``
  (a workflow's DAG id is both its pipeline id and its workflow id);
- ``source="airflow"`` with ``metadata.headrace == "ingestion"``: ``ingestion.*``;
- ``source="job_queue"`` (binary jobs) and ``source="ingest"`` (outside apps): ``job.*``.

``started`` announces ``<family>.started``; a terminal event (status succeeded / failed / canceled)
announces ``.completed`` / ``.failed``, and ``job.canceled`` (the other families have no canceled
event: a canceled Airflow run is announced as failed). A webhook gets at most one delivery per stored
event (the outbox's unique key): subscribed to both ``pipeline.*`` and ``workflow.*``, it hears of a
workflow run once, as ``pipeline.*``.

The outbox row's ``body`` is the payload without its ``signature``, serialised canonically (sorted
keys, compact separators, ASCII): exactly the bytes the payload's signature covers. The dispatcher
(:mod:`headrace.events.webhook_delivery`) adds the signature, which needs the secret, when it sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.models import Webhook, WebhookDelivery
from headrace.events.records import Source, StoredEvent

FAMILIES = ("pipeline", "workflow", "ingestion", "job")
EVENT_NAMES = frozenset(
    {f"{family}.{what}" for family in FAMILIES for what in ("started", "completed", "failed")}
    | {"job.canceled"}
)
WILDCARDS = frozenset(f"{family}.*" for family in FAMILIES)
SUBSCRIBABLE = EVENT_NAMES | WILDCARDS

_TERMINAL = {"succeeded": "completed", "failed": "failed", "canceled": "canceled"}
_PAYLOAD_STATUS = {"started": "running", "completed": "success", "failed": "failed", "canceled": "canceled"}
_WEBHOOKS = Webhook.__table__
_DELIVERIES = WebhookDelivery.__table__


def canonical(payload: dict[str, Any]) -> str:
    """The one serialisation that is signed: sorted keys, no spaces, non-ASCII as ``\\uXXXX``."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def subscribed(patterns: Iterable[str], name: str) -> bool:
    """Does a subscription to ``patterns`` (names or ``family.*``) cover the event ``name``?"""
    family = name.split(".", 1)[0]
    return any(pattern == name or pattern == f"{family}.*" for pattern in patterns)


def _outcome(event: StoredEvent) -> str | None:
    """``started``, ``completed``, ``failed``, ``canceled`` or None (progress, metrics, ...)."""
    if event.kind == "started":
        return "started"
    if event.kind in ("finished", "error", "canceled"):
        return _TERMINAL.get(event.status or ("canceled" if event.kind == "canceled" else ""))
    return None


def _families(event: StoredEvent) -> tuple[str, ...]:
    if event.source == Source.AIRFLOW:
        marker = (event.metadata or {}).get("headrace")
        return {"workflow": ("pipeline", "workflow"), "ingestion": ("ingestion",)}.get(marker, ())
    if event.source in (Source.JOB_QUEUE, Source.INGEST):
        return ("job",)
    return ()


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _data(family: str, outcome: str, event: StoredEvent) -> dict[str, Any]:
    metadata = event.metadata or {}
    duration = (event.metrics or {}).get("duration_s")
    common: dict[str, Any] = {
        "status": _PAYLOAD_STATUS[outcome],
        "duration_seconds": duration if outcome != "started" else None,
        "event_id": event.id,
    }
    if family in ("pipeline", "workflow", "ingestion"):
        dag_id = metadata.get("dag_id") or event.app_name
        run_id = metadata.get("run_id") or event.business_key
        ids = {"pipeline": "pipeline_id", "workflow": "workflow_id", "ingestion": "dag_id"}
        return {ids[family]: dag_id, "run_id": run_id, **common}
    return {
        "job_id": event.entity_id,
        "app_id": event.app_id,
        "app_name": event.app_name,
        "business_key": event.business_key,
        "site_id": event.site_id,
        "source": event.source,
        **common,
    }


def announces(event: StoredEvent) -> bool:
    """Whether :func:`announcements` has anything for ``event`` (the same tests, no payloads)."""
    return event.entity_type == "job" and _outcome(event) is not None and bool(_families(event))


def announcements(event: StoredEvent) -> list[tuple[str, dict[str, Any]]]:
    """The webhook events (name, payload without signature) that one stored event announces."""
    if event.entity_type != "job":
        return []
    outcome = _outcome(event)
    if outcome is None:
        return []
    result = []
    for family in _families(event):
        outcome_here = "failed" if outcome == "canceled" and family != "job" else outcome
        name = f"{family}.{outcome_here}"
        payload = {"event": name, "timestamp": _iso(event.at), "data": _data(family, outcome_here, event)}
        result.append((name, payload))
    return result


def enqueue(connection: Connection, stored: Sequence[StoredEvent]) -> int:
    """Write one outbox row per (matching webhook, event); returns how many were written (rows that
    already existed, for an event announced twice, are left as they are and not counted)."""
    # Only job starts and ends announce anything: a batch of progress, metrics or subjob events
    # writes no delivery whatever the subscriptions are, so it does not read them either.
    # (:func:`announces` is what :func:`announcements` returns something for, without the payloads.)
    if not any(announces(event) for event in stored):
        return 0
    hooks = connection.execute(select(_WEBHOOKS.c.id, _WEBHOOKS.c.events)).all()
    if not hooks:
        return 0
    now = datetime.now(UTC)
    rows = []
    for event in stored:
        announced = announcements(event)
        if not announced:
            continue
        bodies: dict[str, str] = {}
        for hook_id, patterns in hooks:
            # One delivery per (webhook, event) -- the outbox's unique key: a webhook subscribed to
            # both pipeline.* and workflow.* hears of a workflow run once, by its first name.
            for name, payload in announced:
                if subscribed(patterns or (), name):
                    if name not in bodies:
                        bodies[name] = canonical(payload)
                    rows.append(
                        {
                            "webhook_id": hook_id,
                            "event_id": event.id,
                            "event_name": name,
                            "body": bodies[name],
                            "status": "pending",
                            "attempts": 0,
                            "next_attempt_at": now,
                            "created_at": now,
                        }
                    )
                    break
    if not rows:
        return 0
    # A row for (webhook, event) that already exists stays as it is (an event re-announced).
    # RETURNING makes SQLAlchemy batch the rows into multi-row INSERTs ("insertmanyvalues"), which it
    # does not do for ON CONFLICT without it, and tells which rows were new.
    statement = (
        dialect.insert(connection, _DELIVERIES)
        .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
        .returning(_DELIVERIES.c.id)
    )
    return len(connection.execute(statement, rows).all())
