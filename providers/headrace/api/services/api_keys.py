"""API keys: created by an administrator with scopes and an expiry, shown once, stored hashed.

Scopes are plain strings here (the values of :class:`headrace.api.security.Scope`): what a scope
allows is the security layer's business, the service only stores what the caller gives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from headrace import config
from headrace.api.errors import RequestValidationError
from headrace.api.services import credentials
from headrace.db.models import ApiKey

KEY_PREFIX = "hrk_"
# Writing last_used_at on every request would turn each read into a write; once a minute is enough.
_LAST_USED_GRANULARITY = timedelta(minutes=1)
# What a key tells about itself; never its secret's digest.
_PUBLIC_FIELDS = ("id", "name", "scopes", "owner", "created_at", "expires_at", "revoked_at", "last_used_at")

Status = Literal["active", "expired", "revoked"]


def create(
    session: Session,
    *,
    name: str,
    scopes: Iterable[str],
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
        scopes=sorted({str(s) for s in scopes}),
        owner=owner,
        owner_claims=owner_claims,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"{KEY_PREFIX}{key_id}.{secret}"


def expiry(*, expires_at: datetime | None, expires_in_days: int | None, now: datetime) -> datetime:
    """When a new key expires: ``expires_at``, else ``expires_in_days`` (or the configured default)
    from now, within ``[headrace] api_key_max_expiry_days``; a RequestValidationError names the field.

    The range is checked before any date arithmetic, which would overflow past the year 9999 for
    absurd values.
    """
    most = config.api_key_max_expiry_days()
    if expires_at is not None:
        field, lifetime = "expires_at", expires_at - now  # no datetime is built: cannot overflow
    else:
        field, days = "expires_in_days", expires_in_days or config.api_key_default_expiry_days()
        if not 1 <= days <= most:
            raise RequestValidationError.for_field(
                field, f"must be between 1 and {most} days ([headrace] api_key_max_expiry_days)"
            )
        lifetime = timedelta(days=days)
    if lifetime <= timedelta(0):
        raise RequestValidationError.for_field(field, "must be in the future")
    if lifetime > timedelta(days=most):
        raise RequestValidationError.for_field(
            field, f"must be at most {most} days from now ([headrace] api_key_max_expiry_days)"
        )
    return now + lifetime


def status(key: ApiKey, now: datetime) -> Status:
    if key.revoked_at is not None:
        return "revoked"
    return "expired" if key.expires_at <= now else "active"


def describe(key: ApiKey, now: datetime) -> dict[str, Any]:
    """What an administrator may see of a key: its public fields and its status."""
    return {name: getattr(key, name) for name in _PUBLIC_FIELDS} | {"status": status(key, now)}


def verify(session: Session, presented: str, *, now: datetime) -> ApiKey | None:
    """The live key matching ``presented``, or None (unknown, wrong secret, expired or revoked)."""
    key = credentials.find(session, ApiKey, presented, KEY_PREFIX)
    if key is None or status(key, now) != "active":
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
