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


def test_refresh_tokens_are_single_use_and_expire(session):
    token = refresh_tokens.issue(
        session, subject="ann", claims={"sub": "ann"}, ttl=timedelta(hours=1), now=NOW
    )
    late = refresh_tokens.issue(
        session, subject="bob", claims={"sub": "bob"}, ttl=timedelta(hours=1), now=NOW
    )

    assert refresh_tokens.redeem(session, token, now=NOW) == {"sub": "ann"}
    assert refresh_tokens.redeem(session, token, now=NOW) is None
    assert refresh_tokens.redeem(session, late, now=NOW + timedelta(hours=2)) is None


def test_issuing_drops_expired_refresh_tokens(session):
    from headrace.db.models import RefreshToken

    refresh_tokens.issue(session, subject="a", claims={}, ttl=timedelta(minutes=1), now=NOW)
    refresh_tokens.issue(
        session, subject="b", claims={}, ttl=timedelta(minutes=1), now=NOW + timedelta(hours=1)
    )

    assert [row.subject for row in session.query(RefreshToken)] == ["b"]


def test_split_token_refuses_malformed_input():
    assert credentials.split_token("hrk_abc.def", "hrk_") == ("abc", "def")
    for bad in ("hrk_.def", "hrk_abc.", "hrk_abc", "abc.def", "hrk_" + "a" * 40 + ".x"):
        assert credentials.split_token(bad, "hrk_") is None
