"""Single-use refresh tokens: exchanged once for a new access token and a new refresh token.

Every token belongs to a chain that starts at a login and ends ``chain_expires_at`` later, whatever
is refreshed in between: no token of the chain expires after it, and none is redeemed past it. A
refresh token is stored under the id (``jti``) of the access token it was issued with, so that
exchanging that access token itself (``POST /auth/refresh`` with a bearer token) stays in the chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from headrace.api.services import credentials
from headrace.db.models import RefreshToken

TOKEN_PREFIX = "hrr_"
_TOKEN_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class Grant:
    """What a redeemed refresh token stood for: the user's claims and the end of its chain."""

    claims: dict[str, Any]
    chain_expires_at: datetime


def issue(
    session: Session,
    *,
    subject: str,
    claims: dict,
    ttl: timedelta,
    chain_expires_at: datetime,
    now: datetime,
    access_token_id: Any = None,
    access_ttl: timedelta = timedelta(0),
) -> str:
    """A new refresh token, expiring after ``ttl`` but never after ``chain_expires_at``.

    ``access_token_id`` is the ``jti`` of the access token handed out with it, ``access_ttl`` the
    longest an access token lives: a row is kept until neither token can be used any more.
    """
    token_id = access_token_id if _TOKEN_ID.match(str(access_token_id or "")) else credentials.new_id()
    secret = credentials.new_secret()
    session.add(
        RefreshToken(
            id=token_id,
            secret_hash=credentials.digest(secret),
            subject=subject,
            claims=claims,
            created_at=now,
            expires_at=min(now + ttl, chain_expires_at),
            chain_expires_at=chain_expires_at,
        )
    )
    # Rows nobody can use any more are dropped here, which keeps the table as small as the live set.
    session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now - access_ttl))
    session.flush()
    return f"{TOKEN_PREFIX}{token_id}.{secret}"


def redeem(session: Session, presented: str, *, now: datetime, max_lifetime: timedelta) -> Grant | None:
    """Use up a refresh token; None if it is not valid, already used, expired or its chain is over.

    ``max_lifetime`` bounds the chains of tokens issued before chains were recorded.
    """
    row = _find(session, presented)
    if row is None:
        return None
    chain_end = _chain_end(row, max_lifetime)
    if chain_end <= now:
        return None
    # A conditional UPDATE, so that two concurrent refreshes cannot both use the same token.
    used = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return Grant(claims=row.claims, chain_expires_at=chain_end) if used.rowcount == 1 else None


def chain_of_access_token(
    session: Session, access_token_id: str, *, max_lifetime: timedelta
) -> datetime | None:
    """The end of the chain the access token ``access_token_id`` was issued in; None if not ours."""
    row = session.get(RefreshToken, access_token_id) if _TOKEN_ID.match(access_token_id) else None
    return None if row is None else _chain_end(row, max_lifetime)


def discard(session: Session, presented: str, *, now: datetime) -> None:
    """Make a refresh token unusable (logout)."""
    row = _find(session, presented)
    if row is not None and row.used_at is None:
        row.used_at = now


def _chain_end(row: RefreshToken, max_lifetime: timedelta) -> datetime:
    return row.chain_expires_at or row.created_at + max_lifetime


def _find(session: Session, presented: str) -> RefreshToken | None:
    return credentials.find(session, RefreshToken, presented, TOKEN_PREFIX)
