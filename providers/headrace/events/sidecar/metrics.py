"""The sidecar's Prometheus metrics, in a registry of its own (nothing global, one per sidecar)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from headrace.events.sidecar.spool import Spool

__all__ = ["CONTENT_TYPE_LATEST", "SidecarMetrics"]


class SidecarMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter("headrace_sidecar_events_received", "Valid events the app sent", registry=r)
        self.rejected = Counter(
            "headrace_sidecar_events_rejected", "Events refused locally as invalid", registry=r
        )
        self.forwarded = Counter(
            "headrace_sidecar_events_forwarded", "Events the upstream took directly", registry=r
        )
        self.spooled = Counter("headrace_sidecar_events_spooled", "Events written to the spool", registry=r)
        self.replayed = Counter(
            "headrace_sidecar_events_replayed", "Spooled events the upstream took", registry=r
        )
        self.dead_lettered = Counter(
            "headrace_sidecar_events_dead_lettered",
            "Events the upstream rejected as invalid (moved to the dead-letter file)",
            registry=r,
        )
        self.spool_full = Counter(
            "headrace_sidecar_spool_full", "Requests refused with 503 because the spool was full", registry=r
        )
        self.upstream_errors = Counter(
            "headrace_sidecar_upstream_errors",
            "Upstream calls that did not deliver, by reason",
            ["reason"],
            registry=r,
        )
        self.spool_bytes = Gauge(
            "headrace_sidecar_spool_bytes", "Bytes of spool segments on disk", registry=r
        )
        self.spool_events = Gauge("headrace_sidecar_spool_events", "Events waiting in the spool", registry=r)

    def bind_spool(self, spool: Spool) -> None:
        self.spool_bytes.set_function(lambda: spool.size_bytes)
        self.spool_events.set_function(lambda: len(spool))

    def render(self) -> bytes:
        return generate_latest(self.registry)
