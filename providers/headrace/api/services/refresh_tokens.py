"""Single-use refresh tokens: exchanged once for a new access token and a new refresh token."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from headrace.api.services import credentials
from headrace.db.models import RefreshToken

TOKEN_PREFIX = "hrr_"


def issue(session: Session, *, subject: str, claims: dict, ttl: timedelta, now: datetime) -> str:
    token_id, secret = credentials.new_id(), credentials.new_secret()
    session.add(
        RefreshToken(
            id=token_id,
            secret_hash=credentials.digest(secret),
            subject=subject,
            claims=claims,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    # Expired tokens are useless; dropping them here keeps the table as small as the live set.
    session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    session.flush()
    return f"{TOKEN_PREFIX}{token_id}.{secret}"


def redeem(session: Session, presented: str, *, now: datetime) -> dict | None:
    """Use up a refresh token; returns the user claims it was issued for, or None if not valid."""
    row = _find(session, presented)
    if row is None:
        return None
    # A conditional UPDATE, so that two concurrent refreshes cannot both use the same token.
    used = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return row.claims if used.rowcount == 1 else None


def discard(session: Session, presented: str, *, now: datetime) -> None:
    """Make a refresh token unusable (logout)."""
    row = _find(session, presented)
    if row is not None and row.used_at is None:
        row.used_at = now


def _find(session: Session, presented: str) -> RefreshToken | None:
    parts = credentials.split_token(presented, TOKEN_PREFIX)
    if parts is None:
        return None
    row = session.get(RefreshToken, parts[0])
    if row is None or not credentials.matches(parts[1], row.secret_hash):
        return None
    return row
