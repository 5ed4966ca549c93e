"""``GET /openapi.json``: the OpenAPI 3.1 document of every endpoint the blueprint serves."""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from flask import jsonify, request

from headrace.api.blueprint import BASE_PATH
from headrace.api.namespaces import Namespace
from headrace.api.openapi import build_document
from headrace.api.registry import API_BASE, ENDPOINTS, endpoint
from headrace.api.security import view


@endpoint(
    "/openapi.json",
    "GET",
    Namespace.META,
    summary="OpenAPI 3.1 document of this API",
    permission=view(AccessView.DOCS),
    response=dict,
)
def openapi_document():
    """Generated from the same pydantic models that validate requests and shape responses."""
    server = request.script_root + BASE_PATH  # /pluginsv2/headrace/api/v1 on the api-server
    return jsonify(build_document([e for e in ENDPOINTS if e.base == API_BASE], server))
