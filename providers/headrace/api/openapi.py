"""The OpenAPI 3.1 document, generated from the endpoint declarations and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, TypeAdapter

from headrace import __version__
from headrace.api.datamodels.common import ContextError, EnvelopeError, ObjectError
from headrace.api.namespaces import ErrorStyle
from headrace.api.registry import Endpoint
from headrace.api.security import API_KEY_HEADER

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
    413: "Payload too large",
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
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in spec.path_params
    ]
    if spec.query is not None:
        required = set(spec.query.model_json_schema().get("required", []))
        for name, field_schema in spec.query.model_json_schema(ref_template=_REF)["properties"].items():
            parameters.append(
                {"name": name, "in": "query", "required": name in required, "schema": field_schema}
            )
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(spec.body, "validation")}},
        }
    if spec.form is not None:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": _multipart(spec)}}
    return operation


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
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _ERROR_TEXT.get(code, "Error"),
            "headers": headers,
            "content": {"application/json": {"schema": error_schema}},
        }
    for code, text in spec.extra_responses.items():
        responses[str(code)] = {
            "description": text,
            "headers": headers,
            **({"content": success["content"]} if "content" in success else {}),
        }
    return responses
