"""The API-key and refresh-token services on a plain SQLAlchemy session (no Flask, no Airflow app)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from headrace.api.services import api_keys, credentials, refresh_tokens
from headrace.api.services.api_keys import Scope
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
    assert api_keys.grants(held, required) is granted


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
