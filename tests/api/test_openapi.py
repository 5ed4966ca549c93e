"""/openapi.json: generated from the endpoint declarations, valid OpenAPI 3.1, listing every route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from tests.conftest import BASE

_FLASK_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_]\w*)>")


def test_document_is_valid_openapi_31(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json

    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_registered_route_is_documented(app, client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    served = {
        (_FLASK_PARAM.sub(r"{\1}", rule.rule.removeprefix(BASE)), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("headrace_api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}

    assert served == documented
    assert ("/auth/login", "post") in served


def test_document_describes_security_and_error_shapes(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    paths = document["paths"]

    assert document["servers"] == [{"url": BASE}]
    assert paths["/health"]["get"]["security"] == []
    assert {"bearerAuth": []} in paths["/auth/status"]["get"]["security"]
    assert "401" in paths["/auth/status"]["get"]["responses"]
    error = paths["/auth/status"]["get"]["responses"]["401"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/EnvelopeError"}
    login_body = paths["/auth/login"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert login_body == {"$ref": "#/components/schemas/LoginRequest"}
    assert "password" in document["components"]["schemas"]["LoginRequest"]["properties"]
    headers = paths["/auth/status"]["get"]["responses"]["200"]["headers"]
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= headers.keys()


def test_document_needs_credentials(client):
    assert client.get(f"{BASE}/openapi.json").status_code == 401


def test_uploads_are_documented_as_multipart(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    single = document["paths"]["/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    multiple = document["paths"]["/upload/multiple"]["post"]["requestBody"]["content"]["multipart/form-data"]

    assert {"file", "bucket"} <= set(single["required"])
    assert multiple["schema"]["properties"]["files"]["maxItems"] == 10
    assert "413" in document["paths"]["/upload"]["post"]["responses"]
    assert "force" in [p["name"] for p in document["paths"]["/catalog/{name}"]["delete"]["parameters"]]
