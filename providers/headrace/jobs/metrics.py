"""Prometheus metrics of the queue, read from the database at each scrape.

Counting in the database rather than in process memory means every api-server worker reports the
same numbers, and they survive restarts: claims are attempts, completions and failures are attempts
that ended so, rescues are attempts that ended ``lost``. The exposition is ``prometheus_client``'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from sqlalchemy import Engine, func, select

from headrace.db.models import JobAttempt, JobExecutor, QueuedJob
from headrace.jobs.models import AttemptStatus, Priority, Status

JOBS = QueuedJob.__table__
ATTEMPTS = JobAttempt.__table__
EXECUTORS = JobExecutor.__table__
DURATION_BUCKETS = (1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400)


class QueueCollector:
    """A ``prometheus_client`` collector that reads the queue's tables when scraped."""

    def __init__(self, engine: Engine, *, active_since: datetime) -> None:
        self.engine = engine
        self.active_since = active_since

    def collect(self) -> Iterator:
        with self.engine.connect() as connection:
            jobs = connection.execute(
                select(JOBS.c.status, JOBS.c.priority, func.count()).group_by(JOBS.c.status, JOBS.c.priority)
            ).all()
            attempts = dict(
                connection.execute(select(ATTEMPTS.c.status, func.count()).group_by(ATTEMPTS.c.status)).all()
            )
            ended = ATTEMPTS.c.duration_seconds.is_not(None)
            buckets = connection.execute(
                select(
                    *(
                        func.count().filter(ATTEMPTS.c.duration_seconds <= bound)
                        for bound in DURATION_BUCKETS
                    ),
                    func.count(),
                    func.coalesce(func.sum(ATTEMPTS.c.duration_seconds), 0.0),
                ).where(ended)
            ).one()
            active = connection.execute(
                select(func.count()).where(EXECUTORS.c.last_seen_at >= self.active_since)
            ).scalar_one()

        by_status = GaugeMetricFamily(
            "headrace_jobs", "Jobs by status and priority", labels=["status", "priority"]
        )
        counts = {(status, priority): count for status, priority, count in jobs}
        for status in Status:
            for priority in Priority:
                by_status.add_metric(
                    [status.value, priority.value], counts.get((status.value, priority.value), 0)
                )
        yield by_status
        for name, text, value in (
            ("headrace_job_claims", "Jobs handed to executors (attempts started)", sum(attempts.values())),
            ("headrace_job_completions", "Attempts that completed", attempts.get(AttemptStatus.COMPLETED, 0)),
            ("headrace_job_failures", "Attempts that failed", attempts.get(AttemptStatus.FAILED, 0)),
            (
                "headrace_job_rescues",
                "Attempts lost to a missing heartbeat",
                attempts.get(AttemptStatus.LOST, 0),
            ),
        ):
            yield CounterMetricFamily(name, text, value=value)
        *cumulative, total, seconds = buckets
        histogram = HistogramMetricFamily("headrace_job_duration_seconds", "Run time of ended attempts")
        histogram.add_metric(
            [],
            buckets=[
                *((str(float(b)), c) for b, c in zip(DURATION_BUCKETS, cumulative, strict=True)),
                ("+Inf", total),
            ],
            sum_value=float(seconds),
        )
        yield histogram
        yield GaugeMetricFamily(
            "headrace_executors_active", "Executors seen within the heartbeat timeout", value=active
        )


def exposition(
    engine: Engine, *, heartbeat_timeout: float, now: datetime, openmetrics: bool
) -> tuple[bytes, str]:
    """The metrics as Prometheus text (0.0.4) or OpenMetrics, with the matching content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(engine, active_since=now - timedelta(seconds=heartbeat_timeout)))
    if openmetrics:
        return generate_openmetrics(registry), OPENMETRICS_CONTENT_TYPE
    return generate_latest(registry), CONTENT_TYPE_LATEST
