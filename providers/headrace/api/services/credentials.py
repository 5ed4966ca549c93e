"""Secrets handed to clients once and kept only as SHA-256 digests (API keys, refresh tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Protocol, TypeVar

from sqlalchemy.orm import Session

ID_PATTERN = r"^[0-9a-f]+$"  # what new_id() hands out


class _Hashed(Protocol):
    secret_hash: str


Row = TypeVar("Row", bound=_Hashed)


def new_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    # The secrets are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)


def split_token(token: str, prefix: str) -> tuple[str, str] | None:
    """``<prefix><id>.<secret>`` -> ``(id, secret)``; None when the token is not of that form."""
    if not token.startswith(prefix):
        return None
    key_id, dot, secret = token[len(prefix) :].partition(".")
    if not dot or not key_id or not secret or len(key_id) > 32:
        return None
    return key_id, secret


def find(session: Session, model: type[Row], presented: str, prefix: str) -> Row | None:
    """The row of ``model`` whose id and secret ``presented`` (``<prefix><id>.<secret>``) names;
    None when the token is malformed, names no row or carries the wrong secret.

    The one lookup behind API keys and refresh tokens: whether the row is still usable (expired,
    revoked, used) is for each kind of credential to say.
    """
    parts = split_token(presented, prefix)
    if parts is None:
        return None
    row = session.get(model, parts[0])
    if row is None or not matches(parts[1], row.secret_hash):
        return None
    return row
