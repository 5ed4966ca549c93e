"""The shared request statistics on real databases: exact counts from concurrent writers (each with
an engine of its own, as api-server workers have), buckets, recent times, and reset."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from headrace.db.models import RequestSample, RequestStat
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


def test_old_samples_are_trimmed(url):
    stats = _stats(url, keep_recent=5)
    for i in range(45):
        stats.record("/api/v1/x", "GET", 200, float(i), datetime.now(UTC))

    with stats.engine.connect() as connection:
        kept = connection.execute(sa.select(sa.func.count()).select_from(RequestSample.__table__)).scalar()
    assert kept < 30  # trimmed every 20 inserts down to the newest 5
    assert stats.summary().recent_ms == [40.0, 41.0, 42.0, 43.0, 44.0]


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
