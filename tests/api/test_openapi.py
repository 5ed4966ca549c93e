"""/openapi.json: generated from the endpoint declarations, valid OpenAPI 3.1, listing every route."""

from __future__ import annotations

import re

import pytest
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


def _operations(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_path_parameter_carries_the_pattern_the_server_checks(client, admin_headers):
    from headrace.lakehouse import names
    from headrace.workflows.model import WORKFLOW_ID

    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    by_name = {}
    for name, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                schema = parameter["schema"]
                assert schema["pattern"] and schema["maxLength"] > 0, (name, parameter)
                re.compile(schema["pattern"])
                by_name[parameter["name"]] = schema

    assert set(by_name) == {
        "name",
        "catalog",
        "schema",
        "table",
        "workflow_id",
        "pipeline_id",
        "job_id",
        "key_id",
    }
    for name in ("name", "catalog", "schema", "table"):
        assert by_name[name] == {
            "type": "string",
            "pattern": names._NAME.pattern,
            "maxLength": names.MAX_NAME_LENGTH,
        }
    assert by_name["workflow_id"]["pattern"] == by_name["pipeline_id"]["pattern"] == WORKFLOW_ID


def test_documented_id_patterns_admit_every_id_the_server_hands_out(client, admin_headers):
    from headrace.api.services import credentials, ingestion_jobs

    parameters = {
        parameter["name"]: parameter["schema"]
        for _, operation in _operations(client.get(f"{BASE}/openapi.json", headers=admin_headers).json)
        for parameter in operation.get("parameters", [])
    }
    job_ids = [ingestion_jobs.new_job_id(), "ingestion-001", "manual__2026-01-31T12:00:00.123456+00:00"]
    for job_id in job_ids:  # the last: a run triggered from the Airflow UI, which is a job too
        assert re.search(parameters["job_id"]["pattern"], job_id), job_id
    assert re.search(parameters["key_id"]["pattern"], credentials.new_id())
    assert len(credentials.new_id()) <= parameters["key_id"]["maxLength"]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/catalog/bad.name", "name"),
        ("/catalog/" + "n" * 65, "name"),
        ("/catalog/lake/schema/bad.schema/table/t/metadata", "schema"),
        ("/catalog/lake/schema/s/table/bad$table/metadata", "table"),
    ],
)
def test_a_name_outside_its_pattern_is_a_400_naming_it(client, admin_headers, path, field):
    response = client.get(f"{BASE}{path}", headers=admin_headers)

    assert response.status_code == 400
    assert [d["field"] for d in response.json["details"]] == [field]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/workflows/.hidden"),
        ("GET", "/pipelines/.hidden/status"),
        ("GET", "/ingestion/jobs/" + "j" * 251),
        ("DELETE", "/auth/api-keys/NOT-HEX"),
    ],
)
def test_an_id_outside_its_pattern_names_nothing(client, admin_headers, method, path):
    assert client.open(f"{BASE}{path}", method=method, headers=admin_headers).status_code == 404


def test_date_time_query_parameters_are_declared_as_such(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    parameters = {p["name"]: p for p in document["paths"]["/workflows"]["get"]["parameters"]}

    for name in ("created_after", "created_before"):
        assert parameters[name]["schema"]["type"] == "string"
        assert parameters[name]["schema"]["format"] == "date-time"
        assert "anyOf" not in parameters[name]["schema"]


def test_json_bodies_document_their_limits_and_media_type(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    with_json = {
        name: operation
        for name, operation in _operations(document)
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }

    assert "POST /ingestion/validate" in with_json and "POST /ingestion/jobs" in with_json
    for name, operation in with_json.items():
        assert {"413", "415"} <= operation["responses"].keys(), name
        assert "10 MB" in operation["requestBody"]["description"], name
    assert with_json["POST /ingestion/jobs"]["requestBody"]["required"] is True
    assert with_json["POST /auth/logout"]["requestBody"]["required"] is False  # every field optional


def test_idempotent_operations_document_the_key(client, admin_headers):
    operation = client.get(f"{BASE}/openapi.json", headers=admin_headers).json["paths"]["/ingestion/jobs"][
        "post"
    ]
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]

    assert header["name"] == "Idempotency-Key" and header["schema"]["maxLength"] == 200
    assert "IDEMPOTENCY_KEY_IN_PROGRESS" in header["description"] and "409" in operation["responses"]
