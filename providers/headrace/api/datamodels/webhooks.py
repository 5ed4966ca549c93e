"""Bodies and answers of the webhooks API (pipelines-api "Webhooks"); the secret goes in, never out."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from headrace.api.datamodels.common import StrictModel
from headrace.events.webhook_delivery import url_shape_problem
from headrace.events.webhooks import SUBSCRIBABLE


class WebhookCreate(StrictModel):
    """``POST /webhooks``. Whether the host resolves to an allowed address is checked by the service."""

    url: str = Field(max_length=2048, description="http or https; no credentials in it.")
    events: list[str] = Field(
        min_length=1, description="Event names, e.g. `pipeline.completed`, or wildcards `job.*`."
    )
    secret: str = Field(min_length=16, max_length=256, description="HMAC-SHA256 key; never shown back.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        problem = url_shape_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SUBSCRIBABLE]
        if unknown:
            known = ", ".join(sorted(SUBSCRIBABLE))
            raise ValueError(f"unknown event name(s) {', '.join(unknown)}; known: {known}")
        return list(dict.fromkeys(value))


class WebhookView(BaseModel):
    """A subscription as the API shows it: everything but the secret."""

    id: str
    url: str
    events: list[str]
    owner: str | None = None
    created_at: str


class DeliveryAttemptView(BaseModel):
    """One attempt to deliver: when, the HTTP status (none when no answer came), why it failed."""

    number: int
    at: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None


class DeliveryView(BaseModel):
    """One event sent (or being sent) to the webhook, with every attempt in order."""

    id: int = Field(description="Also sent as the `X-Headrace-Delivery` header.")
    event_id: int = Field(description="The id of the event in the event log.")
    event: str
    status: str = Field(description="pending, delivered or failed")
    attempt_count: int
    created_at: str
    next_attempt_at: str | None = None
    delivered_at: str | None = None
    attempts: list[DeliveryAttemptView]


class DeliveryQuery(StrictModel):
    """``GET /webhooks/{id}/deliveries``: how many of the newest deliveries to list."""

    limit: int = Field(50, ge=1, le=500)
