"""API keys: admins create them with scopes and an expiry; the secret is shown once, stored hashed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BASE


def _create(client, headers, **body):
    return client.post(f"{BASE}/auth/api-keys", headers=headers, json={"name": "ci", **body})


def test_create_use_list_and_revoke(client, admin_headers):
    created = _create(client, admin_headers, scopes=["read"], expires_in_days=7)
    assert created.status_code == 201
    data = created.json["data"]
    assert data["key"].startswith(f"hrk_{data['id']}.")
    assert data["scopes"] == ["read"] and data["owner"] == "admin" and data["status"] == "active"
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)

    status = client.get(f"{BASE}/auth/status", headers={"X-API-Key": data["key"]})
    assert status.status_code == 200
    assert status.json["data"]["user"] == {
        "username": "admin",
        "authenticated_by": "api_key",
        "scopes": ["read"],
    }

    listed = client.get(f"{BASE}/auth/api-keys", headers=admin_headers).json["data"]
    entry = next(k for k in listed if k["id"] == data["id"])
    assert "key" not in entry and entry["last_used_at"] is not None

    revoked = client.delete(f"{BASE}/auth/api-keys/{data['id']}", headers=admin_headers)
    assert revoked.status_code == 200 and revoked.json["data"]["status"] == "revoked"
    after = client.get(f"{BASE}/auth/status", headers={"X-API-Key": data["key"]})
    assert after.status_code == 401
    assert after.json["code"] == "INVALID_API_KEY"


def test_the_secret_is_stored_only_as_a_hash(app, client, admin_headers):
    from airflow.utils.session import create_session

    from headrace.db.models import ApiKey

    data = _create(client, admin_headers, scopes=["write"]).json["data"]
    secret = data["key"].split(".", 1)[1]
    with create_session() as session:
        row = session.get(ApiKey, data["id"])
        assert secret not in row.secret_hash and len(row.secret_hash) == 64


def test_a_wrong_secret_for_a_real_key_id_is_refused(client, admin_headers):
    data = _create(client, admin_headers, scopes=["read"]).json["data"]
    forged = f"hrk_{data['id']}.not-the-secret"

    assert client.get(f"{BASE}/auth/status", headers={"X-API-Key": forged}).status_code == 401


def test_an_expired_key_is_refused(app, client, admin_headers):
    from airflow.utils.session import create_session

    from headrace.db.models import ApiKey

    data = _create(client, admin_headers, scopes=["read"]).json["data"]
    with create_session() as session:
        session.get(ApiKey, data["id"]).expires_at = datetime.now(UTC) - timedelta(seconds=1)

    assert client.get(f"{BASE}/auth/status", headers={"X-API-Key": data["key"]}).status_code == 401
    listed = client.get(f"{BASE}/auth/api-keys", headers=admin_headers).json["data"]
    assert next(k for k in listed if k["id"] == data["id"])["status"] == "expired"


def test_scopes_narrow_what_a_key_can_do(client, admin_headers):
    read_key = _create(client, admin_headers, scopes=["read"]).json["data"]["key"]
    admin_key = _create(client, admin_headers, scopes=["admin"]).json["data"]["key"]

    denied = _create(client, {"X-API-Key": read_key}, scopes=["read"])
    assert denied.status_code == 403
    assert "'admin' scope" in denied.json["error"]
    assert _create(client, {"X-API-Key": admin_key}, scopes=["read"]).status_code == 201


def test_a_key_cannot_do_more_than_its_creator(app, client):
    """An admin-scoped key owned by a viewer is still held to the viewer's Airflow permissions."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.session import create_session

    from headrace.api.security import Scope
    from headrace.api.services import api_keys

    viewer = SimpleAuthManagerUser(username="vic", role="viewer")
    now = datetime.now(UTC)
    with create_session() as session:
        _, key = api_keys.create(
            session,
            name="viewer-admin",
            scopes=[Scope.ADMIN],
            expires_at=now + timedelta(days=1),
            owner="vic",
            owner_claims=get_auth_manager().serialize_user(viewer),
            now=now,
        )

    response = _create(client, {"X-API-Key": key}, scopes=["read"])

    assert response.status_code == 403
    assert "configuration" in response.json["error"]


def test_ops_may_administer_keys_and_users_may_not(client):
    from tests.conftest import token_for

    assert (
        _create(client, {"Authorization": f"Bearer {token_for('opal')}"}, scopes=["read"]).status_code == 201
    )
    assert (
        _create(client, {"Authorization": f"Bearer {token_for('ursula')}"}, scopes=["read"]).status_code
        == 403
    )


def test_viewers_cannot_list_or_revoke_keys(client, admin_headers, viewer_headers):
    key_id = _create(client, admin_headers, scopes=["read"]).json["data"]["id"]

    assert client.get(f"{BASE}/auth/api-keys", headers=viewer_headers).status_code == 403
    assert client.delete(f"{BASE}/auth/api-keys/{key_id}", headers=viewer_headers).status_code == 403


def test_revoking_an_unknown_key_is_404(client, admin_headers):
    response = client.delete(f"{BASE}/auth/api-keys/doesnotexist", headers=admin_headers)
    assert response.status_code == 404
    assert response.json["code"] == "API_KEY_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["root"]}, "scopes.0"),
        ({"scopes": []}, "scopes"),
        ({"scopes": ["read"], "expires_in_days": 0}, "expires_in_days"),
        ({"scopes": ["read"], "expires_in_days": 4000}, "expires_in_days"),
        ({"scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"scopes": ["read"], "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"scopes": ["read"], "owner": "someone-else"}, "owner"),
        ({"scopes": ["read"], "name": ""}, "name"),
    ],
)
def test_bad_key_requests_name_the_field(client, admin_headers, body, field):
    response = client.post(f"{BASE}/auth/api-keys", headers=admin_headers, json={"name": "ci", **body})

    assert response.status_code == 400, response.json
    assert [d["field"] for d in response.json["details"]] == [field]
