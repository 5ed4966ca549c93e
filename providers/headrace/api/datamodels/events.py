"""Bodies and answers of the job-monitoring-api's event routes (ingest, jobs, subjobs, healthz)."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, RootModel

from headrace.events.model import MonitoringEvent


class EventBatch(RootModel):
    """``POST /v1/ingest/events:batch``: a JSON array of at most 10,000 events (documentation only:
    the items are validated one by one, so that a bad one is reported, not fatal)."""

    root: list[MonitoringEvent]


class Ack(BaseModel):
    """The answer to one ingested event (also when it was a duplicate)."""

    ok: bool = True


class FieldError(BaseModel):
    """One bad field, by dotted path (``event.kind``)."""

    field: str
    message: str


class Rejected(BaseModel):
    """A batch item refused, by its index in the array."""

    index: int
    errors: list[FieldError]


class BatchAnswer(BaseModel):
    """The sidecar relies on exactly this shape."""

    ok: bool
    stored: int
    duplicates: int
    rejected: list[Rejected]


class EntityListQuery(BaseModel):
    """``GET /v1/jobs`` and ``/v1/subjobs``; ``site`` forwards the query to another site."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    from_: AwareDatetime | None = Field(default=None, alias="from")
    to: AwareDatetime | None = None
    status: str | None = None
    app_name: str | None = Field(default=None, max_length=250)
    site_id: str | None = Field(default=None, max_length=100)
    site: str | None = Field(default=None, max_length=100)
    limit: int = Field(default=1000, ge=1, le=10000)


class EntityList(BaseModel):
    """Jobs or subjobs, newest first; ``duration_s`` is the query's time."""

    items: list[dict[str, Any]]
    count: int
    duration_s: float


__all__ = [
    "Ack",
    "BatchAnswer",
    "EntityList",
    "EntityListQuery",
    "EventBatch",
    "FieldError",
    "MonitoringEvent",
    "Rejected",
]
