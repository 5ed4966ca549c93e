"""Secrets handed to clients once and kept only as SHA-256 digests (API keys, refresh tokens)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

ID_PATTERN = r"^[0-9a-f]+$"  # what new_id() hands out


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
