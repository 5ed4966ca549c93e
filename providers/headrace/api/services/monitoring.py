"""The Monitoring API's figures: the shared request statistics and this host, in the contract's units.

``watsonx`` is the contract's key for the lakehouse backend; here it describes Headrace's own: the
catalog database (``[headrace] catalog_uri``), the object storage (local folders or S3) and the
engines (Arrow always, Spark when configured).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from datetime import UTC, datetime

from headrace import __version__, config
from headrace.api.datamodels.monitoring import (
    ComponentCheck,
    CpuInfo,
    Dashboard,
    DashboardHealth,
    EndpointTotals,
    HealthComponents,
    LakehouseDetails,
    LakehouseHealth,
    MemoryInfo,
    MonitoringMetrics,
    PlatformInfo,
    Realtime,
    RealtimePerformance,
    RealtimeRequests,
    RequestTimeline,
    RequestTotals,
    ResetAnswer,
    ResponseTimes,
    SystemAnswer,
    SystemInfo,
    TimelineMinute,
)
from headrace.api.services import operations
from headrace.operations import system
from headrace.operations.requests import Summary

log = logging.getLogger(__name__)


def _two(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _rate(part: int, whole: int) -> str | None:
    return _two(part / whole * 100) if whole else None


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def system_info() -> SystemInfo:
    memory = system.memory()
    return SystemInfo(
        uptime=round(system.host_uptime(), 1),
        memory=MemoryInfo(
            total=memory.total, free=memory.free, used=memory.used, usagePercent=f"{memory.percent:.2f}"
        ),
        cpu=CpuInfo(
            cores=_cores(),
            model=system.cpu_model(),
            loadAverage=system.load_average(),
            usage=system.cpu_percent(),
        ),
        platform=PlatformInfo(**system.platform_info()),
    )


def _cores() -> int | None:
    import psutil

    return psutil.cpu_count(logical=True)


def metrics() -> MonitoringMetrics:
    return _metrics(operations.stats().summary())


def _metrics(summary: Summary) -> MonitoringMetrics:
    return MonitoringMetrics(
        timestamp=_iso_ms(datetime.now(UTC)),
        uptime=round(system.server_uptime(), 1),
        since=_iso_ms(summary.since) if summary.since else None,
        requests=RequestTotals(
            total=summary.total,
            success=summary.success,
            failed=summary.failed,
            successRate=_rate(summary.success, summary.total),
        ),
        performance=ResponseTimes(
            avgResponseTime=_two(summary.average_ms), recentResponseTimes=summary.recent_ms
        ),
        system=system_info(),
        endpoints=[
            EndpointTotals(
                endpoint=e.route,
                method=e.method,
                total=e.total,
                success=e.success,
                failed=e.failed,
                avgResponseTime=_two(e.average_ms),
                successRate=_rate(e.success, e.total),
            )
            for e in summary.endpoints
        ],
    )


def lakehouse() -> LakehouseHealth:
    from headrace.api.services import health

    catalog_uri = config.catalog_uri()
    catalog = health.check_catalog_db(catalog_uri)
    catalog_check = ComponentCheck(
        status="healthy" if catalog.status == health.OK else "unhealthy",
        kind=catalog_uri.split(":", 1)[0].split("+", 1)[0],  # the dialect only: never hosts or paths
        latency_ms=catalog.latency_ms,
    )
    storage = _storage_check()
    engines = ["arrow"]
    spark = any(kind.startswith("spark") for kind in config.engines().values())
    if spark and importlib.util.find_spec("pyspark") is not None:
        engines.append("spark")
    connected = catalog_check.status == storage.status == "healthy"
    return LakehouseHealth(
        status="healthy" if connected else "unhealthy",
        connected=connected,
        details=LakehouseDetails(
            version=__version__,
            services=[
                f"catalog-db:{catalog_check.kind}",
                f"object-storage:{storage.kind}",
                *(f"engine:{e}" for e in engines),
            ],
            catalog_db=catalog_check,
            storage=storage,
            engines=engines,
        ),
    )


def _storage_check() -> ComponentCheck:
    from headrace.api.services import health

    if not config.storage_conn_id():
        report = health.check_storage_root(config.storage_root())
        ok = report.status == health.OK
        return ComponentCheck(
            status="healthy" if ok else "unhealthy", kind="local", latency_ms=report.latency_ms
        )
    from headrace.storage.factory import get_store

    started = time.perf_counter()
    try:
        get_store().bucket_exists(config.default_bucket())
    except Exception:
        log.warning("Object storage did not answer", exc_info=True)
        return ComponentCheck(status="unhealthy", kind="s3")
    return ComponentCheck(
        status="healthy", kind="s3", latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


def dashboard() -> Dashboard:
    base = metrics()
    backend = lakehouse()
    api = operations.health_status()
    memory = "warning" if system.memory().percent >= config.alert_memory_percent() else "healthy"
    if api == "unhealthy" or backend.status == "unhealthy":
        overall = "unhealthy"
    elif api == "degraded" or memory == "warning":
        overall = "degraded"
    else:
        overall = "healthy"
    return Dashboard(
        **base.model_dump(),
        watsonx=backend,
        health=DashboardHealth(
            overall=overall, components=HealthComponents(api=api, memory=memory, watsonx=backend.status)
        ),
    )


def realtime() -> Realtime:
    summary = operations.stats().summary()
    return Realtime(
        timestamp=int(time.time() * 1000),
        cpu=system.cpu_percent(),
        memory=round(system.memory().percent, 2),
        requests=RealtimeRequests(total=summary.total, success=summary.success, failed=summary.failed),
        performance=RealtimePerformance(avgResponseTime=_two(summary.average_ms)),
    )


def timeline() -> RequestTimeline:
    """Requests per minute over the last hour, from the samples every worker records."""
    now = datetime.now(UTC)
    answer = operations.stats().timeline(now)
    return RequestTimeline(
        timestamp=_iso_ms(now),
        completeSince=_iso_ms(answer.complete_since) if answer.complete_since else None,
        minutes=[
            TimelineMinute(
                timestamp=_iso_ms(m.start),
                requests=m.requests,
                avgResponseTime=m.average_ms,
                p95ResponseTime=m.p95_ms,
                maxResponseTime=m.max_ms,
            )
            for m in answer.minutes
        ],
    )


def system_answer() -> SystemAnswer:
    return SystemAnswer(system=system_info(), uptime=round(system.server_uptime(), 1))


def reset(username: str) -> ResetAnswer:
    forgotten = operations.stats().reset()
    log.info("Request statistics reset by %s (%d counted requests forgotten)", username, forgotten)
    return ResetAnswer(reset_requests=forgotten)
