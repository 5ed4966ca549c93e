"""Health answer, compatible with the lakehouse-api, job-queue-api and job-monitoring-api shapes.

Anonymous callers get each status and the contracts' fields; ``version`` and the components'
``error``, ``latency_ms`` and ``latest_heartbeat`` only go to callers with valid credentials, since
error texts name hosts, ports and paths.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentStatus = Literal["ok", "degraded", "down"]

# What an anonymous caller sees of a component, and of the whole answer.
PUBLIC_COMPONENT_FIELDS = frozenset({"status", "required"})
DETAIL_FIELDS = frozenset({"version"})


class ComponentHealth(BaseModel):
    """The status of one component Headrace depends on."""

    status: ComponentStatus
    required: bool = Field(description="A required component that is down makes the answer 503.")
    error: str | None = Field(None, description="Authenticated callers only.")
    latency_ms: float | None = Field(None, description="Authenticated callers only.")
    latest_heartbeat: str | None = Field(None, description="Scheduler only, authenticated callers only.")


class HealthResponse(BaseModel):
    """Answer of GET /health and /healthz: the overall status and each component's."""

    status: str = Field(
        description="`/health`: healthy, degraded or unhealthy (lakehouse-api, job-queue-api); "
        "`/healthz`: ok, degraded or down (job-monitoring-api)."
    )
    service: str = "headrace"
    version: str | None = Field(None, description="Authenticated callers only.")
    environment: str
    timestamp: str
    uptime: float = Field(description="Seconds since this api-server process started serving the API.")
    database: Literal["connected", "disconnected"] = Field(description="Metadata DB (job-queue-api).")
    components: dict[str, ComponentHealth]

    def public(self) -> dict:
        """The answer for anonymous callers: statuses only."""
        return self.model_dump(
            mode="json",
            exclude={
                **dict.fromkeys(DETAIL_FIELDS, True),
                "components": {"__all__": set(ComponentHealth.model_fields) - PUBLIC_COMPONENT_FIELDS},
            },
        )
