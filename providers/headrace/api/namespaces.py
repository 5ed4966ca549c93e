"""API namespaces: which contract each part of the API follows, and how it answers errors."""

from __future__ import annotations

from enum import Enum


class ErrorStyle(Enum):
    """The three error shapes of the contracts (see ``shared/design/API.md``)."""

    ENVELOPE = "envelope"  # lakehouse-api: {"success": false, "error": "<message>"}
    OBJECT = "object"  # pipelines-api, workflows-api: {"error": {"code", "message", "details", ...}}
    CONTEXT = "context"  # job-queue-api: {"error": "<message>", "context": {...}}


class Namespace(Enum):
    """One group of routes; the value is the name used in ``[headrace] rate_limits`` and OpenAPI tags."""

    HEALTH = "health"
    META = "meta"
    AUTH = "auth"
    CATALOG = "catalog"
    UPLOAD = "upload"
    INGESTION = "ingestion"
    QUERY = "query"
    MONITORING = "monitoring"
    PIPELINES = "pipelines"
    CONNECTORS = "connectors"
    WEBHOOKS = "webhooks"
    WORKFLOWS = "workflows"
    AGENTS = "agents"
    METRICS = "metrics"
    JOBS = "jobs"
    EVENTS = "events"
    STREAM = "stream"

    @property
    def error_style(self) -> ErrorStyle:
        if self in _OBJECT_STYLE:
            return ErrorStyle.OBJECT
        if self in _CONTEXT_STYLE:
            return ErrorStyle.CONTEXT
        return ErrorStyle.ENVELOPE

    @property
    def wraps_data(self) -> bool:
        """lakehouse-api namespaces put successful answers in ``{"success": true, "data": ...}``."""
        return self.error_style is ErrorStyle.ENVELOPE and self not in (Namespace.HEALTH, Namespace.META)

    @classmethod
    def for_path(cls, path: str) -> Namespace:
        """Best guess for a path no route matched, from its first segment (``/jobs/x`` -> JOBS)."""
        segment = path.strip("/").split("/", 1)[0].split(":", 1)[0]
        return _SEGMENTS.get(segment, cls.META)


_OBJECT_STYLE = {
    Namespace.PIPELINES,
    Namespace.CONNECTORS,
    Namespace.WEBHOOKS,
    Namespace.WORKFLOWS,
    Namespace.AGENTS,
}
_CONTEXT_STYLE = {Namespace.JOBS, Namespace.EVENTS}

_SEGMENTS = {
    "health": Namespace.HEALTH,
    "healthz": Namespace.HEALTH,
    "openapi.json": Namespace.META,
    "auth": Namespace.AUTH,
    "catalog": Namespace.CATALOG,
    "upload": Namespace.UPLOAD,
    "ingestion": Namespace.INGESTION,
    "query": Namespace.QUERY,
    "nl-query": Namespace.QUERY,
    "monitoring": Namespace.MONITORING,
    "pipelines": Namespace.PIPELINES,
    "connectors": Namespace.CONNECTORS,
    "connectors-ai": Namespace.CONNECTORS,
    "data": Namespace.CONNECTORS,
    "storage": Namespace.CONNECTORS,
    "observability": Namespace.CONNECTORS,
    "webhooks": Namespace.WEBHOOKS,
    "workflows": Namespace.WORKFLOWS,
    "agents": Namespace.AGENTS,
    "data-sources": Namespace.AGENTS,
    "metrics": Namespace.METRICS,
    "jobs": Namespace.JOBS,
    "admin": Namespace.JOBS,
    "ingest": Namespace.EVENTS,
    "stream": Namespace.STREAM,
}
