"""The monitoring event of the job-monitoring-api, validated field by field.

One model for every way in: ``POST /v1/ingest/events`` (and ``:batch``), the sidecar, and what
Airflow runs and binary jobs publish themselves (``source`` tells them apart in the log). Pure
pydantic: the sidecar imports it without Airflow.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

_ID = {"min_length": 1, "max_length": 250}


class EntityType(StrEnum):
    JOB = "job"
    SUBJOB = "subjob"


class EventKind(StrEnum):
    STARTED = "started"
    PROGRESS = "progress"
    METRIC = "metric"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"


class EventStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({EventStatus.SUCCEEDED, EventStatus.FAILED, EventStatus.CANCELED})


class _Strict(BaseModel):
    # Unknown fields are refused (named in the 400), never dropped silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class App(_Strict):
    """The application that runs the job."""

    app_id: str | None = Field(default=None, max_length=200)
    name: str = Field(min_length=1, max_length=250)
    version: str | None = Field(default=None, max_length=100)


class Entity(_Strict):
    """The job or subjob the event is about; a subjob's ``parent_id`` names its job."""

    type: EntityType
    id: str = Field(**_ID)
    parent_id: str | None = Field(default=None, max_length=250)
    business_key: str | None = Field(default=None, max_length=250)
    sub_key: str | None = Field(default=None, max_length=250)


class Occurrence(_Strict):
    """What happened, when (``at``, ISO 8601 with an offset), and what it measured."""

    kind: EventKind
    at: AwareDatetime
    status: EventStatus | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


class MonitoringEvent(_Strict):
    """One event, exactly as the contract shows it."""

    idempotency_key: str = Field(min_length=1, max_length=200)
    site_id: str = Field(min_length=1, max_length=100)
    app: App
    entity: Entity
    event: Occurrence


MEASURES = ("duration_s", "cpu_user_s", "cpu_system_s", "mem_max_mb")


def cross_field_errors(event: MonitoringEvent) -> list[tuple[str, str]]:
    """Rules across fields, as ``(dotted field, message)``; empty when the event is consistent.

    A ``finished`` event without a status means succeeded; with one it must be terminal. ``started``
    means running; ``canceled`` means canceled. A subjob names its job in ``parent_id``. The resource
    metrics the jobs table shows are non-negative numbers.
    """
    errors: list[tuple[str, str]] = []
    kind, status = event.event.kind, event.event.status
    if kind == EventKind.FINISHED and status is not None and status not in TERMINAL_STATUSES:
        errors.append(("event.status", "a finished event needs succeeded, failed or canceled"))
    if kind == EventKind.STARTED and status not in (None, EventStatus.RUNNING):
        errors.append(("event.status", "a started event is running"))
    if kind == EventKind.CANCELED and status not in (None, EventStatus.CANCELED):
        errors.append(("event.status", "a canceled event is canceled"))
    if event.entity.type == EntityType.SUBJOB and not event.entity.parent_id:
        errors.append(("entity.parent_id", "a subjob needs the id of its job"))
    for name in MEASURES:
        if name in event.event.metrics:
            value = event.event.metrics[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                errors.append((f"event.metrics.{name}", "must be a non-negative number"))
    return errors
