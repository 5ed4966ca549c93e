"""Operations glue: request statistics of every Headrace route, ``GET /metrics`` as JSON, and the
Prometheus exposition of the whole deployment.

Statistics are recorded by a hook on the blueprint (:func:`record_requests`) into the metadata
database (:mod:`headrace.operations.requests`), so all api-server workers share them. A failure to
record is logged and never fails the request it describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from headrace import __version__, config
from headrace.api.datamodels.operations import (
    AgentMetrics,
    DataMetrics,
    InfrastructureMetrics,
    SystemHealth,
    SystemMetrics,
    SystemWorkflowMetrics,
)
from headrace.operations import system
from headrace.operations.requests import UNMATCHED, RequestCollector, RequestStats

log = logging.getLogger(__name__)
_MB = 1024 * 1024
_HEALTH_WORDS = {"ok": "healthy", "degraded": "degraded", "down": "unhealthy"}
_FINISHED_TI = ("success", "failed", "upstream_failed")


def stats() -> RequestStats:
    from airflow import settings

    return RequestStats(settings.engine, keep_recent=config.request_stats_recent())


def record_requests(blueprint: Any, bases: Iterable[str]) -> None:
    """Count every request under ``bases`` by route (its declared rule, not the raw path), method and
    status, with its latency, into the shared statistics."""
    from flask import g, request

    from headrace.api import registry, sessions

    bases = tuple(bases)

    def ours() -> bool:
        return any(request.path == b or request.path.startswith(b + "/") for b in bases)

    @blueprint.before_app_request
    def start_clock() -> None:
        if ours():
            g.headrace_request_started = time.perf_counter()

    @blueprint.after_app_request
    def count(response):
        started = g.pop("headrace_request_started", None)
        if started is None or not ours():
            return response
        elapsed_ms = (time.perf_counter() - started) * 1000
        spec = registry.endpoint_for(request.endpoint, blueprint)
        route = spec.base + spec.openapi_path if spec else UNMATCHED
        try:
            with sessions.transaction() as session:  # the request's one connection (api/sessions.py)
                stats().record(
                    route,
                    request.method,
                    response.status_code,
                    elapsed_ms,
                    datetime.now(UTC),
                    connection=session.connection(),
                )
        except Exception:  # the statistics must never cost the caller their answer
            log.warning("Could not record request statistics", exc_info=True)
        return response


def health_status() -> str:
    from headrace.api.services import health

    components = {
        "metadata_db": health.check_metadata_db(),
        "scheduler": health.check_scheduler(),
        "storage": health.check_storage_root(config.storage_root()),
        "catalog_db": health.check_catalog_db(config.catalog_uri()),
    }
    return _HEALTH_WORDS[health.overall(components)]


def _midnight(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def headrace_dag_ids(session: Any, *, with_ingestion: bool) -> list[str]:
    """DAGs Headrace made: pipelines and workflows (tagged), and the ingestion DAG if asked."""
    from airflow.models.dag import DagTag
    from sqlalchemy import select

    from headrace.api.services.ingestion_jobs import DAG_ID
    from headrace.workflows.builder import HEADRACE_TAG

    tagged = set(session.scalars(select(DagTag.dag_id).where(DagTag.name == HEADRACE_TAG)))
    return sorted(tagged | {DAG_ID} if with_ingestion else tagged)


def system_metrics() -> SystemMetrics:
    from airflow.utils.session import create_session

    from headrace.api.services import agents

    now = datetime.now(UTC)
    with create_session() as session:
        workflows = _workflow_metrics(session, now)
        data = _data_metrics(session, now)
    found = [f.agent for f in agents.collect()]
    measured = [a.resource_usage for a in found if a.resource_usage is not None]
    by_status = {
        s: sum(1 for a in found if a.status == s) for s in ("healthy", "busy", "unhealthy", "offline")
    }
    return SystemMetrics(
        timestamp=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        system_health=SystemHealth(
            status=health_status(), uptime_seconds=round(system.server_uptime(), 1), version=__version__
        ),
        workflow_metrics=workflows,
        agent_metrics=AgentMetrics(
            total_agents=len(found),
            healthy_agents=by_status["healthy"],
            busy_agents=by_status["busy"],
            unhealthy_agents=by_status["unhealthy"],
            offline_agents=by_status["offline"],
            average_cpu_usage=round(sum(u.cpu_percent for u in measured) / len(measured), 1)
            if measured
            else None,
            average_memory_usage=round(sum(u.memory_mb for u in measured) / len(measured), 1)
            if measured
            else None,
        ),
        data_metrics=data,
        infrastructure_metrics=_infrastructure(),
    )


def _workflow_metrics(session: Any, now: datetime) -> SystemWorkflowMetrics:
    from airflow.models.dagrun import DagRun
    from sqlalchemy import func, select

    dag_ids = headrace_dag_ids(session, with_ingestion=False)
    active = session.scalar(
        select(func.count())
        .select_from(DagRun)
        .where(DagRun.dag_id.in_(dag_ids), DagRun.state.in_(("queued", "running")))
    )
    ended = session.execute(
        select(DagRun.state, DagRun.start_date, DagRun.end_date).where(
            DagRun.dag_id.in_(dag_ids),
            DagRun.end_date >= _midnight(now),
            DagRun.state.in_(("success", "failed")),
        )
    ).all()
    completed = [r for r in ended if r.state == "success"]
    durations = [(r.end_date - r.start_date).total_seconds() for r in completed if r.start_date]
    return SystemWorkflowMetrics(
        active_workflows=active or 0,
        completed_today=len(completed),
        failed_today=len(ended) - len(completed),
        success_rate=round(len(completed) / len(ended), 4) if ended else None,
        average_duration=round(sum(durations) / len(durations), 3) if durations else None,
    )


def _data_metrics(session: Any, now: datetime) -> DataMetrics:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    dag_ids = headrace_dag_ids(session, with_ingestion=True)
    midnight = _midnight(now)
    tis = session.execute(
        select(TI.dag_id, TI.run_id, TI.task_id, TI.map_index, TI.state, TI.duration).where(
            TI.dag_id.in_(dag_ids), TI.end_date >= midnight, TI.state.in_(_FINISHED_TI)
        )
    ).all()
    durations = {(t.dag_id, t.run_id, t.task_id, t.map_index): t.duration for t in tis}
    records = volume = 0
    seconds = 0.0
    for row in session.scalars(
        select(XComModel).where(
            XComModel.dag_id.in_(dag_ids), XComModel.key == "return_value", XComModel.timestamp >= midnight
        )
    ):
        result = XComModel.deserialize_value(row)
        if not isinstance(result, dict):
            continue
        count = result.get("records_processed", result.get("rows_written"))
        if isinstance(count, int):
            records += count
            seconds += durations.get((row.dag_id, row.run_id, row.task_id, row.map_index)) or 0.0
        if isinstance(result.get("bytes_read"), int):
            volume += result["bytes_read"]
    failed = sum(1 for t in tis if t.state != "success")
    return DataMetrics(
        records_processed_today=records,
        data_volume_mb_today=round(volume / _MB, 3),
        processing_rate=round(records / seconds, 3) if records and seconds else None,
        error_rate=round(failed / len(tis), 4) if tis else None,
    )


def _infrastructure() -> InfrastructureMetrics:
    from airflow import settings
    from sqlalchemy import text

    latency = connections = hit_rate = None
    dialect = settings.engine.dialect.name
    try:
        with settings.engine.connect() as connection:
            started = time.perf_counter()
            connection.execute(text("SELECT 1"))
            latency = round((time.perf_counter() - started) * 1000, 3)
            if dialect == "postgresql":
                connections = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                ).scalar()
                hit, read = connection.execute(
                    text(
                        "SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = current_database()"
                    )
                ).one()
                hit_rate = round(hit / (hit + read), 4) if hit + read else None
            elif dialect == "mysql":
                status = dict(connection.execute(text("SHOW GLOBAL STATUS")).all())
                connections = int(status["Threads_connected"]) if "Threads_connected" in status else None
                requests_, reads = (
                    int(status.get(k, 0))
                    for k in ("Innodb_buffer_pool_read_requests", "Innodb_buffer_pool_reads")
                )
                hit_rate = round(1 - reads / requests_, 4) if requests_ else None
    except Exception:
        log.warning("Could not read the metadata database's figures", exc_info=True)
    disk = (
        None if config.storage_conn_id() else system.disk_usage_percent(str(_existing(config.storage_root())))
    )
    return InfrastructureMetrics(
        database_connections=connections,
        cache_hit_rate=hit_rate,
        network_latency_ms=latency,
        disk_usage_percent=disk,
    )


def _existing(path):
    """The path, or its nearest existing parent (the storage root is created on first use)."""
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


# --- Prometheus -----------------------------------------------------------------------------------


class _AirflowCollector:
    """Ingestion jobs and their rows, workflow runs and agents, read from the metadata database."""

    def collect(self) -> Iterator:
        from airflow.models.dagrun import DagRun
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
        from sqlalchemy import func, select

        from headrace.api.services import agents
        from headrace.api.services.ingestion_jobs import DAG_ID

        with create_session() as session:
            ingestion = dict(
                session.execute(
                    select(DagRun.state, func.count()).where(DagRun.dag_id == DAG_ID).group_by(DagRun.state)
                ).all()
            )
            rows = files = 0
            for row in session.scalars(
                select(XComModel).where(XComModel.dag_id == DAG_ID, XComModel.key == "return_value")
            ):
                result = XComModel.deserialize_value(row)
                if isinstance(result, dict):
                    rows += result["rows_written"] if isinstance(result.get("rows_written"), int) else 0
                    files += result["files_loaded"] if isinstance(result.get("files_loaded"), int) else 0
            workflow_ids = headrace_dag_ids(session, with_ingestion=False)
            runs = session.execute(
                select(DagRun.dag_id, DagRun.state, func.count())
                .where(DagRun.dag_id.in_(workflow_ids))
                .group_by(DagRun.dag_id, DagRun.state)
            ).all()
        jobs = GaugeMetricFamily(
            "headrace_ingestion_jobs",
            "Ingestion jobs (runs of headrace_ingestion) by status",
            labels=["status"],
        )
        for state in ("queued", "running", "success", "failed"):
            jobs.add_metric([state], ingestion.get(state, 0))
        yield jobs
        yield CounterMetricFamily(
            "headrace_ingestion_rows_written", "Rows written by the ingestion jobs Airflow keeps", value=rows
        )
        yield CounterMetricFamily(
            "headrace_ingestion_files_loaded", "Files loaded by the ingestion jobs Airflow keeps", value=files
        )
        workflow_runs = GaugeMetricFamily(
            "headrace_workflow_runs",
            "Runs of Headrace pipelines and workflows by status",
            labels=["pipeline", "status"],
        )
        for dag_id, state, count in runs:
            workflow_runs.add_metric([dag_id, str(state)], count)
        yield workflow_runs
        by_kind: dict[tuple[str, str], int] = {}
        for found in agents.collect(measure=False):
            key = (found.agent.type, found.agent.status)
            by_kind[key] = by_kind.get(key, 0) + 1
        gauge = GaugeMetricFamily("headrace_agents", "Agents by type and status", labels=["type", "status"])
        for (kind, status), count in sorted(by_kind.items()):
            gauge.add_metric([kind, status], count)
        yield gauge
        yield GaugeMetricFamily(
            "headrace_api_server_uptime_seconds",
            "Seconds since this api-server started",
            value=system.server_uptime(),
        )


class _Forward:
    """The event log's metrics (a registry of their own, counted in each api-server process)."""

    def collect(self) -> Iterator:
        from headrace.events.metrics import REGISTRY

        yield from REGISTRY.collect()


def prometheus(openmetrics: bool) -> tuple[bytes, str]:
    """The deployment's metrics: requests, ingestion, workflows, agents, the job queue and the events."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
    from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
    from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

    from headrace.api.services import jobs
    from headrace.jobs.metrics import QueueCollector

    queue = jobs.queue()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RequestCollector(stats()))
    registry.register(_AirflowCollector())
    active_since = queue.clock() - timedelta(seconds=queue.settings.heartbeat_timeout)
    registry.register(QueueCollector(queue.engine, active_since=active_since))
    registry.register(_Forward())
    if openmetrics:
        return generate_openmetrics(registry), OPENMETRICS
    return generate_latest(registry), CONTENT_TYPE_LATEST
