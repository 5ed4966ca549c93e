"""The API-key and refresh-token services on a plain SQLAlchemy session (no Flask, no Airflow app)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from headrace.api.scopes import Scope, grants
from headrace.api.services import api_keys, credentials, refresh_tokens
from headrace.db.models import metadata

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def _key(session, **overrides):
    options = {
        "name": "ci",
        "scopes": [Scope.READ],
        "expires_at": NOW + timedelta(days=1),
        "owner": "admin",
        "owner_claims": {"sub": "admin", "role": "admin"},
        "now": NOW,
    }
    return api_keys.create(session, **(options | overrides))


def test_a_created_key_verifies_and_records_its_use(session):
    row, plaintext = _key(session)

    found = api_keys.verify(session, plaintext, now=NOW + timedelta(minutes=5))

    assert found is row
    assert found.last_used_at == NOW + timedelta(minutes=5)
    assert plaintext.split(".", 1)[1] not in row.secret_hash


@pytest.mark.parametrize(
    "mangle",
    [
        lambda key: key + "x",
        lambda key: key.replace("hrk_", "hrx_"),
        lambda key: key.split(".")[0],
        lambda key: "hrk_unknown.secret",
        lambda key: "",
    ],
)
def test_anything_but_the_exact_key_is_refused(session, mangle):
    _, plaintext = _key(session)
    assert api_keys.verify(session, mangle(plaintext), now=NOW) is None


def test_expired_and_revoked_keys_are_refused(session):
    _, expiring = _key(session, expires_at=NOW + timedelta(hours=1))
    revoked_row, revoked = _key(session)
    api_keys.revoke(session, revoked_row.id, now=NOW)

    assert api_keys.verify(session, expiring, now=NOW + timedelta(hours=1)) is None
    assert api_keys.verify(session, revoked, now=NOW) is None
    assert api_keys.revoke(session, "missing", now=NOW) is None


@pytest.mark.parametrize(
    ("held", "required", "granted"),
    [
        (["read"], Scope.READ, True),
        (["read"], Scope.WRITE, False),
        (["write"], Scope.READ, True),
        (["executor"], Scope.READ, False),
        (["executor"], Scope.EXECUTOR, True),
        (["admin"], Scope.EXECUTOR, True),
        (["read", "executor"], Scope.WRITE, False),
    ],
)
def test_scope_implication(held, required, granted):
    assert grants(held, required) is granted


def _refresh(session, subject, *, ttl=timedelta(hours=1), chain=timedelta(days=30), now=NOW, **extra):
    return refresh_tokens.issue(
        session,
        subject=subject,
        claims={"sub": subject},
        ttl=ttl,
        chain_expires_at=now + chain,
        now=now,
        **extra,
    )


def test_refresh_tokens_are_single_use_and_expire(session):
    token = _refresh(session, "ann")
    late = _refresh(session, "bob")
    life = timedelta(days=30)

    grant = refresh_tokens.redeem(session, token, now=NOW, max_lifetime=life)
    assert grant == refresh_tokens.Grant(claims={"sub": "ann"}, chain_expires_at=NOW + life)
    assert refresh_tokens.redeem(session, token, now=NOW, max_lifetime=life) is None
    assert refresh_tokens.redeem(session, late, now=NOW + timedelta(hours=2), max_lifetime=life) is None


def test_a_refresh_token_never_outlives_its_chain(session):
    from headrace.db.models import RefreshToken

    token = _refresh(session, "ann", ttl=timedelta(days=7), chain=timedelta(hours=1))
    row = session.get(RefreshToken, token.removeprefix("hrr_").split(".")[0])

    assert row.expires_at == NOW + timedelta(hours=1) == row.chain_expires_at
    row.expires_at = NOW + timedelta(days=7)  # even if its own expiry were later
    late = NOW + timedelta(hours=2)
    assert refresh_tokens.redeem(session, token, now=late, max_lifetime=timedelta(days=30)) is None


def test_tokens_from_before_chains_end_max_lifetime_after_their_creation(session):
    from headrace.db.models import RefreshToken

    token = _refresh(session, "ann", ttl=timedelta(days=7))
    session.get(RefreshToken, token.removeprefix("hrr_").split(".")[0]).chain_expires_at = None

    hour = timedelta(hours=1)
    assert refresh_tokens.redeem(session, token, now=NOW + 2 * hour, max_lifetime=hour) is None
    grant = refresh_tokens.redeem(session, token, now=NOW, max_lifetime=hour)
    assert grant.chain_expires_at == NOW + hour


def test_a_refresh_token_is_found_by_its_access_token(session):
    jti = "0123456789abcdef0123456789abcdef"
    token = _refresh(session, "ann", access_token_id=jti)

    assert token.startswith(f"hrr_{jti}.")
    life = timedelta(days=30)
    assert refresh_tokens.chain_of_access_token(session, jti, max_lifetime=life) == NOW + life
    assert refresh_tokens.chain_of_access_token(session, "f" * 32, max_lifetime=life) is None
    # A jti that could not be a token id is not used as one.
    assert not _refresh(session, "bob", access_token_id="a.b").startswith("hrr_a.b")


def test_issuing_drops_refresh_tokens_nobody_can_use(session):
    from headrace.db.models import RefreshToken

    minute, hour = timedelta(minutes=1), timedelta(hours=1)
    _refresh(session, "a", ttl=minute)
    _refresh(session, "b", ttl=minute, now=NOW + 30 * minute, access_ttl=hour)
    assert {row.subject for row in session.query(RefreshToken)} == {"a", "b"}  # a's access token may live

    _refresh(session, "c", ttl=minute, now=NOW + 80 * minute, access_ttl=hour)
    assert {row.subject for row in session.query(RefreshToken)} == {"b", "c"}


def test_split_token_refuses_malformed_input():
    assert credentials.split_token("hrk_abc.def", "hrk_") == ("abc", "def")
    for bad in ("hrk_.def", "hrk_abc.", "hrk_abc", "abc.def", "hrk_" + "a" * 40 + ".x"):
        assert credentials.split_token(bad, "hrk_") is None


def test_the_service_stores_scopes_as_plain_strings(session):
    row, _ = _key(session, scopes=[Scope.WRITE, "read", Scope.WRITE])

    assert row.scopes == ["read", "write"] and all(type(s) is str for s in row.scopes)


def test_one_lookup_serves_keys_and_refresh_tokens(session):
    from headrace.db.models import ApiKey, RefreshToken

    row, plaintext = _key(session)
    token = _refresh(session, "ann")

    assert credentials.find(session, ApiKey, plaintext, api_keys.KEY_PREFIX) is row
    assert credentials.find(session, RefreshToken, token, refresh_tokens.TOKEN_PREFIX).subject == "ann"
    # A key is no refresh token, and the right id with another secret finds nothing.
    assert credentials.find(session, RefreshToken, plaintext, refresh_tokens.TOKEN_PREFIX) is None
    forged = plaintext.rsplit(".", 1)[0] + ".not-the-secret"
    assert credentials.find(session, ApiKey, forged, api_keys.KEY_PREFIX) is None


def test_security_does_not_reach_into_the_api_key_service_for_scopes():
    """No cycle: the service knows scopes as strings and never imports the security layer."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(api_keys))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {"headrace.api.security", "headrace.api.scopes"} & imported
    assert not hasattr(api_keys, "Scope") and not hasattr(api_keys, "grants")


@pytest.mark.parametrize(
    ("expiry", "field", "message"),
    [
        ({"expires_in_days": -1}, "expires_in_days", "must be between 1 and"),
        ({"expires_in_days": 10**9}, "expires_in_days", "must be between 1 and"),
        ({"expires_at": NOW - timedelta(seconds=1)}, "expires_at", "must be in the future"),
        ({"expires_at": NOW + timedelta(days=10**5)}, "expires_at", "must be at most"),
    ],
)
def test_an_expiry_out_of_range_names_its_field(expiry, field, message):
    from headrace.api.errors import RequestValidationError

    with pytest.raises(RequestValidationError) as raised:
        api_keys.expiry(**({"expires_at": None, "expires_in_days": None} | expiry), now=NOW)

    assert [d["field"] for d in raised.value.details] == [field]
    assert message in raised.value.details[0]["message"]


def test_a_key_reports_its_status(session):
    row, _ = _key(session, expires_at=NOW + timedelta(hours=1))

    assert api_keys.describe(row, NOW)["status"] == "active" and "secret_hash" not in api_keys.describe(
        row, NOW
    )
    assert api_keys.status(row, NOW + timedelta(hours=1)) == "expired"
    api_keys.revoke(session, row.id, now=NOW)
    assert api_keys.status(row, NOW) == "revoked"
