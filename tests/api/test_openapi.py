"""/openapi.json: generated from the endpoint declarations, valid OpenAPI 3.1, listing every route."""

from __future__ import annotations

import importlib
import pkgutil
import re
import uuid

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate

from tests.conftest import BASE

FORMATS = FormatChecker()


def test_document_is_valid_openapi_31(client, admin_headers):
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json

    assert document["openapi"] == "3.1.0"
    validate(document)


def _validator(document, method: str, path: str, status: int) -> Draft202012Validator:
    """The JSON Schema the document gives for the answer ``status`` of ``method path``."""
    responses = document["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answered an undocumented {status}"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    # The schema's $refs point into the document: give it the document's components to resolve them.
    return Draft202012Validator({**schema, "components": document["components"]}, format_checker=FORMATS)


def _matches_document(document, response, method: str, path: str) -> None:
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator(document, method, path, response.status_code).iter_errors(response.json)
    ]
    assert not errors, (method, path, response.status_code, errors[:5])


def _example(parameter) -> str:
    """A value a path parameter of this pattern admits (and that names nothing that exists)."""
    return {"key_id": "0123456789abcdef", "job_id": "no-such-job"}.get(parameter["name"], "nothing_here")


def test_every_documented_operation_is_served_as_documented(app, client, admin_headers):
    """Each operation of the document, called anonymously: the server routes it (no 404 or 405 for an
    unknown route) and answers a status the document lists, with a body of the documented schema."""
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    called = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            url = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    url = url.replace("{" + parameter["name"] + "}", _example(parameter))
            response = client.open(f"{BASE}{url}", method=method.upper())
            assert response.status_code not in (404, 405), (method, path, response.json)  # it is routed
            _matches_document(document, response, method, path)
            called.add((path, method))

    assert ("/auth/login", "post") in called and len(called) == sum(map(len, document["paths"].values()))


def test_live_answers_match_their_documented_schemas(client, admin_headers, passwords):
    """Real requests (successes and errors) of each namespace, checked against the document."""
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    key = {"name": "openapi", "scopes": ["read"], "expires_in_days": 1}
    calls = [
        ("GET", "/health", "/health", None, None),
        ("GET", "/healthz", "/healthz", None, None),
        ("POST", "/auth/login", "/auth/login", {"username": "admin", "password": passwords["admin"]}, None),
        ("POST", "/auth/login", "/auth/login", {"username": "admin", "password": "wrong"}, None),
        ("POST", "/auth/login", "/auth/login", {"password": "x"}, None),
        ("GET", "/auth/status", "/auth/status", None, admin_headers),
        ("GET", "/auth/status", "/auth/status", None, {"Authorization": "Bearer not-a-token"}),
        ("POST", "/auth/api-keys", "/auth/api-keys", key, admin_headers),
        ("POST", "/auth/api-keys", "/auth/api-keys", {**key, "scopes": []}, admin_headers),
        ("GET", "/auth/api-keys", "/auth/api-keys", None, admin_headers),
        ("DELETE", "/auth/api-keys/{key_id}", "/auth/api-keys/0123456789abcdef", None, admin_headers),
        ("GET", "/workflows", "/workflows", None, admin_headers),
        ("GET", "/workflows", "/workflows?limit=0", None, admin_headers),
        ("GET", "/workflows/{workflow_id}", "/workflows/no_such_workflow", None, admin_headers),
        ("POST", "/workflows", "/workflows", {"name": "x"}, admin_headers),
        ("GET", "/pipelines", "/pipelines", None, admin_headers),
        ("GET", "/pipelines/{pipeline_id}", "/pipelines/no_such_pipeline", None, admin_headers),
        ("GET", "/ingestion/jobs", "/ingestion/jobs", None, admin_headers),
        ("GET", "/ingestion/jobs/{job_id}", "/ingestion/jobs/no-such-job", None, admin_headers),
        ("GET", "/ingestion/file-types", "/ingestion/file-types", None, admin_headers),
        ("GET", "/ingestion/config/default", "/ingestion/config/default", None, admin_headers),
        ("POST", "/ingestion/validate", "/ingestion/validate", {"target": {}}, admin_headers),
    ]
    statuses = set()
    for method, path, url, body, headers in calls:
        response = client.open(f"{BASE}{url}", method=method, json=body, headers=headers)
        _matches_document(document, response, method, path)
        statuses.add((method, path, response.status_code))

    # The calls above do reach both successes and errors.
    assert {
        ("POST", "/auth/login", 200),
        ("POST", "/auth/login", 401),
        ("POST", "/auth/api-keys", 201),
    } <= statuses
    assert {("GET", "/workflows", 200), ("GET", "/workflows", 400), ("GET", "/auth/status", 401)} <= statuses


def test_every_schema_describes_itself(client, admin_headers):
    """Each datamodel has a docstring, and the document shows it as its schema's description."""
    import inspect

    from pydantic import BaseModel

    from headrace.api import datamodels

    package = datamodels.__name__
    models = {
        cls
        for info in pkgutil.iter_modules(datamodels.__path__)
        for _, cls in inspect.getmembers(importlib.import_module(f"{package}.{info.name}"))
        if inspect.isclass(cls)
        and issubclass(cls, BaseModel)
        and cls.__module__.startswith(datamodels.__name__)
    }
    undocumented = sorted(
        cls.__qualname__ for cls in models if not (cls.__dict__.get("__doc__") or "").strip()
    )
    assert not undocumented, f"datamodels without a docstring: {undocumented}"

    schemas = client.get(f"{BASE}/openapi.json", headers=admin_headers).json["components"]["schemas"]
    described = {cls.__name__: inspect.cleandoc(cls.__doc__) for cls in models if cls.__name__ in schemas}
    assert len(described) > 30
    for name, doc in described.items():
        assert schemas[name].get("description") == doc, name


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
        "webhook_id",
        "agent_id",
        "source_id",
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

    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json
    parameters = {  # (first path segment, name): the binary queue's job_id is another kind of id
        (name.split()[1].split("/")[1], parameter["name"]): parameter["schema"]
        for name, operation in _operations(document)
        for parameter in operation.get("parameters", [])
    }
    job_ids = [ingestion_jobs.new_job_id(), "ingestion-001", "manual__2026-01-31T12:00:00.123456+00:00"]
    for job_id in job_ids:  # the last: a run triggered from the Airflow UI, which is a job too
        assert re.search(parameters["ingestion", "job_id"]["pattern"], job_id), job_id
    queued = str(uuid.uuid4())  # what POST /jobs hands out
    assert re.search(parameters["jobs", "job_id"]["pattern"], queued)
    assert not re.search(parameters["jobs", "job_id"]["pattern"], "ingestion-001")
    parameters = {name: schema for (_, name), schema in parameters.items()}
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


def test_a_204_is_documented_without_a_body(client, admin_headers):
    """POST /jobs/claim answers 204 with nothing to do: a client must not expect JSON then."""
    document = client.get(f"{BASE}/openapi.json", headers=admin_headers).json

    assert "content" not in document["paths"]["/jobs/claim"]["post"]["responses"]["204"]
