"""Request statistics shared by every api-server worker: counts, latency buckets and recent times.

One row per (route, method, status, latency bucket) in ``headrace_request_stat``; a request adds one
to its row with one upsert (``INSERT .. ON CONFLICT DO UPDATE``: the primary key, not a check
first, decides between two workers' first requests), in the request's own database session.
``headrace_request_sample`` keeps the response times of the last hour (at least the newest
``keep_recent``), from which :meth:`RequestStats.timeline` counts requests per minute. Counting
in the database rather than in a process-local dict is what makes ``/monitoring/metrics`` answer
the same whichever worker of ``airflow api-server --workers N`` takes the request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

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
WINDOW = timedelta(hours=1)  # samples this recent are kept, for the per-minute timeline
# ... but at most this many (an hour at ~28 requests a second; ~40 bytes a row): beyond it the oldest
# go first, and the timeline says from when it is complete instead of showing too few requests.
MAX_WINDOW_SAMPLES = 100_000


_INSERT_SAMPLE = insert(SAMPLES)
_UPSERTS: dict[str, Any] = {}  # dialect name -> the upsert of a stat row


def _upsert(connection: Connection) -> Any:
    """The row's upsert in the connection's dialect, built once: building it per request cost more
    than running it (~1.5 ms of SQLAlchemy's coercions against ~0.5 ms of execution)."""
    name = connection.dialect.name
    if name not in _UPSERTS:
        upsert = dialect.insert(connection, STATS)
        _UPSERTS[name] = upsert.on_conflict_do_update(
            index_elements=[STATS.c.route, STATS.c.method, STATS.c.status_code, STATS.c.le_ms],
            set_={
                "count": STATS.c.count + 1,
                "duration_ms_sum": STATS.c.duration_ms_sum + upsert.excluded.duration_ms_sum,
                "last_at": upsert.excluded.last_at,
            },
        )
    return _UPSERTS[name]


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


@dataclass(frozen=True)
class Minute:
    """Requests answered in one minute from ``start``; ``None`` figures: not known (not counted then)."""

    start: datetime
    requests: int | None
    average_ms: float | None = None
    p95_ms: float | None = None
    max_ms: float | None = None


@dataclass(frozen=True)
class Timeline:
    """Requests per minute of the last hour, oldest first; the last minute is the current one, so far.

    ``complete_since``: from then on every request is counted (earlier minutes are ``None``): the
    window's start, or later after a reset, on a new deployment, or when the busiest hour outgrew
    ``MAX_WINDOW_SAMPLES``; ``None`` when nothing is counted."""

    start: datetime
    end: datetime
    minutes: list[Minute]
    complete_since: datetime | None


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]  # nearest rank


def _aware(moment: datetime) -> datetime:
    """A naive datetime from the database (SQLite) is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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
        connection.execute(
            _upsert(connection),
            {
                "route": route[:300],
                "method": method[:10],
                "status_code": status_code,
                "le_ms": bucket_of(duration_ms),
                "count": 1,
                "duration_ms_sum": duration_ms,
                "first_at": now,
                "last_at": now,
            },
        )
        sample = connection.execute(_INSERT_SAMPLE, {"at": now, "duration_ms": duration_ms})
        newest = sample.inserted_primary_key[0]
        if newest and newest % _TRIM_EVERY == 0:
            self._trim(connection, newest, now)
        return None

    def _trim(self, connection: Connection, newest: int, now: datetime) -> None:
        """Delete the samples older than the window, except the newest ``keep_recent``, and beyond
        ``MAX_WINDOW_SAMPLES`` the oldest. Ids grow with time, so the cut is one id, found by walking
        the primary key from the oldest row: only the rows due for deletion are read."""
        keep_from = newest - self.keep_recent + 1
        first_in_window = connection.execute(
            select(SAMPLES.c.id).where(SAMPLES.c.at >= now - WINDOW).order_by(SAMPLES.c.id).limit(1)
        ).scalar()
        if first_in_window is not None:
            keep_from = min(keep_from, first_in_window)
        keep_from = max(keep_from, newest - MAX_WINDOW_SAMPLES + 1)
        connection.execute(delete(SAMPLES).where(SAMPLES.c.id < keep_from))

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

    def timeline(self, now: datetime) -> Timeline:
        """Requests per minute over the hour up to ``now`` (60 minutes, the last one so far), with
        the mean, 95th percentile and slowest response time of each minute (ms)."""
        first = now.replace(second=0, microsecond=0) - timedelta(minutes=59)
        with self.engine.connect() as connection:
            samples = connection.execute(
                select(SAMPLES.c.at, SAMPLES.c.duration_ms).where(SAMPLES.c.at >= first, SAMPLES.c.at <= now)
            ).all()
            oldest = connection.execute(
                select(SAMPLES.c.id, SAMPLES.c.at).order_by(SAMPLES.c.id).limit(1)
            ).first()
            newest = connection.execute(select(func.max(SAMPLES.c.id))).scalar()
            since = connection.execute(select(func.min(STATS.c.first_at))).scalar()
        complete = _complete_since(first, oldest, newest, since)
        per_minute: list[list[float]] = [[] for _ in range(60)]
        for at, duration_ms in samples:
            index = int((_aware(at) - first).total_seconds() // 60)
            if 0 <= index < 60:
                per_minute[index].append(float(duration_ms))
        minutes = []
        for index, times in enumerate(per_minute):
            start = first + timedelta(minutes=index)
            if complete is None or complete >= start + timedelta(minutes=1):
                minutes.append(Minute(start, None))  # before counting began: not known
            elif not times:
                minutes.append(Minute(start, 0))
            else:
                average, p95, slowest = sum(times) / len(times), _p95(times), max(times)
                minutes.append(Minute(start, len(times), round(average, 2), round(p95, 2), round(slowest, 2)))
        return Timeline(start=first, end=now, minutes=minutes, complete_since=complete)

    def reset(self) -> int:
        """Forget every count and sample; the number of requests that had been counted."""
        with self.engine.begin() as connection:
            counted = connection.execute(select(func.coalesce(func.sum(STATS.c.count), 0))).scalar_one()
            connection.execute(delete(STATS))
            connection.execute(delete(SAMPLES))
        return int(counted)


def _complete_since(
    first: datetime, oldest: tuple[int, datetime] | None, newest: int | None, since: datetime | None
) -> datetime | None:
    """From when the kept samples are every request answered: a sample older than the window shows
    that nothing in it was trimmed; otherwise counting began at ``since`` (a reset, a new deployment),
    or later, at the oldest sample, when the window reached its cap (ids may have gaps: a cap is
    assumed a little early rather than too late)."""
    if since is None:
        return None
    begun = max(first, _aware(since))
    if oldest is None or _aware(oldest[1]) <= first:
        return begun
    capped = newest is not None and newest - oldest[0] + 1 >= MAX_WINDOW_SAMPLES - _TRIM_EVERY
    return max(begun, _aware(oldest[1])) if capped else begun


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
