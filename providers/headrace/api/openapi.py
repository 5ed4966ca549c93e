"""The OpenAPI 3.1 document, generated from the endpoint declarations and their pydantic models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow.configuration import conf
from airflow.models.base import ID_LEN
from pydantic import BaseModel, TypeAdapter, ValidationError

from headrace import __version__
from headrace.api.datamodels.common import ContextError, EnvelopeError, ObjectError
from headrace.api.namespaces import ErrorStyle, Namespace
from headrace.api.registry import (
    DATE_TIME_EXAMPLE,
    IDEMPOTENCY_HEADER,
    JSON_MEDIA_TYPES,
    MAX_JSON_BODY_BYTES,
    MAX_JSON_DEPTH,
    Endpoint,
    is_datetime,
)
from headrace.api.security import API_KEY_HEADER
from headrace.api.services import credentials, idempotency
from headrace.db.models import ApiKey
from headrace.events import sites as monitoring_sites
from headrace.events.webhook_store import ID_PATTERN as WEBHOOK_ID_PATTERN
from headrace.ingestion.spec import JOB_ID
from headrace.jobs.queue import JOB_ID_PATTERN
from headrace.lakehouse import names
from headrace.workflows.model import WORKFLOW_ID

_REF = "#/components/schemas/{model}"
_ERROR_MODELS = {
    ErrorStyle.ENVELOPE: EnvelopeError,
    ErrorStyle.OBJECT: ObjectError,
    ErrorStyle.CONTEXT: ContextError,
}
_ERROR_TEXT = {
    400: "Invalid request; every bad field is named",
    401: "Missing or invalid credentials",
    403: "Authenticated, but not permitted",
    404: "Not found",
    409: "Conflict",
    413: "Payload too large (the request body's description gives the limit)",
    415: f"Unsupported media type: a JSON body must be sent as {JSON_MEDIA_TYPES}",
    429: "Rate limit exceeded (see Retry-After)",
    500: "Internal error",
}
_RATE_HEADERS = {
    name: {"description": text, "schema": {"type": "integer"}}
    for name, text in (
        ("X-RateLimit-Limit", "Requests allowed in the current window"),
        ("X-RateLimit-Remaining", "Requests left in the current window"),
        ("X-RateLimit-Reset", "Unix time at which the window resets"),
    )
}
_REQUEST_ID_HEADER = {"X-Request-ID": {"description": "Echo of the request id", "schema": {"type": "string"}}}


@dataclass(frozen=True)
class PathParameter:
    """What the server accepts in a path parameter: the pattern and length of the domain's rule."""

    pattern: Callable[[], str]
    max_length: int
    description: str


def _run_id_pattern() -> str:
    """Ingestion jobs are runs: those Airflow names (``manual__<date>`` from its UI) are jobs too."""
    from airflow.models.dagrun import RUN_ID_REGEX  # the ORM models load late, after the plugins

    allowed = conf.get("scheduler", "allowed_run_id_pattern", fallback="").strip()
    return "|".join(f"(?:{pattern})" for pattern in (RUN_ID_REGEX, allowed) if pattern)


_NAME = PathParameter(
    lambda: names.NAME_PATTERN,  # what names.validate_name checks: a mismatch is a 400 naming it
    names.MAX_NAME_LENGTH,
    "Letters, digits, `_` and `-`; a name outside the pattern is a 400 naming the parameter.",
)
_DAG_ID = PathParameter(
    lambda: WORKFLOW_ID,  # the repository reads no file for another id: 404
    ID_LEN,
    "The workflow's DAG id; an id outside the pattern names nothing (404).",
)
# Path parameters by name (whatever the route), each documented with the domain rule that refuses
# other values: validate_name for names (400), the absence of any such resource for ids (404).
PATH_PARAMETERS: dict[str, PathParameter] = {
    "name": _NAME,
    "catalog": _NAME,
    "schema": _NAME,
    "table": _NAME,
    "workflow_id": _DAG_ID,
    "pipeline_id": _DAG_ID,
    "job_id": PathParameter(
        _run_id_pattern,
        ID_LEN,
        f"The job's Airflow run id; jobs created through this API match `{JOB_ID}`. "
        "An id outside the pattern names nothing (404).",
    ),
    "key_id": PathParameter(
        lambda: credentials.ID_PATTERN,
        ApiKey.__table__.c.id.type.length,
        "The key's id (the part of the key between `hrk_` and the dot); another id names nothing (404).",
    ),
    "site_id": PathParameter(
        lambda: monitoring_sites.ID_PATTERN, 100, "The site's id; another id names nothing (404)."
    ),
    "webhook_id": PathParameter(
        lambda: WEBHOOK_ID_PATTERN, 36, "The webhook's id, a UUID; another id names nothing (404)."
    ),
    "agent_id": PathParameter(
        lambda: r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",  # datamodels.agents.AGENT_ID_PATTERN (a test checks)
        520,
        "`<component>@<hostname>` (scheduler, triggerer, dag-processor, api-server, worker) or a binary-job "
        "executor's id, as `GET /agents` lists them; another id is a 404 `AGENT_NOT_FOUND`.",
    ),
    "source_id": PathParameter(
        lambda: r"^[A-Za-z0-9_][A-Za-z0-9_.\-#!():/\\]{0,249}$",
        250,
        "The data source's Airflow connection id; another id names nothing (404).",
    ),
}
# Where one name means another thing in one namespace: the binary queue's jobs are UUIDs.
NAMESPACE_PATH_PARAMETERS: dict[tuple[Namespace, str], PathParameter] = {
    (Namespace.JOBS, "job_id"): PathParameter(
        lambda: JOB_ID_PATTERN, 36, "The job's id, a UUID; another id names nothing (404)."
    ),
}


class _Schemas:
    """Collects component schemas while paths are built."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, annotation: Any, mode: str) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(ref_template=_REF, mode=mode)
        self.components.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            self.components[annotation.__name__] = schema
            return {"$ref": _REF.format(model=annotation.__name__)}
        return schema


def build_document(endpoints: list[Endpoint], server_url: str) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for spec in endpoints:
        paths.setdefault(spec.openapi_path, {})[spec.method.lower()] = _operation(spec, schemas)
    tags = sorted({spec.namespace.value for spec in endpoints})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Headrace API",
            "version": __version__,
            "description": "Headrace REST API on the Airflow api-server. Each namespace keeps the "
            "request, response and error shapes of its contract; every error also carries "
            "`success: false`, a stable `code` and the `request_id`.",
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKeyAuth": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "_token"},
            },
        },
    }


def _operation(spec: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [spec.namespace.value],
        "responses": _responses(spec, schemas),
    }
    description = spec.description
    if spec.permission is not None:
        description += (
            f"\n\nPermission: {spec.permission.airflow_permission}; "
            f"API keys need the `{spec.permission.scope.value}` scope."
        )
        operation["security"] = [{"bearerAuth": []}, {"apiKeyAuth": []}, {"cookieAuth": []}]
    else:
        operation["security"] = []
    if description.strip():
        operation["description"] = description.strip()
    parameters = [*_path_parameters(spec), *_query_parameters(spec)]
    if spec.idempotent:
        parameters.append(_IDEMPOTENCY_PARAMETER)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": _needs_body(spec.body),
            "description": f"JSON ({JSON_MEDIA_TYPES}) of at most {MAX_JSON_BODY_BYTES // 2**20} MB "
            f"and {MAX_JSON_DEPTH} levels of nesting.",
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    if spec.form is not None:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": _multipart(spec)}}
    return operation


_IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
    "description": "Run this request once: a repeat with the same key and body gets the first answer "
    "again (header `Idempotent-Replayed: true`), one with another body a 409 "
    "`IDEMPOTENCY_KEY_REUSED`, and one sent while the first still runs a 409 "
    "`IDEMPOTENCY_KEY_IN_PROGRESS`. A failed request frees its key; keys expire after "
    "`[headrace] idempotency_ttl_hours`.",
}


def _path_parameters(spec: Endpoint) -> list[dict[str, Any]]:
    parameters = []
    for name in spec.path_params:
        # A KeyError here: declare the new parameter's rule above.
        rule = NAMESPACE_PATH_PARAMETERS.get((spec.namespace, name)) or PATH_PARAMETERS[name]
        schema = {"type": "string", "pattern": rule.pattern(), "maxLength": rule.max_length}
        parameters.append(
            {"name": name, "in": "path", "required": True, "description": rule.description, "schema": schema}
        )
    return parameters


def _query_parameters(spec: Endpoint) -> list[dict[str, Any]]:
    if spec.query is None:
        return []
    document = spec.query.model_json_schema(ref_template=_REF)
    required = set(document.get("required", []))
    parameters = []
    for name, schema in document["properties"].items():
        parameter = {"name": name, "in": "query", "required": name in required, "schema": _not_null(schema)}
        if is_datetime(spec.query.model_fields[name].annotation):
            parameter["schema"] = {**parameter["schema"], "type": "string", "format": "date-time"}
            parameter["description"] = (
                f"ISO 8601 date-time, e.g. `{DATE_TIME_EXAMPLE}` (UTC without an offset); anything else "
                "is a 400 naming the parameter."
            )
        parameters.append(parameter)
    return parameters


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: ``X | None`` is documented as ``X``."""
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if len(options) != 1 or len(options) == len(schema.get("anyOf", [])):
        return schema
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    if rest.get("default", ...) is None:
        del rest["default"]
    return {**options[0], **rest}


def _needs_body(model: type[BaseModel]) -> bool:
    """False when every field is optional: the route then takes an empty body as ``{}``."""
    try:
        model.model_validate({})
    except ValidationError:
        return True
    return False


def _multipart(spec: Endpoint) -> dict[str, Any]:
    """Form fields from the form model, plus the file field (an array when several are accepted)."""
    schema = spec.form.model_json_schema(ref_template=_REF)
    properties = dict(schema.get("properties", {}))
    required = list(schema.get("required", []))
    if spec.files is not None:
        field, most = spec.files
        binary = {"type": "string", "contentMediaType": "application/octet-stream"}
        properties[field] = binary if most == 1 else {"type": "array", "items": binary, "maxItems": most}
        required.append(field)
    return {"schema": {"type": "object", "properties": properties, "required": required}}


def _responses(spec: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    headers = {**_RATE_HEADERS, **_REQUEST_ID_HEADER}
    success: dict[str, Any] = {"description": spec.summary, "headers": headers}
    if spec.response is not None:
        schema = schemas.ref(spec.response, "serialization")
        if spec.wraps_data:
            schema = {
                "type": "object",
                "required": ["success", "data"],
                "properties": {"success": {"const": True}, "data": schema},
            }
        success["content"] = {"application/json": {"schema": schema}}
    responses: dict[str, Any] = {str(spec.status): success}
    error_schema = schemas.ref(_ERROR_MODELS[spec.namespace.error_style], "serialization")
    codes = {400, 429, 500, *spec.errors}
    if spec.permission is not None:
        codes |= {401, 403}
    if spec.body is not None:
        codes |= {413, 415}
    if spec.form is not None:
        codes |= {413}
    if spec.idempotent:
        codes |= {409}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _ERROR_TEXT.get(code, "Error"),
            "headers": headers,
            "content": {"application/json": {"schema": error_schema}},
        }
    for code, text in spec.extra_responses.items():
        has_body = code != 204 and "content" in success  # 204: no body, so no content type either
        responses[str(code)] = {
            "description": text,
            "headers": headers,
            **({"content": success["content"]} if has_body else {}),
        }
    return responses
