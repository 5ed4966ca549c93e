"""Rate-limit attacks, replayed against the real API and its Flask-Limiter counters.

- Anonymous and bad-credential traffic of an address must not spend the budget of ``/auth/login``
  (a flood of bad requests used to lock that address out of logging in).
- Failed logins are limited per account and, separately, per address
  (``[headrace] failed_login_limit``); successful logins never spend that budget.
- API keys count against their owner, so minting keys does not multiply a budget.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BASE

FAILED_LOGIN_LIMIT = "AIRFLOW__HEADRACE__FAILED_LOGIN_LIMIT"


def _login(client, user: str, password: str, address: str = "10.0.0.1"):
    return client.post(
        f"{BASE}/auth/login",
        json={"username": user, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def _assert_locked_out(response) -> None:
    assert response.status_code == 429, response.json
    body = response.json
    assert body["success"] is False and body["code"] == "RATE_LIMIT_EXCEEDED"
    assert isinstance(body["error"], str)  # the auth namespace's (lakehouse-api) error shape
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_a_flood_of_bad_credentials_does_not_lock_the_address_out_of_login(client, passwords, monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMITS", "auth=3 per minute")
    flood = [
        client.get(
            f"{BASE}/auth/status",
            headers={"Authorization": "Bearer not-a-token"},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},
        ).status_code
        for _ in range(5)
    ]
    assert flood[-1] == 429

    assert _login(client, "admin", passwords["admin"]).status_code == 200


def test_failed_logins_lock_the_account_out_everywhere(client, passwords, monkeypatch):
    monkeypatch.setenv(FAILED_LOGIN_LIMIT, "3 per minute")
    for _ in range(3):
        assert _login(client, "vic", "guess").status_code == 401

    # The right password does not get through either: a guess that succeeds is still a guess.
    _assert_locked_out(_login(client, "vic", passwords["vic"]))
    _assert_locked_out(_login(client, "VIC", passwords["vic"], address="10.0.0.2"))
    # Another account from another address is not affected.
    assert _login(client, "ursula", passwords["ursula"], address="10.0.0.2").status_code == 200


def test_failed_logins_are_limited_per_address_across_accounts(client, passwords, monkeypatch):
    monkeypatch.setenv(FAILED_LOGIN_LIMIT, "3 per minute")
    for user in ("admin", "ursula", "opal"):  # one guess per account: no account is locked
        assert _login(client, user, "guess", address="10.0.0.3").status_code == 401

    _assert_locked_out(_login(client, "vic", passwords["vic"], address="10.0.0.3"))
    assert _login(client, "vic", passwords["vic"], address="10.0.0.4").status_code == 200


def test_a_flood_against_one_account_leaves_others_the_address_budget(client, passwords, monkeypatch):
    monkeypatch.setenv(FAILED_LOGIN_LIMIT, "3 per minute")
    for _ in range(2):
        assert _login(client, "vic", "guess").status_code == 401

    assert _login(client, "ursula", passwords["ursula"]).status_code == 200
    assert _login(client, "admin", passwords["admin"]).status_code == 200


def test_successful_logins_never_spend_the_failure_budget(client, passwords, monkeypatch):
    monkeypatch.setenv(FAILED_LOGIN_LIMIT, "2 per minute")
    for _ in range(5):
        assert _login(client, "vic", passwords["vic"]).status_code == 200

    assert [_login(client, "vic", "guess").status_code for _ in range(2)] == [401, 401]
    _assert_locked_out(_login(client, "vic", "guess"))


def test_minting_api_keys_does_not_multiply_the_budget(app, client, monkeypatch):
    """An admin key mints keys for itself; together they still have only their owner's budget."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.utils.session import create_session

    from headrace.api.services import api_keys

    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMITS", "auth=3 per minute")
    now = datetime.now(UTC)
    with create_session() as session:
        _, first = api_keys.create(
            session,
            name="first",
            scopes=["admin"],
            expires_at=now + timedelta(days=1),
            owner="admin",
            owner_claims=get_auth_manager().serialize_user(
                SimpleAuthManagerUser(username="admin", role="admin")
            ),
            now=now,
        )
    minted = []
    for name in ("second", "third"):
        response = client.post(
            f"{BASE}/auth/api-keys", headers={"X-API-Key": first}, json={"name": name, "scopes": ["admin"]}
        )
        assert response.status_code == 201
        minted.append(response.json["data"]["key"])

    statuses = [client.get(f"{BASE}/auth/status", headers={"X-API-Key": key}).status_code for key in minted]

    assert statuses == [200, 429]


@pytest.mark.parametrize("body", [{"username": "vic"}, {"password": "x"}, "not json"])
def test_malformed_logins_are_not_failed_logins(client, monkeypatch, body):
    monkeypatch.setenv(FAILED_LOGIN_LIMIT, "1 per minute")
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body, "content_type": "application/json"}
    for _ in range(3):
        response = client.post(f"{BASE}/auth/login", environ_base={"REMOTE_ADDR": "10.0.0.9"}, **kwargs)
        assert response.status_code == 400
