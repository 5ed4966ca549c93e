"""What the event log hands back: stored events, in the order of their log id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Source:
    """Where an event came from (``headrace_event.source``)."""

    INGEST = "ingest"  # POST /v1/ingest/events, the sidecar
    AIRFLOW = "airflow"  # DagRuns and task instances of this deployment
    JOB_QUEUE = "job_queue"  # the binary job queue


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of ``headrace_event``; ``id`` orders the log (SSE ``id:``, webhook and stream cursors)."""

    id: int
    idempotency_key: str
    site_id: str
    source: str
    entity_type: str
    entity_id: str
    kind: str
    at: datetime
    inserted_at: datetime
    app_id: str | None = None
    app_name: str | None = None
    app_version: str | None = None
    parent_id: str | None = None
    business_key: str | None = None
    sub_key: str | None = None
    status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_stream(self) -> dict[str, Any]:
        """The JSON of one SSE ``data:`` line (and of the WebSocket's raw event messages)."""
        return {
            "id": self.id,
            "at": _iso(self.at),
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "parent_id": self.parent_id,
            "kind": self.kind,
            "status": self.status,
            "site_id": self.site_id,
            "app_id": self.app_id,
            "app_name": self.app_name,
            "app_version": self.app_version,
            "business_key": self.business_key,
            "sub_key": self.sub_key,
            "source": self.source,
            "metrics": self.metrics,
            "metadata": self.metadata,
            "inserted_at": _iso(self.inserted_at),
        }


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
