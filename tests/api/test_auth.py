"""Login, status, refresh and logout through the configured auth manager (SimpleAuthManager here)."""

from __future__ import annotations

import pytest

from tests.conftest import BASE


def _login(client, passwords, user="admin", field="username"):
    return client.post(f"{BASE}/auth/login", json={field: user, "password": passwords[user]})


def test_login_answers_both_token_shapes(client, passwords):
    response = _login(client, passwords)

    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "bearer"
    assert 0 < body["expires_in"] <= 86400
    assert body["refresh_token"].startswith("hrr_")
    assert body["success"] is True
    assert body["data"]["token"] == body["access_token"]
    info = body["data"]["tokenInfo"]
    assert info["hasToken"] is True and info["isExpired"] is False
    assert info["expiresAt"].endswith("Z")
    assert abs(info["expiresIn"] - body["expires_in"] * 1000) < 5000


def test_login_accepts_email_as_the_name(client, passwords):
    assert _login(client, passwords, field="email").status_code == 200


def test_the_login_token_authenticates(client, passwords):
    token = _login(client, passwords, user="vic").json["access_token"]

    response = client.get(f"{BASE}/auth/status", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    data = response.json["data"]
    assert data["user"] == {"username": "vic", "authenticated_by": "jwt", "scopes": None}
    assert data["hasToken"] is True and data["isExpired"] is False


def test_wrong_password_is_401_in_the_lakehouse_shape(client):
    response = client.post(f"{BASE}/auth/login", json={"username": "admin", "password": "wrong"})

    assert response.status_code == 401
    assert response.json["success"] is False
    assert response.json["error"] == "Authentication failed: Invalid credentials"
    assert response.json["code"] == "INVALID_CREDENTIALS"
    assert response.json["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"password": "x"}, "username"),
        ({"username": "admin"}, "password"),
        ({"username": "admin", "password": "x", "remember": True}, "remember"),
    ],
)
def test_bad_login_bodies_name_the_field(client, payload, field):
    response = client.post(f"{BASE}/auth/login", json=payload)

    assert response.status_code == 400
    assert response.json["code"] == "VALIDATION_ERROR"
    assert any(error.startswith(field) for error in response.json["errors"]), response.json


def test_the_ui_cookie_authenticates(client, admin_headers):
    token = admin_headers["Authorization"].split()[1]
    client.set_cookie("_token", token)

    response = client.get(f"{BASE}/auth/status")

    assert response.status_code == 200
    assert response.json["data"]["user"]["username"] == "admin"


def test_a_tampered_token_is_refused(client, admin_headers):
    token = admin_headers["Authorization"].split()[1]
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    response = client.get(f"{BASE}/auth/status", headers={"Authorization": f"Bearer {tampered}"})

    assert response.status_code == 401
    assert response.json["code"] == "INVALID_TOKEN"


def test_logout_revokes_the_token(client, passwords):
    token = _login(client, passwords).json["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    response = client.post(f"{BASE}/auth/logout", headers=headers)
    assert response.status_code == 200
    assert response.json == {"success": True, "message": "Logged out successfully"}

    after = client.get(f"{BASE}/auth/status", headers=headers)
    assert after.status_code == 401
    # Airflow's own API refuses it too: the revocation went through the auth manager.
    from airflow.api_fastapi.app import get_auth_manager

    from headrace.api.security import run_sync

    with pytest.raises(Exception, match="revoked"):
        run_sync(get_auth_manager().get_user_from_token(token))


def test_refresh_token_gives_a_new_working_token_once(client, passwords):
    refresh = _login(client, passwords, user="ursula").json["refresh_token"]

    first = client.post(f"{BASE}/auth/refresh", json={"refresh_token": refresh})
    assert first.status_code == 200
    new_token = first.json["access_token"]
    status = client.get(f"{BASE}/auth/status", headers={"Authorization": f"Bearer {new_token}"})
    assert status.json["data"]["user"]["username"] == "ursula"

    again = client.post(f"{BASE}/auth/refresh", json={"refresh_token": refresh})
    assert again.status_code == 401
    assert "already used" in again.json["error"]


def test_refresh_without_body_exchanges_the_bearer_token(client, viewer_headers):
    response = client.post(f"{BASE}/auth/refresh", headers=viewer_headers)

    assert response.status_code == 200
    assert response.json["access_token"] != viewer_headers["Authorization"].split()[1]


def test_refresh_without_anything_is_401(client):
    response = client.post(f"{BASE}/auth/refresh")
    assert response.status_code == 401


def test_logout_can_discard_the_refresh_token(client, passwords):
    login = _login(client, passwords).json
    headers = {"Authorization": f"Bearer {login['access_token']}"}

    client.post(f"{BASE}/auth/logout", headers=headers, json={"refresh_token": login["refresh_token"]})

    response = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert response.status_code == 401


def test_refresh_tokens_are_stored_only_as_hashes(app, client, passwords):
    refresh = _login(client, passwords).json["refresh_token"]
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from headrace.db.models import RefreshToken

    with create_session() as session:
        stored = session.scalars(select(RefreshToken.secret_hash)).all()
    secret = refresh.split(".", 1)[1]
    assert stored and all(secret not in value for value in stored)
