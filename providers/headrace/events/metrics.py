"""Prometheus metrics of the event log, on their own registry (``GET /job-monitoring/metrics``)."""

from __future__ import annotations

import collections

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)
INGESTED = Counter(
    "headrace_events_ingested_total", "Events stored in the event log", ["source", "kind"], registry=REGISTRY
)
DUPLICATES = Counter(
    "headrace_events_duplicates_total",
    "Events accepted as repeats of a stored idempotency key",
    ["source"],
    registry=REGISTRY,
)
REJECTED = Counter("headrace_events_rejected_total", "Events refused by validation", registry=REGISTRY)
BATCH_SIZE = Histogram(
    "headrace_events_batch_size",
    "Events per append",
    buckets=(1, 10, 100, 500, 1000, 5000, 10000),
    registry=REGISTRY,
)
LATENCY = Histogram(
    "headrace_events_append_seconds",
    "Seconds per append (store, fold, webhooks)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)


def observe(source: str, stored_kinds: list[str], duplicates: int, size: int, seconds: float) -> None:
    for kind, n in collections.Counter(stored_kinds).items():
        INGESTED.labels(source, kind).inc(n)
    if duplicates:
        DUPLICATES.labels(source).inc(duplicates)
    BATCH_SIZE.observe(size)
    LATENCY.observe(seconds)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
