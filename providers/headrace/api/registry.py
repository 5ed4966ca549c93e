"""Declaring endpoints once: routing, validation, permissions, rate limits, envelopes and OpenAPI.

A route module decorates a plain function with :func:`endpoint`; :func:`bind` later turns every
declared endpoint into a Flask view on a blueprint. The same declarations produce the OpenAPI
document, so the document cannot drift from what is served.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from headrace.api import sessions
from headrace.api.errors import BadRequest, Conflict, RequestValidationError, UnsupportedMediaType
from headrace.api.namespaces import Namespace
from headrace.api.security import Permission, require_principal
from headrace.api.services import idempotency

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"

# The blueprint answers under ROOT; each contract's base sits below it, so that its clients keep their
# paths and change only the base URL (on the api-server: http://<airflow>/pluginsv2 + ROOT + base).
ROOT = "/headrace"
API_BASE = "/api/v1"  # lakehouse-api, pipelines-api, workflows-api, job-queue-api
MONITORING_BASE = "/job-monitoring"  # job-monitoring-api: /v1/ingest/events, /v1/jobs, ...
BASES = (API_BASE, MONITORING_BASE)

# JSON requests are small; uploads (multipart) set their own, larger limit.
MAX_JSON_BODY_BYTES = 10 * 1024 * 1024
# No request needs more; deeper documents break the parser, serialisation or the run conf later.
MAX_JSON_DEPTH = 64
JSON_MEDIA_TYPES = "application/json or application/*+json"
DATE_TIME_EXAMPLE = "2024-01-31T12:00:00Z"
# ISO 8601 as RFC 3339 writes it; the date alone means its midnight, no offset means UTC.
_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$"
)
_FLASK_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
# Each step of the store is a committed transaction of the request's one session.
_STORE = idempotency.IdempotencyStore(sessions=sessions.transaction)


@dataclass(frozen=True)
class Endpoint:
    """Everything known about one operation (one rule and one method)."""

    rule: str
    method: str
    namespace: Namespace
    summary: str
    handler: Callable[..., Any]
    permission: Permission | None  # None: public (health, login)
    body: type[BaseModel] | None = None  # a JSON body (application/json), documented by this model
    validate_body: bool = True  # False: the handler gets the parsed JSON and reports its problems itself
    query: type[BaseModel] | None = None
    form: type[BaseModel] | None = None  # multipart/form-data fields besides the files
    files: tuple[str, int] | None = None  # (form field of the files, most files accepted)
    max_body_bytes: Callable[[], int] | None = None  # a larger limit than JSON's, e.g. for uploads
    idempotent: bool = False  # honour an Idempotency-Key header: replay the first answer
    body_errors: Callable[[ValidationError], list[dict[str, str]]] | None = None  # contract wording
    response: Any = None  # a model, list[model], or None for an empty body
    status: int = 200
    wrap: bool | None = None  # None: the namespace decides
    errors: tuple[int, ...] = ()
    description: str = ""
    extra_responses: dict[int, str] = field(default_factory=dict)
    base: str = API_BASE  # one of BASES; ``rule`` is relative to it

    @property
    def name(self) -> str:
        return f"{self.namespace.value}_{self.handler.__name__}"

    @property
    def openapi_path(self) -> str:
        return _FLASK_PARAM.sub(r"{\1}", self.rule)

    @property
    def documented_path(self) -> str:
        """The path as docs/api.md lists it: relative to ``/api/v1``, or with its own base in front."""
        return self.openapi_path if self.base == API_BASE else self.base + self.openapi_path

    @property
    def path_params(self) -> list[str]:
        return _FLASK_PARAM.findall(self.rule)

    @property
    def wraps_data(self) -> bool:
        return self.namespace.wraps_data if self.wrap is None else self.wrap


ENDPOINTS: list[Endpoint] = []


def endpoint(rule: str, method: str, namespace: Namespace, *, summary: str, **options: Any):
    """Declare a function as the handler of ``method rule``.

    The handler is called with the path parameters, plus ``body`` / ``query`` (validated models) and
    ``principal`` when its signature asks for them. It returns a model, a list of models, a dict, a
    ``(value, status)`` pair or a Flask ``Response``.
    """

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        ENDPOINTS.append(
            Endpoint(
                rule=rule,
                method=method.upper(),
                namespace=namespace,
                summary=summary,
                handler=handler,
                description=inspect.cleandoc(handler.__doc__ or ""),
                **options,
            )
        )
        return handler

    return decorate


def endpoint_for(flask_endpoint: str | None, blueprint: Blueprint) -> Endpoint | None:
    if not flask_endpoint or not flask_endpoint.startswith(f"{blueprint.name}."):
        return None
    return blueprint.headrace_endpoints.get(flask_endpoint.split(".", 1)[1])


def bind(blueprint: Blueprint, limit_decorator: Callable[[Endpoint], Callable]) -> None:
    """Register every declared endpoint on ``blueprint``; ``limit_decorator`` adds its rate limit."""
    blueprint.headrace_endpoints = {}
    for spec in ENDPOINTS:
        view = limit_decorator(spec)(_make_view(spec))
        blueprint.add_url_rule(
            spec.base + spec.rule, endpoint=spec.name, view_func=view, methods=[spec.method]
        )
        blueprint.headrace_endpoints[spec.name] = spec


def _make_view(spec: Endpoint) -> Callable[..., Response]:
    wanted = inspect.signature(spec.handler).parameters

    @functools.wraps(spec.handler)
    def view(**path_args: Any) -> Response:
        kwargs: dict[str, Any] = dict(path_args)
        principal = None
        if spec.permission is not None:
            principal = require_principal()
            spec.permission.enforce(principal)
        if "principal" in wanted:
            kwargs["principal"] = principal
        if spec.query is not None:
            kwargs["query"] = _validate(spec.query, _query_args(spec.query), "query")
        if spec.body is not None:
            payload = _json_body()
            kwargs["body"] = (
                _validate(spec.body, payload, "body", spec.body_errors) if spec.validate_body else payload
            )
        if spec.form is not None:
            # Set before the body is parsed: a larger body is refused with a 413 as it streams in.
            request.max_content_length = spec.max_body_bytes() if spec.max_body_bytes else MAX_JSON_BODY_BYTES
            kwargs["form"] = _validate(spec.form, _form_fields(), "form")
            if spec.files is not None:
                kwargs["files"] = _uploaded_files(*spec.files)
        if spec.idempotent and (key := request.headers.get(IDEMPOTENCY_HEADER)):
            return _idempotent(spec, principal, key, lambda: _render(spec, spec.handler(**kwargs)))
        return _render(spec, spec.handler(**kwargs))

    view.__name__ = spec.name
    return view


def _json_body() -> Any:
    """The request's JSON document, under the limits every JSON route shares.

    The body must be declared JSON: an HTML form or a ``text/plain`` fetch reaches this API from any
    site without a CORS preflight, carrying the user's cookie. An empty body without a Content-Type
    is ``{}``, so that routes whose fields are all optional need no body.
    """
    declared = request.headers.get("Content-Type")
    if declared is not None and not request.is_json:  # is_json: application/json or application/*+json
        raise UnsupportedMediaType(f"Content-Type must be {JSON_MEDIA_TYPES}, not '{request.mimetype}'")
    request.max_content_length = MAX_JSON_BODY_BYTES  # reading more raises a 413
    data = request.get_data(cache=True)
    if not data:
        return {}
    if declared is None:
        raise UnsupportedMediaType(f"Content-Type must be {JSON_MEDIA_TYPES}")
    try:
        payload = json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise BadRequest("Request body must be valid JSON", code="INVALID_JSON") from None
    if _deeper_than(payload, MAX_JSON_DEPTH):
        raise _too_deep()
    return payload


def _too_deep() -> BadRequest:
    return BadRequest(f"Request body is nested more than {MAX_JSON_DEPTH} levels deep", code="INVALID_JSON")


def _not_json(constant: str) -> Any:
    """Python's parser reads ``NaN`` and ``Infinity``; JSON (RFC 8259) has no such numbers, and
    neither has PostgreSQL's ``json`` type, where such an event would fail the whole batch."""
    raise ValueError(f"{constant} is not a JSON number")


def _deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels; iterative, so it cannot recurse.

    One level at a time, in a comprehension: a 1,000-event batch is checked in ~4 ms (a stack of
    ``(value, depth)`` pairs took 9 ms)."""
    level = [document] if isinstance(document, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [
            child
            for value in level
            for child in (value.values() if isinstance(value, dict) else value)
            if isinstance(child, dict | list)
        ]
    return False


def _query_args(model: type[BaseModel]) -> dict[str, str]:
    """The query string, with date-time parameters checked to be dates (pydantic reads "1" as 1970)."""
    args = request.args.to_dict(flat=True)
    bad = [
        {"field": name, "message": f"must be an ISO 8601 date-time, e.g. {DATE_TIME_EXAMPLE}"}
        for name, info in model.model_fields.items()
        if name in args and is_datetime(info.annotation) and not _DATE_TIME.match(args[name])
    ]
    if bad:
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in bad)
        raise RequestValidationError(f"Validation failed: {summary}", details=bad)
    return args


def is_datetime(annotation: Any) -> bool:
    """``datetime``, or a union (``datetime | None``) holding it."""
    return annotation is datetime or any(is_datetime(arg) for arg in get_args(annotation))


def _form_fields() -> dict[str, str]:
    for name in request.form:
        if len(request.form.getlist(name)) > 1:
            raise RequestValidationError.for_field(name, "given more than once")
    return request.form.to_dict(flat=True)


def _uploaded_files(field: str, most: int) -> list:
    unexpected = sorted(set(request.files) - {field})
    if unexpected:
        raise RequestValidationError.for_field(
            unexpected[0], f"unexpected file field; send files as '{field}'"
        )
    files = request.files.getlist(field)
    if not files:
        raise RequestValidationError.for_field(field, "at least one file is required")
    if len(files) > most:
        raise RequestValidationError.for_field(field, f"at most {most} file(s) per request, got {len(files)}")
    return files


def _validate(
    model: type[BaseModel],
    data: Any,
    location: str,
    wording: Callable[[ValidationError], list[dict[str, str]]] | None = None,
) -> BaseModel:
    try:
        return model.model_validate(data)
    except RecursionError:
        raise _too_deep() from None
    except ValidationError as exc:
        if wording is None:
            raise RequestValidationError.from_pydantic(exc, location=location) from exc
        details = wording(exc)
        raise RequestValidationError(
            "Validation failed: " + "; ".join(d["message"] for d in details), details=details, worded=True
        ) from exc


def _idempotent(spec: Endpoint, principal: Any, key: str, produce: Callable[[], Response]) -> Response:
    """Run ``produce`` once per key: the key is reserved first, so a concurrent twin never runs it."""
    if len(key) > idempotency.MAX_KEY_LENGTH:
        raise RequestValidationError.for_field(
            IDEMPOTENCY_HEADER, f"at most {idempotency.MAX_KEY_LENGTH} characters"
        )
    client = principal.rate_limit_key if principal else f"ip:{request.remote_addr}"
    hashed = request_fingerprint()
    held = _STORE.reserve(scope=spec.name, client=client, key=key, hashed=hashed)
    if isinstance(held, idempotency.Existing):
        return _replay(held, hashed)
    try:
        response = produce()
    except BaseException:
        _release(held)
        raise
    if not 200 <= response.status_code < 300:
        _release(held)
    elif not _STORE.complete(held, status_code=response.status_code, body=response.get_json(silent=True)):
        log.warning("Idempotency-Key reservation of %s expired before its answer was stored", spec.name)
    return response


def request_fingerprint() -> str:
    """What makes two requests the same one: path (with its parameters), query string and body."""
    return idempotency.request_hash(request.path.encode(), request.query_string, request.get_data(cache=True))


def _replay(held: idempotency.Existing, hashed: str) -> Response:
    if held.request_hash != hashed:
        raise Conflict("This Idempotency-Key was used for a different request", code="IDEMPOTENCY_KEY_REUSED")
    if held.in_progress:
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry later",
            code="IDEMPOTENCY_KEY_IN_PROGRESS",
        )
    response = jsonify(held.body)
    response.status_code = held.status_code
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _release(held: idempotency.Reservation) -> None:
    try:
        _STORE.release(held)
    except Exception:  # the request's own error matters more; the reservation expires anyway
        log.exception("Could not release an Idempotency-Key reservation")


def to_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def _render(spec: Endpoint, result: Any) -> Response:
    if isinstance(result, Response):
        return result
    status = spec.status
    if isinstance(result, tuple):
        result, status = result
    if result is None:  # no body, so no Content-Type either (Flask would say text/html)
        response = Response(status=status)
        del response.headers["Content-Type"]
        return response
    payload = to_jsonable(result)
    if spec.wraps_data:
        payload = {"success": True, "data": payload}
    response = jsonify(payload)
    response.status_code = status
    return response
