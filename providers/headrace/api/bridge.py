"""Serve the Headrace API to the api-server through a2wsgi, which streams request bodies.

Airflow mounts Flask plugins at ``/pluginsv2`` with Starlette's ``WSGIMiddleware`` (deprecated by
Starlette itself), which reads the whole request body into memory, growing a ``bytes`` object piece
by piece: a 100 MiB upload took 11 s and 200 MiB of memory there, against 0.25 s and about 1 MiB
through ``a2wsgi`` (benchmarks/upload.py). This root middleware, registered by the plugin, hands
requests for our base path to the same Flask app through ``a2wsgi`` instead; every other request,
including other plugins', goes the usual way.

The live streams (SSE ``/job-monitoring/v1/stream`` and the ``/ws`` WebSocket) are answered here
natively on the event loop (api/streams/) before that: a WSGI thread per open stream would soon
exhaust the thread pool that every other request needs.

Request bodies reach the WSGI thread through :class:`~headrace.api.read_ahead.ReadAhead`, which reads
them on the loop ahead of the thread, so that the socket and the thread work at the same time.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware

from headrace.api import background, blueprint, streams
from headrace.api.read_ahead import ReadAhead

PLUGINS_MOUNT = "/pluginsv2"


class StreamingPluginBridge:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._wsgi: WSGIMiddleware | None = None
        background.start()  # only the api-server builds this middleware (see api/background.py)

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            handler = streams.handler_for(scope, scope.get("root_path", "") + PLUGINS_MOUNT)
            if handler is not None:
                await handler(scope, receive, send)
                return
        flask_app = blueprint.registered_app()
        if scope["type"] == "http" and flask_app is not None:
            mount = scope.get("root_path", "") + PLUGINS_MOUNT
            if any(blueprint.under(scope["path"], mount + base) for base in blueprint.BASE_PATHS):
                if self._wsgi is None:
                    self._wsgi = WSGIMiddleware(flask_app)
                ahead = ReadAhead(receive)
                try:
                    await self._wsgi({**scope, "root_path": mount}, ahead, send)
                finally:
                    ahead.close()
                return
        await self.app(scope, receive, send)
