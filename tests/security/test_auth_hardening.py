"""Attacks on API keys, refresh tokens and the UI cookie, replayed against the real API.

- An absurd ``expires_in_days`` must be a 400 naming the field, not a 500 from a date overflow.
- The Airflow UI cookie ``_token`` is sent by the browser with cross-site requests as well, so it
  must not authorize a state-changing request that does not prove it comes from this site.
- API keys and refresh tokens outlive the login that created them: they must act with their owner's
  current role (looked up through the auth manager), and a refresh chain ends
  ``[headrace] refresh_token_max_lifetime`` after its login.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.conftest import BASE, USERS, token_for

CROSS_SITE = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
USERS_ENV = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"


def _users(**roles: str | None) -> str:
    """The configured users with some roles changed; a role of None removes the user."""
    merged = {**USERS, **roles}
    return ",".join(f"{name}:{role}" for name, role in merged.items() if role is not None)


def _login(client, passwords, user: str):
    response = client.post(f"{BASE}/auth/login", json={"username": user, "password": passwords[user]})
    assert response.status_code == 200, response.json
    return response.json


def _mint(client, headers, **body):
    return client.post(
        f"{BASE}/auth/api-keys", headers=headers, json={"name": "attack", "scopes": ["admin"], **body}
    )


def _refresh_row(refresh_token: str):
    from airflow.utils.session import create_session

    from headrace.db.models import RefreshToken

    with create_session() as session:
        row = session.get(RefreshToken, refresh_token.removeprefix("hrr_").split(".", 1)[0])
        session.expunge(row)
        return row


# --- expires_in_days -----------------------------------------------------------------------------


@pytest.mark.parametrize("days", [3_000_000, 10**30])
def test_an_absurd_expires_in_days_is_a_400_naming_the_field(client, admin_headers, days):
    response = _mint(client, admin_headers, expires_in_days=days)

    assert response.status_code == 400, response.json
    assert response.json["code"] == "VALIDATION_ERROR"
    [detail] = response.json["details"]
    assert detail["field"] == "expires_in_days"
    assert "365" in detail["message"] and "api_key_max_expiry_days" in detail["message"]


def test_an_expires_at_at_the_end_of_time_is_a_400(client, admin_headers):
    response = _mint(client, admin_headers, expires_at="9999-12-31T23:59:59-05:00")

    assert response.status_code == 400, response.json
    assert [d["field"] for d in response.json["details"]] == ["expires_at"]


# --- the UI cookie -------------------------------------------------------------------------------


def _keys(client, admin_headers) -> set[str]:
    return {k["id"] for k in client.get(f"{BASE}/auth/api-keys", headers=admin_headers).json["data"]}


@pytest.mark.parametrize(
    "headers",
    [
        CROSS_SITE,
        {"Origin": "https://evil.example"},  # a browser without fetch metadata
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not this origin
        {},  # not a browser at all: no proof of origin
    ],
)
def test_a_cross_site_form_post_with_the_ui_cookie_is_refused(client, admin_headers, headers):
    """The classic JSON CSRF: a form posts a JSON-looking text/plain body; the browser adds the cookie."""
    client.set_cookie("_token", token_for("admin"))
    before = _keys(client, admin_headers)

    response = client.post(
        f"{BASE}/auth/api-keys",
        data='{"name": "csrf", "scopes": ["admin"]}',
        content_type="text/plain",
        headers=headers,
    )

    assert response.status_code == 403, response.json
    assert response.json["success"] is False
    assert response.json["code"] == "CSRF_CHECK_FAILED"
    assert _keys(client, admin_headers) == before


@pytest.mark.parametrize(
    "headers", [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}], ids=["fetch", "origin"]
)
def test_a_same_origin_request_may_use_the_cookie(client, headers):
    client.set_cookie("_token", token_for("admin"))

    assert _mint(client, headers).status_code == 201
    assert client.post(f"{BASE}/auth/logout", headers=headers).status_code == 200


def test_cookie_reads_and_explicit_credentials_are_unaffected(client, admin_headers):
    client.set_cookie("_token", token_for("vic"))

    assert client.get(f"{BASE}/auth/status", headers=CROSS_SITE).status_code == 200
    # A bearer token is never sent by the browser on its own: it wins over the cookie, from anywhere.
    assert _mint(client, {**admin_headers, **CROSS_SITE}).status_code == 201


# --- current permissions -------------------------------------------------------------------------


def test_an_api_key_loses_the_role_its_owner_lost(client, monkeypatch):
    key = _mint(client, {"Authorization": f"Bearer {token_for('opal')}"}).json["data"]["key"]
    assert _mint(client, {"X-API-Key": key}).status_code == 201  # an op may administer keys

    monkeypatch.setenv(USERS_ENV, _users(opal="viewer"))
    response = _mint(client, {"X-API-Key": key})

    assert response.status_code == 403, response.json
    assert response.json["code"] == "PERMISSION_DENIED"


def test_an_api_key_of_a_removed_user_is_refused(client, monkeypatch):
    key = _mint(client, {"Authorization": f"Bearer {token_for('opal')}"}).json["data"]["key"]

    monkeypatch.setenv(USERS_ENV, _users(opal=None))
    response = client.get(f"{BASE}/auth/status", headers={"X-API-Key": key})

    assert response.status_code == 401
    assert response.json["code"] == "INVALID_API_KEY"


def test_a_refresh_hands_out_the_current_role(client, passwords, monkeypatch):
    login = _login(client, passwords, "opal")

    monkeypatch.setenv(USERS_ENV, _users(opal="viewer"))
    refreshed = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login["refresh_token"]})

    assert refreshed.status_code == 200, refreshed.json
    token = refreshed.json["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["role"] == "viewer"
    assert _mint(client, {"Authorization": f"Bearer {token}"}).status_code == 403


def test_exchanging_a_bearer_token_hands_out_the_current_role(client, passwords, monkeypatch):
    login = _login(client, passwords, "opal")

    monkeypatch.setenv(USERS_ENV, _users(opal="viewer"))
    exchanged = client.post(
        f"{BASE}/auth/refresh", headers={"Authorization": f"Bearer {login['access_token']}"}
    )

    assert exchanged.status_code == 200, exchanged.json
    assert jwt.decode(exchanged.json["access_token"], options={"verify_signature": False})["role"] == "viewer"


def test_a_removed_user_cannot_refresh(client, passwords, monkeypatch):
    login = _login(client, passwords, "opal")

    monkeypatch.setenv(USERS_ENV, _users(opal=None))
    response = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login["refresh_token"]})

    assert response.status_code == 401
    assert response.json["code"] == "INVALID_CREDENTIALS"


# --- refresh chains ------------------------------------------------------------------------------


def test_no_token_of_a_chain_outlives_its_absolute_lifetime(client, passwords, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__REFRESH_TOKEN_MAX_LIFETIME", "120")
    started = datetime.now(UTC)

    login = _login(client, passwords, "ursula")
    first = _refresh_row(login["refresh_token"])
    refreshed = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login["refresh_token"]}).json
    second = _refresh_row(refreshed["refresh_token"])
    exchanged = client.post(
        f"{BASE}/auth/refresh", headers={"Authorization": f"Bearer {refreshed['access_token']}"}
    ).json
    third = _refresh_row(exchanged["refresh_token"])

    end = first.chain_expires_at
    assert started + timedelta(seconds=119) <= end <= datetime.now(UTC) + timedelta(seconds=120)
    assert second.chain_expires_at == end and third.chain_expires_at == end
    for answer, row in ((login, first), (refreshed, second), (exchanged, third)):
        assert answer["expires_in"] <= 120
        assert row.expires_at <= end
        access_exp = jwt.decode(answer["access_token"], options={"verify_signature": False})["exp"]
        assert access_exp <= end.timestamp()


def test_a_refresh_past_the_chain_end_is_refused(client, passwords):
    """Thirty days after the login, a refresh token that is itself still fresh no longer works."""
    from airflow.utils.session import create_session

    from headrace.db.models import RefreshToken

    login = _login(client, passwords, "ursula")
    with create_session() as session:
        row = session.get(RefreshToken, _refresh_row(login["refresh_token"]).id)
        row.chain_expires_at = datetime.now(UTC) - timedelta(seconds=1)

    response = client.post(f"{BASE}/auth/refresh", json={"refresh_token": login["refresh_token"]})
    exchanged = client.post(
        f"{BASE}/auth/refresh", headers={"Authorization": f"Bearer {login['access_token']}"}
    )

    assert response.status_code == 401 and response.json["code"] == "INVALID_CREDENTIALS"
    assert exchanged.status_code == 401 and exchanged.json["code"] == "INVALID_CREDENTIALS"
