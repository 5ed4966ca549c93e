"""``GET /pluginsv2/headrace/job-monitoring/v1/stream``: the event log as Server-Sent Events.

Served natively on the api-server's event loop (not through a WSGI thread per client): each client
is a :class:`~headrace.api.streams.fanout.Subscriber` of the process's one log reader. With
``Last-Event-ID`` (or ``?last_event_id=``) the client first gets what it missed, read from the log,
then the live events; without it, only events stored after it connected. Every event is one
``id: <log id>`` + ``data: <json>`` message (no ``event:`` name, so ``EventSource.onmessage`` sees
it); a ``: ping`` comment keeps idle connections open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

from headrace import config
from headrace.api import security
from headrace.api.errors import ApiError, RequestValidationError, Unauthorized
from headrace.api.scopes import Scope
from headrace.api.streams import fanout
from headrace.api.streams.common import request_id, send_json_error

log = logging.getLogger(__name__)

PATH = "/v1/stream"  # below the job-monitoring base
PERMISSION = security.view(AccessView.JOBS, Scope.READ)
ENTITY_TYPES = ("job", "subjob")
_clients = 0  # live SSE clients of this process


@dataclass(frozen=True)
class Filters:
    entity_type: str | None = None
    app_name: str | None = None  # contained in the event's app name
    site_id: str | None = None

    def accepts(self, event: Any) -> bool:
        return (
            (self.entity_type is None or event.entity_type == self.entity_type)
            and (self.site_id is None or event.site_id == self.site_id)
            and (self.app_name is None or self.app_name in (event.app_name or ""))
        )


def parse_query(query_string: bytes) -> tuple[Filters, int | None]:
    """The filters and ``last_event_id`` of the query; RequestValidationError names each bad one."""
    query = {k: v[-1] for k, v in parse_qs(query_string.decode("latin-1"), keep_blank_values=True).items()}
    problems = []
    unknown = sorted(set(query) - {"entity_type", "app_name", "site_id", "last_event_id"})
    problems += [{"field": name, "message": "unknown parameter"} for name in unknown]
    entity_type = query.get("entity_type") or None
    if entity_type is not None and entity_type not in ENTITY_TYPES:
        problems.append({"field": "entity_type", "message": f"must be one of {', '.join(ENTITY_TYPES)}"})
    for name, limit in (("app_name", 250), ("site_id", 100)):
        if len(query.get(name, "")) > limit:
            problems.append({"field": name, "message": f"at most {limit} characters"})
    last_event_id = None
    if query.get("last_event_id"):
        last_event_id = _event_id(query["last_event_id"])
        if last_event_id is None:
            problems.append({"field": "last_event_id", "message": "must be a non-negative integer"})
    if problems:
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise RequestValidationError(f"Validation failed: {summary}", details=problems)
    filters = Filters(entity_type, query.get("app_name") or None, query.get("site_id") or None)
    return filters, last_event_id


def _event_id(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


# Every client of the process gets the same bytes for one event: encoded once, for the newest ones.
_FRAMES: OrderedDict[int, bytes] = OrderedDict()
_FRAMES_KEPT = 4096


def frame(event: Any) -> bytes:
    """One SSE message: the log id, then the event's JSON on one ``data:`` line."""
    encoded = _FRAMES.get(event.id)
    if encoded is None:
        data = json.dumps(event.to_stream(), separators=(",", ":"), ensure_ascii=False, default=str)
        encoded = _FRAMES[event.id] = f"id: {event.id}\ndata: {data}\n\n".encode()
        if len(_FRAMES) > _FRAMES_KEPT:
            _FRAMES.popitem(last=False)
    return encoded


async def serve(scope: dict, receive: Any, send: Any) -> None:
    global _clients
    headers = security._asgi_headers(scope)
    try:
        if scope.get("method") != "GET":
            error = ApiError("Method not allowed", code="METHOD_NOT_ALLOWED", headers={"Allow": "GET"})
            error.status = 405
            raise error
        principal = await security.authenticate_asgi(scope)
        if principal is None:
            raise Unauthorized()
        await security.enforce_async(PERMISSION, principal)
        filters, last_event_id = parse_query(scope.get("query_string", b""))
        if last_event_id is None and headers.get("last-event-id"):
            last_event_id = _event_id(headers["last-event-id"])
            if last_event_id is None:
                raise RequestValidationError.for_field("Last-Event-ID", "must be a non-negative integer")
        if _clients >= config.stream_max_clients():
            error = ApiError(
                "Too many stream clients on this server; retry later",
                code="SERVICE_UNAVAILABLE",
                headers={"Retry-After": "5"},
            )
            error.status = 503
            raise error
    except ApiError as exc:
        await send_json_error(send, headers, exc)
        return
    except Exception:
        log.exception("The event stream could not start")
        await send_json_error(send, headers, ApiError())
        return
    _clients += 1
    try:
        await _stream(receive, send, headers, filters, last_event_id)
    finally:
        _clients -= 1


async def _stream(
    receive: Any, send: Any, headers: dict[str, str], filters: Filters, last_event_id: int | None
) -> None:
    hub = fanout.events()
    subscriber = fanout.Batch(accepts=filters.accepts)
    hub.add(subscriber)
    disconnected = asyncio.ensure_future(_wait_disconnect(receive))
    disconnected.add_done_callback(lambda _: subscriber.wake())
    heartbeat: _Heartbeat | None = None
    try:
        try:
            start = await hub.start_position()
        except RuntimeError as exc:
            log.exception("The event stream could not start")
            error = ApiError(str(exc), code="SERVICE_UNAVAILABLE")
            error.status = 503
            await send_json_error(send, headers, error)
            return
        floor = hub.floor()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-accel-buffering", b"no"),
                    (b"x-request-id", request_id(headers).encode()),
                ],
            }
        )
        await _body(send, b"retry: 2000\n\n")
        sent = set()
        if last_event_id is not None:
            sent = await _catch_up(send, filters, last_event_id, start, floor, disconnected)
        heartbeat = _Heartbeat(subscriber, config.stream_heartbeat_interval())
        # One wake-up per poll that had events for this client (all of them go out in one write), or
        # when a heartbeat is due, or when the client leaves: no timer or task per wait.
        while not disconnected.done():
            await subscriber.wait()
            if disconnected.done() or subscriber.dropped:
                break
            frames = [frame(event) for event in subscriber.take() if event.id not in sent]
            if frames:
                await _body(send, b"".join(frames))
                heartbeat.wrote()
            elif heartbeat.due:
                await _body(send, b": ping\n\n")
                heartbeat.wrote()
        if not disconnected.done():
            await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        hub.remove(subscriber)
        disconnected.cancel()
        if heartbeat is not None:
            heartbeat.cancel()


class _Heartbeat:
    """Wakes the client when ``interval`` seconds passed since it last wrote (``due`` then): one timer
    per client and interval, re-armed from the last write, not one per wait."""

    def __init__(self, subscriber: fanout.Batch, interval: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.subscriber, self.interval = subscriber, interval
        self.last = self.loop.time()
        self.due = False
        self.handle = self.loop.call_at(self.last + interval, self._tick)

    def wrote(self) -> None:
        self.last, self.due = self.loop.time(), False

    def _tick(self) -> None:
        now = self.loop.time()
        if now >= self.last + self.interval - 0.001:
            self.due = True
            self.subscriber.wake()
            self.handle = self.loop.call_at(now + self.interval, self._tick)
        else:
            self.handle = self.loop.call_at(self.last + self.interval, self._tick)

    def cancel(self) -> None:
        self.handle.cancel()


async def _catch_up(
    send: Any, filters: Filters, after: int, start: int, floor: int, disconnected: asyncio.Future
) -> set[int]:
    """Send the stored events after ``after`` up to ``start`` (later ones come live); the ids sent
    that the live part could repeat (late rows above ``floor``)."""
    read = fanout.log_readers()[0]
    sent: set[int] = set()
    while after < start and not disconnected.done():
        page = await asyncio.to_thread(read, after)
        for event in page:
            if event.id > start:
                return sent
            if filters.accepts(event):
                await _body(send, frame(event))
                if event.id > floor:
                    sent.add(event.id)
        if len(page) < fanout.PAGE:
            break
        after = page[-1].id
    return sent


async def _wait_disconnect(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _body(send: Any, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})
