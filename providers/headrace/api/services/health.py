"""Health of the parts Headrace needs: metadata DB, scheduler, storage root and catalog DB."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

OK, DEGRADED, DOWN = "ok", "degraded", "down"


@dataclass(frozen=True)
class ComponentReport:
    status: str
    required: bool
    error: str | None = None
    latency_ms: float | None = None
    latest_heartbeat: str | None = None


def _timed(required: bool, probe: Callable[[], str | None]) -> ComponentReport:
    """Run a probe; an exception means down, a returned string is a heartbeat."""
    started = time.perf_counter()
    try:
        heartbeat = probe()
    except Exception as exc:
        return ComponentReport(DOWN, required, error=f"{type(exc).__name__}: {exc}"[:500])
    latency = round((time.perf_counter() - started) * 1000, 2)
    return ComponentReport(OK, required, latency_ms=latency, latest_heartbeat=heartbeat)


def check_metadata_db() -> ComponentReport:
    def probe() -> None:
        from airflow.utils.session import create_session

        with create_session() as session:
            session.execute(text("SELECT 1"))

    return _timed(True, probe)


def check_scheduler() -> ComponentReport:
    """Not required: the API serves without a scheduler, but runs will not start."""
    from airflow.jobs.scheduler_job_runner import SchedulerJobRunner

    def probe() -> str | None:
        job = SchedulerJobRunner.most_recent_job()
        if job is None:
            raise RuntimeError("no scheduler has ever run")
        heartbeat = job.latest_heartbeat.isoformat() if job.latest_heartbeat else None
        if not job.is_alive():
            raise RuntimeError(f"latest scheduler heartbeat is stale ({heartbeat})")
        return heartbeat

    report = _timed(False, probe)
    if report.status == DOWN and report.error and "stale" in report.error:
        return ComponentReport(DEGRADED, False, error=report.error)
    return report


def check_storage_root(root: Path) -> ComponentReport:
    def probe() -> None:
        root.mkdir(parents=True, exist_ok=True)
        marker = root / f".health-{uuid.uuid4().hex}"
        marker.write_bytes(b"ok")
        marker.unlink()

    return _timed(True, probe)


@functools.lru_cache(maxsize=4)
def _engine(uri: str) -> Engine:
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return create_engine(uri, pool_pre_ping=True)


def check_catalog_db(uri: str) -> ComponentReport:
    def probe() -> None:
        with _engine(uri).connect() as connection:
            connection.execute(text("SELECT 1"))

    return _timed(True, probe)


def overall(components: dict[str, ComponentReport]) -> str:
    """DOWN when a required component is down, DEGRADED when anything is not ok, else OK."""
    if any(c.required and c.status == DOWN for c in components.values()):
        return DOWN
    if any(c.status != OK for c in components.values()):
        return DEGRADED
    return OK
