"""The live streams, served natively on the api-server's event loop by the plugin's root middleware.

- ``GET /pluginsv2/headrace/job-monitoring/v1/stream``: Server-Sent Events of the event log (sse.py);
- ``ws://<airflow>/pluginsv2/headrace/ws``: the workflows-api WebSocket (websocket.py).

Both read through one shared reader per process (fanout.py), so a thousand clients cost one query.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from headrace.api import registry

WS_PATH = registry.ROOT + "/ws"
SSE_PATH = registry.ROOT + registry.MONITORING_BASE + "/v1/stream"

Handler = Callable[[dict, Any, Any], Awaitable[None]]


def handler_for(scope: dict, mount: str) -> Handler | None:
    """The stream handler for this ASGI scope, None when it is not a stream (``mount``: /pluginsv2)."""
    path = scope.get("path", "")
    if scope["type"] == "http" and path.rstrip("/") == mount + SSE_PATH:
        from headrace.api.streams import sse

        return sse.serve
    if scope["type"] == "websocket" and path.rstrip("/") == mount + WS_PATH:
        from headrace.api.streams import websocket

        return websocket.serve
    return None
