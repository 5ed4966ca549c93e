"""Health answer, compatible with the lakehouse-api, job-queue-api and job-monitoring-api shapes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ComponentStatus = Literal["ok", "degraded", "down"]


class ComponentHealth(BaseModel):
    status: ComponentStatus
    required: bool = Field(description="A required component that is down makes the answer 503.")
    error: str | None = None
    latency_ms: float | None = None
    latest_heartbeat: str | None = Field(None, description="Scheduler only: its latest heartbeat.")


class HealthResponse(BaseModel):
    status: str = Field(
        description="`/health`: healthy, degraded or unhealthy (lakehouse-api, job-queue-api); "
        "`/healthz`: ok, degraded or down (job-monitoring-api)."
    )
    service: str = "headrace"
    version: str
    environment: str
    timestamp: str
    uptime: float = Field(description="Seconds since this api-server process started serving the API.")
    database: Literal["connected", "disconnected"] = Field(description="Metadata DB (job-queue-api).")
    components: dict[str, ComponentHealth]
