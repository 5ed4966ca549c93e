"""The lakehouse-api's Monitoring API: request statistics, this host, and the lakehouse backend.

Reading is cluster activity in Airflow's terms; ``POST /monitoring/reset`` forgets the statistics of
every worker and is Headrace administration (configuration: PUT, an ``admin`` key), logged with who
did it.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

from headrace.api.datamodels.monitoring import (
    Dashboard,
    LakehouseHealth,
    MonitoringMetrics,
    Realtime,
    RequestTimeline,
    ResetAnswer,
    SystemAnswer,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import ADMIN, Principal, Scope, view
from headrace.api.services import monitoring as service

_NS = Namespace.MONITORING
_READ = view(AccessView.CLUSTER_ACTIVITY, Scope.READ)


@endpoint(
    "/monitoring/metrics",
    "GET",
    _NS,
    summary="Request statistics and system metrics",
    permission=_READ,
    response=MonitoringMetrics,
)
def get_metrics():
    """Requests of every Headrace route since the last reset, counted by all api-server workers alike
    (they are kept in the metadata database), per endpoint with totals and success rates; the newest
    response times; this host's memory (bytes), CPU and platform."""
    return service.metrics()


@endpoint(
    "/monitoring/dashboard",
    "GET",
    _NS,
    summary="Dashboard: metrics, lakehouse backend, health",
    permission=_READ,
    response=Dashboard,
)
def get_dashboard():
    """The metrics plus `watsonx` (the key the contract's clients read; here it describes this
    deployment's lakehouse backend: catalog database, object storage, engines) and `health`."""
    return service.dashboard()


@endpoint(
    "/monitoring/realtime", "GET", _NS, summary="Real-time figures", permission=_READ, response=Realtime
)
def get_realtime():
    """Small and cheap, for polling every few seconds; `timestamp` in milliseconds since the epoch."""
    return service.realtime()


@endpoint(
    "/monitoring/timeline",
    "GET",
    _NS,
    summary="Requests per minute over the last hour (Headrace extension)",
    permission=_READ,
    response=RequestTimeline,
)
def get_timeline():
    """Beyond the contract: the requests every worker answered in each of the last 60 minutes (the
    last one so far) with their mean, 95th percentile and slowest response time in milliseconds.
    A minute before counting began (a reset, a new deployment) is null, never 0."""
    return service.timeline()


@endpoint(
    "/monitoring/health",
    "GET",
    _NS,
    summary="Lakehouse backend health",
    permission=_READ,
    response=LakehouseHealth,
)
def get_lakehouse_health():
    """The catalog database and object storage, probed now, and the engines configured (the
    contract's watsonx.data health)."""
    return service.lakehouse()


@endpoint(
    "/monitoring/system", "GET", _NS, summary="System information", permission=_READ, response=SystemAnswer
)
def get_system():
    """This host's memory, CPU and platform, and the api-server's uptime."""
    return service.system_answer()


@endpoint(
    "/monitoring/reset",
    "POST",
    _NS,
    summary="Reset request statistics (admin)",
    permission=ADMIN,
    response=ResetAnswer,
    wrap=False,
)
def reset(principal: Principal):
    """Forgets the request statistics of every worker; needs administration (403 otherwise). The
    server log records who reset them."""
    return service.reset(principal.username)
