"""``ws://<airflow>/pluginsv2/headrace/ws``: the workflows-api WebSocket, on raw ASGI messages.

The client authenticates first (``{"type": "auth", "token": <Airflow JWT or Headrace API key>}``
within ``AUTH_TIMEOUT`` s; else an ``error`` message and close code 1008), then subscribes to
``workflow_updates`` (all workflows, or one ``workflow_id``), ``agent_status`` and ``system_alert``.
Each subscribe / unsubscribe is acknowledged; a bad message gets an ``error`` message, not a close.
The messages themselves are computed once per process (workflows.py, alerts.py) and fanned out;
workflow updates only reach subscribers who may read that DAG. A client too slow to keep up is
closed (1013, try again later).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from headrace.api import security
from headrace.api.errors import ApiError
from headrace.api.streams import alerts, fanout, workflows

log = logging.getLogger(__name__)

AUTH_TIMEOUT = 10.0
CHANNELS = ("workflow_updates", "agent_status", "system_alert")
MESSAGE_TYPES = {
    "workflow_updates": "workflow_status",
    "agent_status": "agent_status",
    "system_alert": "system_alert",
}
PERMISSION_TTL = 60.0  # seconds a per-DAG read decision is reused


class _Client:
    def __init__(self, send: Any, principal: security.Principal) -> None:
        self.send = send
        self.principal = principal
        self.channels: dict[str, set[str] | None] = {}  # channel -> workflow ids (None: all)
        self.subscriber = fanout.Subscriber(accepts=self.wants)
        self._readable: dict[str, tuple[bool, float]] = {}

    def wants(self, message: dict[str, Any]) -> bool:
        for channel, ids in self.channels.items():
            if MESSAGE_TYPES[channel] == message.get("type"):
                return ids is None or message.get("workflow_id") in ids
        return False

    async def may_read(self, dag_id: str) -> bool:
        cached = self._readable.get(dag_id)
        if cached is not None and time.monotonic() - cached[1] < PERMISSION_TTL:
            return cached[0]
        try:
            await asyncio.to_thread(security.authorize_dag, self.principal, "GET", dag_id)
            allowed = True
        except ApiError:
            allowed = False
        self._readable[dag_id] = (allowed, time.monotonic())
        return allowed

    async def emit(self, message: dict[str, Any]) -> None:
        await self.send({"type": "websocket.send", "text": json.dumps(message, default=str)})

    async def error(self, code: str, message: str) -> None:
        await self.emit({"type": "error", "code": code, "message": message})


async def serve(scope: dict, receive: Any, send: Any) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    principal = await _authenticate(receive, send)
    if principal is None:
        return
    client = _Client(send, principal)
    await client.emit({"type": "authenticated", "user": principal.username})
    forwarder = asyncio.ensure_future(_forward(client))
    try:
        while True:
            receiving = asyncio.ensure_future(receive())
            done, _ = await asyncio.wait({receiving, forwarder}, return_when="FIRST_COMPLETED")
            if forwarder in done:  # dropped as too slow, or failed
                receiving.cancel()
                await send({"type": "websocket.close", "code": 1013, "reason": "Too slow; reconnect"})
                return
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                return
            await _handle(
                client, message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")
            )
    finally:
        forwarder.cancel()
        for hub in (workflows.hub(), alerts.monitor()):
            hub.remove(client.subscriber)


async def _authenticate(receive: Any, send: Any) -> security.Principal | None:
    async def refuse(code: str, text: str) -> None:
        await send(
            {"type": "websocket.send", "text": json.dumps({"type": "error", "code": code, "message": text})}
        )
        await send({"type": "websocket.close", "code": 1008, "reason": text[:100]})

    try:
        message = await asyncio.wait_for(receive(), AUTH_TIMEOUT)
    except TimeoutError:
        await refuse("AUTHENTICATION_TIMEOUT", f"Send an auth message within {AUTH_TIMEOUT:g} s")
        return None
    if message["type"] == "websocket.disconnect":
        return None
    body = _json(message.get("text"))
    token = body.get("token") if body and body.get("type") == "auth" else None
    if not isinstance(token, str) or not token.strip():
        await refuse("AUTHENTICATION_REQUIRED", 'The first message must be {"type": "auth", "token": ...}')
        return None
    try:
        return await security.principal_from_credential(token)
    except ApiError as exc:
        await refuse(exc.code, exc.message)
    except Exception:
        log.exception("WebSocket authentication failed")
        await refuse("INTERNAL_ERROR", "Authentication failed")
    return None


def _json(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _handle(client: _Client, text: str) -> None:
    body = _json(text)
    if body is None:
        await client.error("INVALID_MESSAGE", "Messages are JSON objects with a 'type'")
        return
    kind, channel = body.get("type"), body.get("channel")
    if kind == "ping":
        await client.emit({"type": "pong"})
        return
    if kind not in ("subscribe", "unsubscribe"):
        await client.error("UNKNOWN_MESSAGE_TYPE", f"Unknown message type {kind!r}")
        return
    if channel not in CHANNELS:
        await client.error("UNKNOWN_CHANNEL", f"Unknown channel {channel!r}; one of {', '.join(CHANNELS)}")
        return
    workflow_id = body.get("workflow_id")
    if workflow_id is not None and (channel != "workflow_updates" or not isinstance(workflow_id, str)):
        await client.error("INVALID_MESSAGE", "'workflow_id' (a string) only goes with 'workflow_updates'")
        return
    hub = workflows.hub() if channel == "workflow_updates" else alerts.monitor()
    if kind == "subscribe":
        if workflow_id is None:
            client.channels[channel] = None
        elif channel not in client.channels or client.channels[channel] is not None:
            client.channels.setdefault(channel, set()).add(workflow_id)  # type: ignore[union-attr]
        hub.add(client.subscriber)
        await client.emit({"type": "subscribed", "channel": channel, "workflow_id": workflow_id})
        if channel == "agent_status":
            for message in alerts.monitor().snapshot():
                client.subscriber.offer(message)
        return
    ids = client.channels.get(channel)
    if workflow_id is not None and ids:
        ids.discard(workflow_id)
    if workflow_id is None or not ids:
        client.channels.pop(channel, None)
    if not any(
        (workflows.hub() if c == "workflow_updates" else alerts.monitor()) is hub for c in client.channels
    ):
        hub.remove(client.subscriber)
    await client.emit({"type": "unsubscribed", "channel": channel, "workflow_id": workflow_id})


async def _forward(client: _Client) -> None:
    """Send what the hubs queue for this client, until it is dropped as too slow."""
    while True:
        message = await fanout.next_item(client.subscriber, 30.0)
        if message is None:
            continue
        if fanout.is_closed(message):
            return
        if message.get("type") == "workflow_status" and not await client.may_read(message["workflow_id"]):
            continue
        await client.emit(message)
