"""The shared request statistics on real databases: exact counts from concurrent writers (each with
an engine of its own, as api-server workers have), buckets, recent times, and reset."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from headrace.db.models import RequestSample, RequestStat
from headrace.operations import requests as requests_module
from headrace.operations.requests import INF, RequestCollector, RequestStats, bucket_of
from tests.postgres import temporary_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stats.db'}"
        return
    with temporary_database("headrace_stats") as database:
        yield database


def _stats(url: str, **options) -> RequestStats:
    engine = sa.create_engine(url)
    RequestStat.__table__.create(engine, checkfirst=True)
    RequestSample.__table__.create(engine, checkfirst=True)
    return RequestStats(engine, **options)


def test_buckets_follow_their_upper_bounds():
    assert (bucket_of(0.2), bucket_of(5), bucket_of(5.01), bucket_of(10_000), bucket_of(10_001)) == (
        5,
        5,
        10,
        10_000,
        INF,
    )


def test_counts_per_route_method_and_status(url):
    stats = _stats(url, keep_recent=3)
    now = datetime.now(UTC)
    for ms, status in ((3, 200), (40, 200), (7, 404), (20_000, 500)):
        stats.record("/api/v1/jobs", "GET", status, ms, now)
    stats.record("/api/v1/jobs", "POST", 201, 12, now)

    summary = stats.summary()

    get, post = summary.endpoints
    assert (get.method, get.total, get.success, get.failed) == ("GET", 4, 2, 2)
    assert get.by_status == {200: 2, 404: 1, 500: 1}
    assert get.buckets == {5: 1, 50: 1, 10: 1, INF: 1}
    assert get.average_ms == pytest.approx((3 + 40 + 7 + 20_000) / 4)
    assert (post.total, post.success) == (1, 1)
    assert (summary.total, summary.success, summary.failed) == (5, 3, 2)
    assert summary.recent_ms == [7.0, 20000.0, 12.0]  # the newest three, oldest first
    assert summary.since is not None


def test_concurrent_workers_lose_no_request(url):
    """Four writers with their own engines count into one new row at once (the INSERT race)."""
    if url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers with a file lock; the race needs a server")
    writers = [_stats(url) for _ in range(4)]
    start = threading.Barrier(len(writers))
    errors: list[BaseException] = []

    def work(stats: RequestStats) -> None:
        try:
            start.wait()
            for _ in range(25):
                stats.record("/api/v1/health", "GET", 200, 1.0, datetime.now(UTC))
        except BaseException as exc:  # reported below, with the count
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert writers[0].summary().total == 100
    assert writers[3].summary().endpoints[0].total == 100


def test_reset_forgets_everything(url):
    stats = _stats(url)
    for _ in range(3):
        stats.record("/api/v1/x", "GET", 200, 1.0, datetime.now(UTC))

    assert stats.reset() == 3
    summary = stats.summary()
    assert (summary.total, summary.endpoints, summary.recent_ms, summary.since) == (0, [], [], None)


def _kept(stats: RequestStats) -> int:
    with stats.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(RequestSample.__table__)).scalar()


def test_samples_older_than_the_hour_are_trimmed(url):
    stats = _stats(url, keep_recent=5)
    for i in range(45):
        stats.record("/api/v1/x", "GET", 200, float(i), datetime.now(UTC) - timedelta(hours=2))
    assert _kept(stats) == 45  # recorded two hours ago, when they were the last hour's

    for i in range(45):  # the next requests trim them, every 20 inserts, and keep the last hour's
        stats.record("/api/v1/x", "GET", 200, 100.0 + i, datetime.now(UTC))

    assert _kept(stats) == 45
    assert stats.summary().recent_ms == [140.0, 141.0, 142.0, 143.0, 144.0]
    later = datetime.now(UTC) + timedelta(hours=2)
    for _ in range(10):  # two hours on, the next trim drops the 45 (now over an hour old)
        stats.record("/api/v1/x", "GET", 200, 2.0, later)
    assert _kept(stats) == 10


def test_the_timeline_counts_requests_per_minute_of_the_last_hour(url):
    stats = _stats(url)
    now = datetime(2026, 3, 4, 10, 30, 40, tzinfo=UTC)
    for minutes_ago, ms in ((90, 1.0), (59, 10.0), (59, 30.0), (12, 5.0), (0, 7.0), (0, 9.0), (0, 200.0)):
        stats.record("/api/v1/x", "GET", 200, ms, now - timedelta(minutes=minutes_ago, seconds=30))

    timeline = stats.timeline(now)

    assert len(timeline.minutes) == 60
    assert timeline.start == datetime(2026, 3, 4, 9, 31, tzinfo=UTC) and timeline.end == now
    assert timeline.complete_since == timeline.start  # a sample older than the hour: nothing trimmed
    first, last = timeline.minutes[0], timeline.minutes[-1]
    assert (first.start, first.requests, first.average_ms, first.max_ms) == (timeline.start, 2, 20.0, 30.0)
    assert (last.start, last.requests, last.p95_ms, last.max_ms) == (
        datetime(2026, 3, 4, 10, 30, tzinfo=UTC),
        3,
        200.0,
        200.0,
    )
    assert timeline.minutes[-13].requests == 1
    assert sum(m.requests for m in timeline.minutes) == 6  # the one 90 minutes ago is outside
    assert timeline.minutes[30].requests == 0 and timeline.minutes[30].average_ms is None


def test_minutes_before_counting_began_are_not_known(url):
    stats = _stats(url)
    now = datetime.now(UTC)
    assert stats.timeline(now).complete_since is None
    assert {m.requests for m in stats.timeline(now).minutes} == {None}

    stats.record("/api/v1/x", "GET", 200, 3.0, now - timedelta(minutes=10))  # e.g. just after a reset
    timeline = stats.timeline(now)

    assert timeline.complete_since == now - timedelta(minutes=10)
    assert [m.requests for m in timeline.minutes[-12:]] == [None, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert all(m.requests is None for m in timeline.minutes[:-11])


def test_a_window_beyond_its_cap_keeps_the_newest_and_says_from_when(url, monkeypatch):
    monkeypatch.setattr(requests_module, "MAX_WINDOW_SAMPLES", 50)
    stats = _stats(url, keep_recent=5)
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    for i in range(100):  # minutes -50 .. -1, two a minute
        stats.record("/api/v1/x", "GET", 200, 1.0, now - timedelta(minutes=50 - i // 2))

    timeline = stats.timeline(now)

    assert 50 <= _kept(stats) < 50 + 20
    assert timeline.complete_since is not None and timeline.complete_since >= now - timedelta(minutes=26)
    known = [m for m in timeline.minutes if m.requests is not None]
    assert known and all(m.requests == 2 for m in known[1:-1])  # never too few requests shown
    assert timeline.minutes[0].requests is None


def test_the_collector_exposes_cumulative_buckets(url):
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    stats = _stats(url)
    for ms in (1, 30, 30, 7000):
        stats.record("/api/v1/x", "GET", 200, ms, datetime.now(UTC))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RequestCollector(stats))

    families = {f.name: f for f in text_string_to_metric_families(generate_latest(registry).decode())}

    total = families["headrace_api_requests"].samples[0]
    assert total.labels == {"route": "/api/v1/x", "method": "GET", "status": "200"} and total.value == 4
    buckets = {
        s.labels["le"]: s.value
        for s in families["headrace_api_request_duration_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert (buckets["0.005"], buckets["0.05"], buckets["5.0"], buckets["10.0"], buckets["+Inf"]) == (
        1,
        3,
        3,
        4,
        4,
    )
    (sum_sample,) = [
        s for s in families["headrace_api_request_duration_seconds"].samples if s.name.endswith("_sum")
    ]
    assert sum_sample.value == pytest.approx(7.061)
