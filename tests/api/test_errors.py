"""Every answer inside the base path is JSON with a code and a request id, never HTML."""

from __future__ import annotations

import pytest

from tests.conftest import BASE


def test_unknown_path_is_json_404(client, admin_headers):
    response = client.get(f"{BASE}/no/such/route", headers=admin_headers)

    assert response.status_code == 404
    assert response.is_json
    assert response.json["success"] is False
    assert response.json["code"] == "RESOURCE_NOT_FOUND"
    assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_wrong_method_is_json_405_with_allow(client, admin_headers):
    response = client.delete(f"{BASE}/auth/status", headers=admin_headers)

    assert response.status_code == 405
    assert response.json["code"] == "METHOD_NOT_ALLOWED"
    assert "GET" in response.headers["Allow"]


def test_paths_outside_the_api_keep_airflows_own_404(client):
    response = client.get("/definitely-not-headrace")

    assert response.status_code == 404
    assert not (response.is_json and "request_id" in response.json)


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get(f"{BASE}/health", headers={"X-Request-ID": "client-abc-123"})
    assert echoed.headers["X-Request-ID"] == "client-abc-123"

    generated = client.get(f"{BASE}/health", headers={"X-Request-ID": "bad id with spaces\u00e9"})
    assert generated.headers["X-Request-ID"].startswith("req_")


def test_invalid_json_is_a_json_400(client):
    response = client.post(
        f"{BASE}/auth/login", data="{not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json["code"] == "INVALID_JSON"


def test_oversized_json_body_is_a_json_413(client):
    response = client.post(
        f"{BASE}/auth/login",
        data=b'{"username": "' + b"a" * (11 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json["code"] == "PAYLOAD_TOO_LARGE"


def test_a_body_not_declared_json_is_a_json_415_in_the_namespace_style(client, admin_headers):
    response = client.delete(
        f"{BASE}/workflows/x", headers={**admin_headers, "Content-Type": "text/plain"}, data='{"force": true}'
    )

    assert response.status_code == 415
    assert response.json["code"] == response.json["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "application/json" in response.json["error"]["message"]


def test_json_nested_too_deeply_is_a_json_400(client):
    response = client.post(
        f"{BASE}/auth/login", data="[" * 5000 + "]" * 5000, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.json["code"] == "INVALID_JSON" and "nested" in response.json["error"]


@pytest.mark.parametrize("depth, refused", [(64, False), (65, True)])
def test_the_nesting_limit_counts_objects_and_arrays(client, depth, refused):
    body = '{"username": ' * (depth - 1) + "[1, 2]" + "}" * (depth - 1)
    response = client.post(f"{BASE}/auth/login", data=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400  # too deep, or not a login
    assert ("nested more than 64 levels" in str(response.json["error"])) is refused


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_numbers_json_does_not_have_are_a_json_400(client, constant):
    response = client.post(
        f"{BASE}/auth/login",
        data='{"username": "admin", "password": ' + constant + "}",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json["code"] == "INVALID_JSON"


def test_unexpected_errors_are_a_json_500_without_internals(app, client, admin_headers, monkeypatch):
    from headrace.api.services import api_keys

    def explode(session):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(api_keys, "list_keys", explode)
    response = client.get(f"{BASE}/auth/api-keys", headers=admin_headers)

    assert response.status_code == 500
    assert response.json["code"] == "INTERNAL_ERROR"
    assert "secret internal detail" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/pipelines/x/status", "object"),
        ("/workflows/x", "object"),
        ("/jobs/x", "context"),
        ("/catalog/x", "envelope"),
    ],
)
def test_errors_use_the_namespace_style(client, path, shape):
    body = client.get(f"{BASE}{path}").json

    # Whatever the namespace, these three are always at the top.
    assert body["success"] is False and body["code"] and body["request_id"]
    if shape == "object":
        assert body["error"]["code"] == body["code"]
        assert body["error"]["request_id"] == body["request_id"]
    elif shape == "context":
        assert isinstance(body["error"], str) and isinstance(body["context"], dict)
    else:
        assert isinstance(body["error"], str)


def test_csrf_does_not_block_json_posts(app):
    """The api-server's Flask app enables CSRFProtect; the API blueprint is exempt."""
    assert app.extensions["csrf"] is not None
    assert app.config.get("WTF_CSRF_ENABLED", True)

    response = app.test_client().post(f"{BASE}/auth/login", json={"username": "admin", "password": "no"})

    assert response.status_code == 401
