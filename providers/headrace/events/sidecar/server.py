"""The sidecar's HTTP face: the contract's Sidecar Agent API on stdlib ``ThreadingHTTPServer``.

Events are validated here with the same pydantic model as the upstream, so an app learns about a
bad field at once (400 naming the fields) and an invalid event is never spooled. A 200 means the
event is at the upstream or fsync'd in the spool; a full spool is a 503 with ``Retry-After`` (the
app retries), never a silent drop.
"""

from __future__ import annotations

import json
import logging
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from headrace import __version__
from headrace.events.model import MonitoringEvent
from headrace.events.sidecar.forwarder import Forwarder
from headrace.events.sidecar.metrics import CONTENT_TYPE_LATEST
from headrace.events.sidecar.spool import SpoolFull

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 10 * 1024**2
MAX_BATCH = 5000


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as ``[{"field": "entity.id", "message": ...}]``, like the upstream's."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "message": err["msg"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def validate(item: Any) -> list[dict[str, str]]:
    try:
        MonitoringEvent.model_validate(item)
    except ValidationError as exc:
        return field_errors(exc)
    return []


class _Error(Exception):
    def __init__(self, status: int, code: str, message: str, **context: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.context = status, code, message, context


class SidecarServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], forwarder: Forwarder, max_body: int = DEFAULT_MAX_BODY):
        self.forwarder = forwarder
        self.max_body = max_body
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: SidecarServer
    server_version = f"headrace-sidecar/{__version__}"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _error(self, err: _Error) -> None:
        payload = {
            "error": err.message,
            "context": err.context,
            "code": err.code,
            "request_id": self.headers.get("X-Request-ID") or uuid.uuid4().hex,
        }
        headers = {"Retry-After": "5"} if err.status == 503 else None
        if err.status in (411, 413, 415):
            self.close_connection = True  # the unread body must not be parsed as the next request
        self._json(err.status, payload, headers)

    def _body(self) -> Any:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise _Error(415, "UNSUPPORTED_MEDIA_TYPE", "send Content-Type: application/json")
        try:
            length = int(self.headers.get("Content-Length") or "")
        except ValueError:
            raise _Error(411, "LENGTH_REQUIRED", "a Content-Length header is required") from None
        if length > self.server.max_body:
            raise _Error(413, "PAYLOAD_TOO_LARGE", "body too large", max_bytes=self.server.max_body)
        try:
            return json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError) as exc:
            raise _Error(400, "INVALID_JSON", f"the body is not JSON: {exc}") from None

    # -- routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        fwd = self.server.forwarder
        if path == "/v1/healthz":
            self._json(
                200,
                {
                    "status": "ok",
                    "service": "sidecar-agent",
                    "version": __version__,
                    "spool_count": len(fwd.spool),
                    "spool_bytes": fwd.spool.size_bytes,
                    "spool_dir": str(fwd.spool.directory),
                    "upstream": fwd.state,
                },
            )
        elif path == "/metrics":
            self._send(200, fwd.metrics.render(), CONTENT_TYPE_LATEST)
        else:
            self._error(_Error(404, "NOT_FOUND", f"no route {path}"))

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        try:
            if path == "/v1/ingest/events":
                self._ingest(single=True)
            elif path == "/v1/ingest/events:batch":
                self._ingest(single=False)
            else:
                self.close_connection = True
                raise _Error(404, "NOT_FOUND", f"no route {path}")
        except _Error as err:
            self._error(err)

    def _ingest(self, single: bool) -> None:
        body = self._body()
        metrics = self.server.forwarder.metrics
        rejected: list[dict[str, Any]] = []
        if single:
            errors = validate(body)
            if errors:
                metrics.rejected.inc()
                raise _Error(400, "VALIDATION_ERROR", "invalid event", errors=errors)
            valid = [body]
        else:
            if not isinstance(body, list):
                raise _Error(400, "VALIDATION_ERROR", "the body must be a JSON array of events")
            if len(body) > MAX_BATCH:
                raise _Error(400, "BATCH_TOO_LARGE", f"at most {MAX_BATCH} events per batch")
            valid = []
            for index, item in enumerate(body):
                errors = validate(item)
                if errors:
                    rejected.append({"index": index, "errors": errors})
                else:
                    valid.append(item)
            metrics.rejected.inc(len(rejected))
        metrics.received.inc(len(valid))
        try:
            forwarded, spooled, dead = self.server.forwarder.submit(valid)
        except SpoolFull as exc:
            metrics.spool_full.inc()
            raise _Error(503, "SPOOL_FULL", f"upstream unavailable and {exc}; retry later") from None
        answer: dict[str, Any] = {"ok": not rejected and not dead, "forwarded": forwarded, "spooled": spooled}
        if dead:
            answer["dead_lettered"] = dead
        if not single:
            answer["rejected"] = rejected
        self._json(HTTPStatus.OK, answer)
