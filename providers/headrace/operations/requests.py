"""Request statistics shared by every api-server worker: counts, latency buckets and recent times.

One row per (route, method, status, latency bucket) in ``headrace_request_stat``; a request adds one
to its row with one upsert (``INSERT .. ON CONFLICT DO UPDATE``: the primary key, not a check
first, decides between two workers' first requests), in the request's own database session.
``headrace_request_sample`` keeps the newest response times. Counting
in the database rather than in a process-local dict is what makes ``/monitoring/metrics`` answer
the same whichever worker of ``airflow api-server --workers N`` takes the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.engine import Connection

from headrace.db import dialect
from headrace.db.models import RequestSample, RequestStat

STATS = RequestStat.__table__
SAMPLES = RequestSample.__table__
BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
INF = -1  # le_ms of the +Inf bucket
UNMATCHED = "<unmatched>"  # the route label of a request no route matched (404, 405)
_TRIM_EVERY = 20  # samples: delete the old ones every this many inserts


def bucket_of(duration_ms: float) -> int:
    return next((bound for bound in BUCKETS_MS if duration_ms <= bound), INF)


def succeeded(status_code: int) -> bool:
    """A request that succeeded in the contract's sense: any answer below 400."""
    return status_code < 400


@dataclass
class EndpointStats:
    """Totals of one route and method."""

    route: str
    method: str
    total: int = 0
    success: int = 0
    failed: int = 0
    duration_ms_sum: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)
    buckets: dict[int, int] = field(default_factory=dict)  # le_ms -> requests in that bucket (not cumulative)

    @property
    def average_ms(self) -> float | None:
        return self.duration_ms_sum / self.total if self.total else None


@dataclass
class Summary:
    """Every endpoint's totals, the overall totals and the newest response times (oldest first)."""

    endpoints: list[EndpointStats]
    recent_ms: list[float]
    since: datetime | None  # the first request counted (since the last reset)

    @property
    def total(self) -> int:
        return sum(e.total for e in self.endpoints)

    @property
    def success(self) -> int:
        return sum(e.success for e in self.endpoints)

    @property
    def failed(self) -> int:
        return sum(e.failed for e in self.endpoints)

    @property
    def average_ms(self) -> float | None:
        total = self.total
        return sum(e.duration_ms_sum for e in self.endpoints) / total if total else None


class RequestStats:
    """The statistics on one SQLAlchemy engine (the metadata database's)."""

    def __init__(self, engine: Engine, *, keep_recent: int = 100) -> None:
        self.engine = engine
        self.keep_recent = max(1, keep_recent)

    def record(
        self,
        route: str,
        method: str,
        status_code: int,
        duration_ms: float,
        now: datetime,
        *,
        connection: Connection | None = None,
    ) -> None:
        """Count one request: one upsert of its row (the primary key decides between two workers'
        first requests) and one sample, in ``connection``'s transaction or a transaction of its own."""
        if connection is None:
            with self.engine.begin() as own:
                return self.record(route, method, status_code, duration_ms, now, connection=own)
        upsert = dialect.insert(connection, STATS).values(
            route=route[:300],
            method=method[:10],
            status_code=status_code,
            le_ms=bucket_of(duration_ms),
            count=1,
            duration_ms_sum=duration_ms,
            first_at=now,
            last_at=now,
        )
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[STATS.c.route, STATS.c.method, STATS.c.status_code, STATS.c.le_ms],
                set_={
                    "count": STATS.c.count + 1,
                    "duration_ms_sum": STATS.c.duration_ms_sum + upsert.excluded.duration_ms_sum,
                    "last_at": upsert.excluded.last_at,
                },
            )
        )
        sample = connection.execute(insert(SAMPLES).values(at=now, duration_ms=duration_ms))
        newest = sample.inserted_primary_key[0]
        if newest and newest % _TRIM_EVERY == 0:
            connection.execute(delete(SAMPLES).where(SAMPLES.c.id <= newest - self.keep_recent))
        return None

    def summary(self) -> Summary:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(
                    STATS.c.route,
                    STATS.c.method,
                    STATS.c.status_code,
                    STATS.c.le_ms,
                    STATS.c.count,
                    STATS.c.duration_ms_sum,
                )
            ).all()
            since = connection.execute(select(func.min(STATS.c.first_at))).scalar()
            recent = connection.execute(
                select(SAMPLES.c.duration_ms).order_by(SAMPLES.c.id.desc()).limit(self.keep_recent)
            ).scalars()
            recent_ms = list(reversed([round(float(ms), 2) for ms in recent]))
        endpoints: dict[tuple[str, str], EndpointStats] = {}
        for route, method, status_code, le_ms, count, duration_sum in rows:
            stats = endpoints.setdefault((route, method), EndpointStats(route, method))
            stats.total += count
            stats.success += count if succeeded(status_code) else 0
            stats.failed += 0 if succeeded(status_code) else count
            stats.duration_ms_sum += float(duration_sum)
            stats.by_status[status_code] = stats.by_status.get(status_code, 0) + count
            stats.buckets[le_ms] = stats.buckets.get(le_ms, 0) + count
        ordered = sorted(endpoints.values(), key=lambda e: (e.route, e.method))
        return Summary(endpoints=ordered, recent_ms=recent_ms, since=since)

    def reset(self) -> int:
        """Forget every count and sample; the number of requests that had been counted."""
        with self.engine.begin() as connection:
            counted = connection.execute(select(func.coalesce(func.sum(STATS.c.count), 0))).scalar_one()
            connection.execute(delete(STATS))
            connection.execute(delete(SAMPLES))
        return int(counted)


class RequestCollector:
    """``prometheus_client`` collector of the statistics, read from the database when scraped."""

    def __init__(self, stats: RequestStats) -> None:
        self.stats = stats

    def collect(self) -> Iterator:
        summary = self.stats.summary()
        requests = CounterMetricFamily(
            "headrace_api_requests",
            "REST API requests answered, by route, method and status",
            labels=["route", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "headrace_api_request_duration_seconds",
            "Time to answer a REST API request, by route and method",
            labels=["route", "method"],
        )
        for endpoint in summary.endpoints:
            for status_code, count in sorted(endpoint.by_status.items()):
                requests.add_metric([endpoint.route, endpoint.method, str(status_code)], count)
            cumulative, buckets = 0, []
            for bound in BUCKETS_MS:
                cumulative += endpoint.buckets.get(bound, 0)
                buckets.append((str(bound / 1000), cumulative))
            buckets.append(("+Inf", endpoint.total))
            latency.add_metric(
                [endpoint.route, endpoint.method], buckets=buckets, sum_value=endpoint.duration_ms_sum / 1000
            )
        yield requests
        yield latency
