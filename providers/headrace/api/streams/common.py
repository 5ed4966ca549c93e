"""What the streams share with the REST API outside Flask: request ids and the JSON error answer."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from headrace.api.errors import ApiError

_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")  # as api/errors.py accepts them


def request_id(headers: dict[str, str]) -> str:
    supplied = headers.get("x-request-id", "")
    return supplied if _CLIENT_REQUEST_ID.match(supplied) else f"req_{uuid.uuid4().hex}"


def error_body(error: ApiError, rid: str) -> dict[str, Any]:
    """The job-monitoring contract's error shape (Namespace.EVENTS, api/errors.py ``CONTEXT``)."""
    context = {"errors": error.details} if isinstance(error.details, list) else (error.details or {})
    return {
        "error": error.message,
        "context": context,
        "success": False,
        "code": error.code,
        "request_id": rid,
    }


async def send_json_error(send: Any, headers: dict[str, str], error: ApiError) -> None:
    rid = request_id(headers)
    body = json.dumps(error_body(error, rid)).encode()
    extra = [(name.lower().encode(), value.encode()) for name, value in error.headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", rid.encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
