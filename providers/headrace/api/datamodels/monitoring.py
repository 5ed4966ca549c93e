"""The lakehouse-api's Monitoring API (``/monitoring/...``), with its field names and units.

Units as the contract has them: memory in bytes, rates and percentages as strings with two
decimals (``"96.67"``), response times in milliseconds, ``realtime``'s timestamp in milliseconds
since the epoch. Request statistics cover every Headrace route and every api-server worker (they
are kept in the metadata database) since the last ``POST /monitoring/reset``. A rate over no
requests is ``null``, not ``"0.00"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


def _percent():
    return Field(None, description='Percent with two decimals, e.g. "96.67"; null over no requests.')


def _millis():
    return Field(
        None, description='Mean milliseconds with two decimals, e.g. "125.50"; null over no requests.'
    )


class RequestTotals(BaseModel):
    """Requests answered since the last reset; success is any status below 400."""

    total: int
    success: int
    failed: int
    successRate: str | None = _percent()


class ResponseTimes(BaseModel):
    """Response times in milliseconds."""

    avgResponseTime: str | None = _millis()
    recentResponseTimes: list[float] = Field(
        description="The newest requests' times (ms), oldest first; at most [headrace] request_stats_recent."
    )


class MemoryInfo(BaseModel):
    """The host's memory in bytes; free is what programs can still use (psutil's `available`)."""

    total: int
    free: int
    used: int = Field(description="total - free")
    usagePercent: str = Field(description="used / total, percent with two decimals")


class CpuInfo(BaseModel):
    """The host's processors."""

    cores: int | None = Field(description="Logical CPUs.")
    model: str | None = Field(description="The processor's model name; null where the system does not say.")
    loadAverage: list[float] | None = Field(description="1, 5 and 15 minute load averages.")
    usage: float = Field(description="Percent of all CPUs in use, measured over the last interval.")


class PlatformInfo(BaseModel):
    """The operating system, in Node.js's words (`type`: Linux; `platform`: linux; `arch`: x64)."""

    type: str
    platform: str
    arch: str
    release: str


class SystemInfo(BaseModel):
    """The host the answering api-server runs on."""

    uptime: float = Field(description="Seconds since the host booted.")
    memory: MemoryInfo
    cpu: CpuInfo
    platform: PlatformInfo


class EndpointTotals(BaseModel):
    """One route and method (the route as declared, e.g. `/api/v1/jobs/{job_id}`)."""

    endpoint: str = Field(
        description="The route below `/pluginsv2/headrace`; `<unmatched>` for unknown paths."
    )
    method: str
    total: int
    success: int
    failed: int
    avgResponseTime: str | None = _millis()
    successRate: str | None = _percent()


class MonitoringMetrics(BaseModel):
    """Answer of GET /monitoring/metrics."""

    timestamp: str = Field(description="ISO 8601 with milliseconds, UTC.")
    uptime: float = Field(description="Seconds since this api-server started (the same in all its workers).")
    since: str | None = Field(
        None, description="When the first request now counted was answered (after the last reset)."
    )
    requests: RequestTotals
    performance: ResponseTimes
    system: SystemInfo
    endpoints: list[EndpointTotals]


class ComponentCheck(BaseModel):
    """One part of the lakehouse backend."""

    status: Literal["healthy", "unhealthy"]
    kind: str = Field(description="Catalog database: its SQL dialect; storage: `local` or `s3`.")
    latency_ms: float | None = None


class LakehouseDetails(BaseModel):
    """What the lakehouse backend of this deployment is made of."""

    version: str = Field(description="Headrace's version.")
    services: list[str] = Field(
        description="catalog-db, object-storage and each engine, e.g. `engine:arrow`."
    )
    catalog_db: ComponentCheck
    storage: ComponentCheck
    engines: list[str] = Field(
        description="`arrow` always; `spark` when a Spark engine is configured and pyspark installed."
    )


class LakehouseHealth(BaseModel):
    """The contract's `watsonx` object, kept under that key for contract clients: it describes this
    deployment's lakehouse backend (catalog database, object storage, engines), not IBM watsonx.data."""

    status: Literal["healthy", "unhealthy"]
    connected: bool = Field(description="The catalog database and the object storage both answered.")
    details: LakehouseDetails


class HealthComponents(BaseModel):
    """Statuses of the dashboard's components."""

    api: Literal["healthy", "degraded", "unhealthy"] = Field(description="GET /health's overall status.")
    memory: Literal["healthy", "warning"] = Field(
        description="warning at or above [headrace] alert_memory_percent of the host's memory."
    )
    watsonx: Literal["healthy", "unhealthy"] = Field(description="The lakehouse backend (see `watsonx`).")


class DashboardHealth(BaseModel):
    """The worst of the components."""

    overall: Literal["healthy", "degraded", "unhealthy"]
    components: HealthComponents


class Dashboard(MonitoringMetrics):
    """Answer of GET /monitoring/dashboard: the metrics plus the lakehouse backend and health."""

    watsonx: LakehouseHealth
    health: DashboardHealth


class RealtimeRequests(BaseModel):
    """Request counts since the last reset."""

    total: int
    success: int
    failed: int


class RealtimePerformance(BaseModel):
    """Mean response time."""

    avgResponseTime: str | None = _millis()


class Realtime(BaseModel):
    """Answer of GET /monitoring/realtime, for polling every few seconds."""

    timestamp: int = Field(description="Milliseconds since the epoch.")
    cpu: float = Field(description="Host CPU percent.")
    memory: float = Field(description="Host memory percent, two decimals.")
    requests: RealtimeRequests
    performance: RealtimePerformance


class SystemAnswer(BaseModel):
    """Answer of GET /monitoring/system."""

    system: SystemInfo
    uptime: float = Field(description="Seconds since this api-server started.")


class ResetAnswer(BaseModel):
    """Answer of POST /monitoring/reset (the contract's shape: no `data`)."""

    success: bool = True
    message: str = "Metrics reset successfully"
    reset_requests: int = Field(description="How many counted requests were forgotten.")


class TimelineMinute(BaseModel):
    """Requests answered in one minute (all routes, all workers); null figures: not known then."""

    timestamp: str = Field(description="The minute's start, ISO 8601 with milliseconds, UTC.")
    requests: int | None = Field(description="Requests answered; null before counting began.")
    avgResponseTime: float | None = Field(description="Mean milliseconds; null over no requests.")
    p95ResponseTime: float | None = Field(description="95th percentile (nearest rank), milliseconds.")
    maxResponseTime: float | None = Field(description="The slowest request's milliseconds.")


class RequestTimeline(BaseModel):
    """Answer of GET /monitoring/timeline: the last hour, minute by minute, oldest first."""

    timestamp: str = Field(description="When it was computed (the last minute counts up to it).")
    stepSeconds: int = 60
    completeSince: str | None = Field(
        description="From then on every request is counted: the first minute's start, or later after a "
        "reset or on a new deployment (or when more than 100,000 requests came in the hour); null when "
        "none is counted."
    )
    minutes: list[TimelineMinute] = Field(
        description="60 minutes; the last one is the current minute so far."
    )
