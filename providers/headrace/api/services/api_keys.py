"""API keys: created by an administrator with scopes and an expiry, shown once, stored hashed."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from headrace.api.services import credentials
from headrace.db.models import ApiKey

KEY_PREFIX = "hrk_"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
_LAST_USED_GRANULARITY = timedelta(minutes=1)


class Scope(StrEnum):
    """What a key may do, on top of what its creator may do."""

    READ = "read"
    WRITE = "write"
    EXECUTOR = "executor"
    ADMIN = "admin"


# A scope grants itself and the scopes listed here.
_IMPLIED = {
    Scope.ADMIN: {Scope.READ, Scope.WRITE, Scope.EXECUTOR},
    Scope.WRITE: {Scope.READ},
    Scope.EXECUTOR: set(),
    Scope.READ: set(),
}


def grants(scopes: list[str], required: Scope) -> bool:
    held = {Scope(s) for s in scopes}
    return any(required is s or required in _IMPLIED[s] for s in held)


def create(
    session: Session,
    *,
    name: str,
    scopes: list[Scope],
    expires_at: datetime,
    owner: str,
    owner_claims: dict,
    now: datetime,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext key, which is never stored."""
    key_id, secret = credentials.new_id(), credentials.new_secret()
    key = ApiKey(
        id=key_id,
        name=name,
        secret_hash=credentials.digest(secret),
        scopes=sorted({s.value for s in scopes}),
        owner=owner,
        owner_claims=owner_claims,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{key_id}.{secret}"


def verify(session: Session, presented: str, *, now: datetime) -> ApiKey | None:
    """The live key matching ``presented``, or None (unknown, wrong secret, expired or revoked)."""
    parts = credentials.split_token(presented, KEY_PREFIX)
    if parts is None:
        return None
    key = session.get(ApiKey, parts[0])
    if key is None or not credentials.matches(parts[1], key.secret_hash):
        return None
    if key.revoked_at is not None or key.expires_at <= now:
        return None
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_GRANULARITY:
        key.last_used_at = now
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)))


def revoke(session: Session, key_id: str, *, now: datetime) -> ApiKey | None:
    """Revoke a key (idempotent); None when no such key exists."""
    key = session.get(ApiKey, key_id)
    if key is not None and key.revoked_at is None:
        key.revoked_at = now
    return key
