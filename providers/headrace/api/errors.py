"""One place that turns every failure inside the API into the namespace's contract error shape.

Whatever the namespace, an error body also carries ``success: false``, a stable machine ``code`` and
the ``request_id`` that the ``X-Request-ID`` header repeats, so a client of any contract can rely on
those three fields.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Response, g, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from headrace.api.datamodels.common import FieldValueError
from headrace.api.namespaces import ErrorStyle, Namespace

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class ApiError(Exception):
    """An error the API answers on purpose, with its HTTP status and stable code."""

    status = 500
    code = "INTERNAL_ERROR"
    message = "Internal server error"

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}
        if code:
            self.code = code


class BadRequest(ApiError):
    status, code, message = 400, "BAD_REQUEST", "Bad request"


class RequestValidationError(ApiError):
    """Bad input; ``details`` lists ``{"field", "message"}`` for every bad field at once."""

    status, code, message = 400, "VALIDATION_ERROR", "Validation failed"

    def __init__(self, message: str | None = None, *, worded: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.worded = worded  # each detail's message already names its field (contract wording)

    @classmethod
    def for_field(cls, field: str, message: str) -> RequestValidationError:
        return cls(f"Validation failed: {field}: {message}", details=[{"field": field, "message": message}])

    @classmethod
    def from_pydantic(cls, exc: ValidationError, *, location: str = "") -> RequestValidationError:
        details = []
        for error in exc.errors(include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, FieldValueError):
                field = ".".join(filter(None, (field, cause.field)))
                error["msg"] = str(cause)
            field = field or location or "body"
            details.append({"field": field, "message": error["msg"]})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return cls(f"Validation failed: {summary}", details=details)


class Unauthorized(ApiError):
    status, code, message = 401, "AUTHENTICATION_REQUIRED", "Authentication required"


class InvalidCredentials(Unauthorized):
    code, message = "INVALID_CREDENTIALS", "Authentication failed: Invalid credentials"


class Forbidden(ApiError):
    status, code, message = 403, "PERMISSION_DENIED", "Permission denied"


class NotFound(ApiError):
    status, code, message = 404, "RESOURCE_NOT_FOUND", "Resource not found"


class Conflict(ApiError):
    status, code, message = 409, "CONFLICT", "Resource conflict"


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class NotImplementedByAuthManager(ApiError):
    status, code = 501, "NOT_IMPLEMENTED"


_HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "AUTHENTICATION_REQUIRED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMIT_EXCEEDED",
    503: "SERVICE_UNAVAILABLE",
}
_HTTP_MESSAGES = {
    404: "Resource not found",
    405: "Method not allowed",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests from this client, please try again later.",
}


def request_id() -> str:
    """The id of the current request: the client's ``X-Request-ID`` if well-formed, else a new one."""
    if "headrace_request_id" not in g:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.headrace_request_id = supplied if _CLIENT_REQUEST_ID.match(supplied) else f"req_{uuid.uuid4().hex}"
    return g.headrace_request_id


def _from_domain(exc: Exception) -> ApiError | None:
    """Errors of the domain core that are the client's doing, with the field they name."""
    from headrace.lakehouse import errors as lakehouse
    from headrace.lakehouse.names import InvalidName
    from headrace.lakehouse.sql import QueryError
    from headrace.storage import InvalidObjectName
    from headrace.workflows.source import DefinitionError

    if isinstance(exc, DefinitionError):  # a definition file on disk that no longer reads or validates
        return Conflict(
            "The definition file cannot be used: " + "; ".join(str(p) for p in exc.problems),
            code="INVALID_DEFINITION",
            details=[p.as_dict() for p in exc.problems],
        )
    if isinstance(exc, InvalidName | InvalidObjectName):
        return RequestValidationError.for_field(exc.field, exc.message)
    if isinstance(exc, QueryError):  # QUERY_TIMEOUT and QUERY_MEMORY_LIMIT too: a retry fails alike
        return RequestValidationError(
            exc.message, code=exc.code, details=[{"field": exc.field, "message": exc.message}]
        )
    if isinstance(exc, lakehouse.NoSuchCatalog | lakehouse.NoSuchSchema | lakehouse.NoSuchTable):
        return NotFound(exc.message, code=exc.code)
    if isinstance(exc, lakehouse.CatalogAlreadyExists | lakehouse.CatalogNotEmpty):
        return Conflict(exc.message, code=exc.code, details={"field": exc.field} if exc.field else None)
    return None


def as_api_error(exc: Exception) -> ApiError:
    """Map any exception to an :class:`ApiError`; unexpected ones are logged and hidden."""
    if isinstance(exc, ApiError):
        return exc
    if (domain := _from_domain(exc)) is not None:
        return domain
    if isinstance(exc, ValidationError):
        return RequestValidationError.from_pydantic(exc)
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        headers = {}
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        error = ApiError(
            _HTTP_MESSAGES.get(exc.code) or exc.description or exc.name,
            code=_HTTP_CODES.get(exc.code, "HTTP_ERROR"),
            headers=headers,
        )
        error.status = exc.code
        return error
    log.exception("Unhandled error in the Headrace API (request %s)", request_id())
    return ApiError()


def error_body(error: ApiError, namespace: Namespace) -> dict[str, Any]:
    rid = request_id()
    common = {"success": False, "code": error.code, "request_id": rid}
    style = namespace.error_style
    if style is ErrorStyle.OBJECT:
        details = error.details
        if isinstance(details, list):  # pipelines-api names each problem's text "error"
            details = [
                {**d, "error": d["message"]} if isinstance(d, dict) and "message" in d else d for d in details
            ]
        return {
            "error": {
                "code": error.code,
                "message": error.message,
                "details": details,
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "request_id": rid,
            },
            **common,
        }
    if style is ErrorStyle.CONTEXT:
        context = {"errors": error.details} if isinstance(error.details, list) else (error.details or {})
        return {"error": error.message, "context": context, **common}
    body: dict[str, Any] = {"error": error.message, **common}
    if isinstance(error, RequestValidationError) and isinstance(error.details, list):
        body["errors"] = [
            d["message"] if error.worded else f"{d['field']}: {d['message']}" for d in error.details
        ]
    if error.details is not None:
        body["details"] = error.details
    return body


def render_error(exc: Exception, namespace: Namespace) -> Response:
    error = as_api_error(exc)
    response = jsonify(error_body(error, namespace))
    response.status_code = error.status
    for name, value in error.headers.items():
        response.headers[name] = value
    return response
