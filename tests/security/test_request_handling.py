"""Replays of request-handling attacks on the real Flask app: every JSON route parses bodies the same way.

Oversized bodies get 413, bodies nested deeper than any request needs get 400 ``INVALID_JSON`` (not a
500 from a ``RecursionError``), bodies that are not declared as JSON get 415 (an HTML form or a
``text/plain`` fetch can be sent cross-site without a CORS preflight, with the user's cookie), and
date-time query parameters accept dates only.
"""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import BASE, airflow_cli

# Every operation with a JSON body (test_every_json_route_is_listed keeps this list complete).
JSON_ROUTES = [
    ("POST", "/auth/login"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/api-keys"),
    ("POST", "/catalog"),
    ("PATCH", "/catalog/{name}"),
    ("POST", "/query"),
    ("POST", "/ingestion/jobs"),
    ("POST", "/ingestion/validate"),
    ("POST", "/pipelines:generate"),
    ("POST", "/pipelines/{pipeline_id}:deploy"),
    ("POST", "/pipelines/{pipeline_id}:run"),
    ("POST", "/workflows"),
    ("DELETE", "/workflows/{workflow_id}"),
    ("POST", "/jobs"),
    ("POST", "/jobs/bulk"),
    ("POST", "/jobs/bulk/cancel"),
    ("POST", "/jobs/claim"),
    ("PUT", "/jobs/{job_id}/heartbeat"),
    ("PUT", "/jobs/{job_id}/complete"),
    ("PUT", "/jobs/{job_id}/fail"),
    ("POST", "/webhooks"),
    ("POST", "/job-monitoring/v1/sites"),
    ("POST", "/job-monitoring/v1/ingest/events"),
    ("POST", "/job-monitoring/v1/ingest/events:batch"),
    ("POST", "/data-sources"),
    ("POST", "/connectors-ai/configure"),
    ("POST", "/data/profile"),
    ("POST", "/nl-query"),
    ("POST", "/storage/recommend"),
]
_IDS = [f"{method} {path}" for method, path in JSON_ROUTES]
DEEP_PARAMS = "request_handling_deep_params"
SPEC = {
    "target": {"catalog": "iceberg_data", "schema": "sales", "table": "transactions"},
    "source": {
        "file_paths": "s3://my-bucket/data/transactions.json",
        "file_type": "json",
        "bucket_details": {"bucket_name": "my-bucket", "bucket_type": "minio"},
    },
}


def nested(depth: int) -> str:
    """``{"a": {"a": ... {}}}``, ``depth`` levels deep, as JSON text (``json.dumps`` would recurse)."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def send(client, headers, method: str, path: str, data: bytes | str, content_type: str | None):
    """``path`` may be a templated OpenAPI path: its parameters get well-formed values."""
    path = path.format(name="sales", pipeline_id="p1", workflow_id="w1", job_id=str(uuid.uuid4()))
    request_headers = dict(headers)
    if content_type is not None:
        request_headers["Content-Type"] = content_type
    # docs/api.md's paths: relative to /api/v1, or starting with another base of the blueprint.
    url = f"/headrace{path}" if path.startswith("/job-monitoring/") else f"{BASE}{path}"
    return client.open(url, method=method, headers=request_headers, data=data)


@pytest.fixture(scope="module")
def dags(migrated_db, airflow_home):
    """The shipped ingestion DAG and a workflow taking an ``object`` parameter, serialized into the DB."""
    folder = airflow_home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    definition = folder / f"{DEEP_PARAMS}.yaml"
    definition.write_text(
        f"id: {DEEP_PARAMS}\nparams:\n  payload: {{type: object}}\n"
        "steps:\n  - {id: a, kind: bash, bash_command: echo}\n"
    )
    airflow_cli("dags", "reserialize")
    yield
    definition.unlink()


def test_every_json_route_is_listed(app):
    from headrace.api.registry import ENDPOINTS

    declared = {(spec.method, spec.documented_path) for spec in ENDPOINTS if spec.body is not None}

    assert declared == set(JSON_ROUTES)


# -- body size -------------------------------------------------------------------------------------


def test_validate_refuses_a_body_over_the_json_limit(client, admin_headers):
    """/ingestion/validate read the body itself, without the 10 MB limit of the other routes."""
    body = json.dumps({**SPEC, "job_id": "x" * (11 * 1024 * 1024)})

    response = send(client, admin_headers, "POST", "/ingestion/validate", body, "application/json")

    assert response.status_code == 413
    assert response.json["code"] == "PAYLOAD_TOO_LARGE" and response.json["success"] is False


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=_IDS)
def test_every_json_route_refuses_a_body_over_the_limit(client, admin_headers, method, path):
    body = b'{"padding": "' + b"a" * (10 * 1024 * 1024) + b'"}'

    response = send(client, admin_headers, method, path, body, "application/json")

    assert response.status_code == 413
    assert response.json["code"] == "PAYLOAD_TOO_LARGE"


# -- nesting -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=_IDS)
def test_deeply_nested_json_is_a_400_not_a_500(client, admin_headers, method, path):
    body = "[" * 1100 + "]" * 1100

    response = send(client, admin_headers, method, path, body, "application/json")

    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "INVALID_JSON"


def test_deeply_nested_object_inside_a_spec_is_a_400(client, admin_headers, dags):
    """Deep enough to break the JSON parser: a 500 before, /ingestion/validate included."""
    body = '{"target": {"catalog": "c", "schema": "s", "table": "t"}, "execute_config": ' + nested(1100) + "}"

    for path in ("/ingestion/jobs", "/ingestion/validate"):
        response = send(client, admin_headers, "POST", path, body, "application/json")
        assert response.status_code == 400 and response.json["code"] == "INVALID_JSON", path


def test_nesting_that_parses_but_blows_up_later_is_refused_up_front(client, admin_headers, dags):
    """300 levels parse fine, but the run was triggered and its answer failed to serialise: a 500."""
    body = '{"params": {"payload": ' + nested(300) + "}}"

    response = send(client, admin_headers, "POST", f"/pipelines/{DEEP_PARAMS}:run", body, "application/json")

    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert response.json["code"] == "INVALID_JSON"
    assert "nested" in response.json["error"]["message"]
    assert _run_count(DEEP_PARAMS) == 0


# -- content type ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
)
def test_json_sent_as_a_cross_site_form_type_is_415(client, admin_headers, dags, content_type):
    """The types an HTML form or a no-preflight fetch may send from another site."""
    before = _run_count("headrace_ingestion")

    response = send(client, admin_headers, "POST", "/ingestion/jobs", json.dumps(SPEC), content_type)

    assert response.status_code == 415
    assert response.json["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in response.json["error"]
    assert _run_count("headrace_ingestion") == before


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES, ids=_IDS)
def test_every_json_route_requires_a_json_content_type(client, admin_headers, method, path):
    response = send(client, admin_headers, method, path, "{}", "text/plain")

    assert response.status_code == 415
    assert response.json["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_a_body_without_content_type_is_415(client, admin_headers):
    response = send(client, admin_headers, "POST", "/ingestion/validate", json.dumps(SPEC), None)

    assert response.status_code == 415


def test_an_empty_form_post_is_415_even_where_every_field_is_optional(client, admin_headers):
    """A cross-site ``<form method=post>`` without fields still declares its type."""
    response = send(client, admin_headers, "POST", "/auth/logout", "", "application/x-www-form-urlencoded")

    assert response.status_code == 415


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"]
)
def test_json_media_types_with_parameters_are_accepted(client, admin_headers, dags, content_type):
    spec = {**SPEC, "job_id": f"ctype-{uuid.uuid4().hex[:8]}"}

    response = send(client, admin_headers, "POST", "/ingestion/jobs", json.dumps(spec), content_type)

    assert response.status_code == 201, response.json


def test_an_empty_body_without_content_type_still_means_defaults(client, admin_headers):
    """Routes whose body fields are all optional (logout, refresh, cancel...) accept no body."""
    response = client.post(f"{BASE}/auth/logout", headers=admin_headers)

    assert response.status_code == 200


# -- date-time query parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", "1700000000", "yesterday", "2024-13-01T00:00:00Z", "12:00"])
def test_date_time_query_parameters_reject_non_dates(client, admin_headers, value):
    """A number was read as seconds since 1970; other non-dates were refused without naming a format."""
    response = client.get(f"{BASE}/workflows", headers=admin_headers, query_string={"created_after": value})

    assert response.status_code == 400
    details = response.json["error"]["details"]
    assert [d["field"] for d in details] == ["created_after"]


@pytest.mark.parametrize(
    "value", ["2024-01-31T12:00:00Z", "2024-01-31T12:00:00+02:00", "2024-01-31T12:00:00"]
)
def test_date_time_query_parameters_accept_date_times(client, admin_headers, value):
    response = client.get(f"{BASE}/workflows", headers=admin_headers, query_string={"created_before": value})

    assert response.status_code == 200, response.json


def _run_count(dag_id: str) -> int:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(DagRun).where(DagRun.dag_id == dag_id))
