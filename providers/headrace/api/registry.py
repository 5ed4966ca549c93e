"""Declaring endpoints once: routing, validation, permissions, rate limits, envelopes and OpenAPI.

A route module decorates a plain function with :func:`endpoint`; :func:`bind` later turns every
declared endpoint into a Flask view on a blueprint. The same declarations produce the OpenAPI
document, so the document cannot drift from what is served.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow.utils.session import create_session
from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from headrace.api.errors import BadRequest, Conflict, RequestValidationError
from headrace.api.namespaces import Namespace
from headrace.api.security import Permission, require_principal
from headrace.api.services import idempotency

IDEMPOTENCY_HEADER = "Idempotency-Key"

# JSON requests are small; uploads (multipart) set their own, larger limit.
MAX_JSON_BODY_BYTES = 10 * 1024 * 1024
_FLASK_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True)
class Endpoint:
    """Everything known about one operation (one rule and one method)."""

    rule: str
    method: str
    namespace: Namespace
    summary: str
    handler: Callable[..., Any]
    permission: Permission | None  # None: public (health, login)
    body: type[BaseModel] | None = None
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

    @property
    def name(self) -> str:
        return f"{self.namespace.value}_{self.handler.__name__}"

    @property
    def openapi_path(self) -> str:
        return _FLASK_PARAM.sub(r"{\1}", self.rule)

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
        blueprint.add_url_rule(spec.rule, endpoint=spec.name, view_func=view, methods=[spec.method])
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
            kwargs["query"] = _validate(spec.query, request.args.to_dict(flat=True), "query")
        if spec.body is not None:
            kwargs["body"] = _validate(spec.body, _json_body(), "body", spec.body_errors)
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
    request.max_content_length = MAX_JSON_BODY_BYTES  # reading more raises a 413
    if not request.get_data(cache=True):
        return {}
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        raise BadRequest("Request body must be valid JSON", code="INVALID_JSON")
    return payload


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
    except ValidationError as exc:
        if wording is None:
            raise RequestValidationError.from_pydantic(exc, location=location) from exc
        details = wording(exc)
        raise RequestValidationError(
            "Validation failed: " + "; ".join(d["message"] for d in details), details=details, worded=True
        ) from exc


def _idempotent(spec: Endpoint, principal: Any, key: str, produce: Callable[[], Response]) -> Response:
    """Replay the stored answer of an earlier request with this key, or produce and store one."""
    if len(key) > idempotency.MAX_KEY_LENGTH:
        raise RequestValidationError.for_field(IDEMPOTENCY_HEADER, "at most 200 characters")
    client = principal.rate_limit_key if principal else f"ip:{request.remote_addr}"
    hashed = idempotency.request_hash(request.get_data(cache=True))
    with create_session() as session:
        stored = idempotency.find(session, scope=spec.name, client=client, key=key)
    if stored is not None:
        if stored.request_hash != hashed:
            raise Conflict(
                "This Idempotency-Key was used for a different request", code="IDEMPOTENCY_KEY_REUSED"
            )
        response = jsonify(stored.body)
        response.status_code = stored.status_code
        response.headers["Idempotent-Replayed"] = "true"
        return response
    response = produce()
    if response.status_code < 300:
        with create_session() as session:
            idempotency.remember(
                session,
                scope=spec.name,
                client=client,
                key=key,
                hashed=hashed,
                status_code=response.status_code,
                body=response.get_json(),
            )
    return response


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
    if result is None:
        return Response(status=status)
    payload = to_jsonable(result)
    if spec.wraps_data:
        payload = {"success": True, "data": payload}
    response = jsonify(payload)
    response.status_code = status
    return response
