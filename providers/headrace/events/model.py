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
