"""Logging in through the configured auth manager, the user behind stored credentials, token facts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.configuration import conf

from headrace.api.errors import InvalidCredentials, NotImplementedByAuthManager, RequestValidationError

# Claims that belong to the token, not to the user it was issued for.
_TOKEN_CLAIMS = {"exp", "iat", "nbf", "jti", "aud", "iss"}


def access_token_lifetime() -> int:
    """Seconds an Airflow JWT lives (``[api_auth] jwt_expiration_time``), the longest we hand out."""
    return conf.getint("api_auth", "jwt_expiration_time")


def login(username: str, password: str, *, lifetime: int) -> tuple[BaseUser, str, dict[str, Any]]:
    """Check a username and password with the auth manager; returns the user, a JWT living at most
    ``lifetime`` seconds, and its claims."""
    from fastapi import HTTPException

    auth_manager = get_auth_manager()
    try:
        token = _create_token(auth_manager, username, password, min(lifetime, access_token_lifetime()))
    except HTTPException as exc:
        if exc.status_code == 400:
            raise RequestValidationError(str(exc.detail)) from exc
        raise InvalidCredentials() from exc
    claims = _claims(token)
    return auth_manager.deserialize_user(claims), token, claims


def issue_token(user: BaseUser, *, not_after: datetime, now: datetime) -> tuple[str, dict[str, Any]]:
    """A fresh JWT for ``user`` from the auth manager that expires by ``not_after``, with its claims."""
    lifetime = min(access_token_lifetime(), int((not_after - now).total_seconds()))
    if lifetime < 1:
        raise InvalidCredentials("The session has reached its maximum lifetime; log in again")
    token = get_auth_manager().generate_jwt(user, expiration_time_in_seconds=lifetime)
    return token, _claims(token)


def claims_of(user: BaseUser) -> dict[str, Any]:
    """Who ``user`` is, as the auth manager serializes them: stored with API keys, refreshed tokens."""
    return get_auth_manager().serialize_user(user)


def revoke(token: str) -> None:
    """Revoke an Airflow JWT; the auth manager remembers its id until it expires."""
    get_auth_manager().revoke_token(token)


def current_user(claims: dict[str, Any]) -> BaseUser | None:
    """The user that stored ``claims`` name, with the permissions the auth manager gives them *now*;
    None when the user no longer exists (or is deactivated).

    API keys and refresh tokens outlive the login that created them, so they are only trusted to say
    *who* the user is: a role lowered since then must not survive in them. The FAB auth manager's
    ``deserialize_user`` reads the user (and its roles) from its database, so it is current already;
    SimpleAuthManager's rebuilds the role from the claims themselves, so for it the user is looked up
    among the configured ``[core] simple_auth_manager_users`` instead.
    """
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    auth_manager = get_auth_manager()
    try:
        if isinstance(auth_manager, SimpleAuthManager) and not conf.getboolean(
            "core", "simple_auth_manager_all_admins"
        ):
            users = {user.username: user for user in auth_manager.get_users()}
            return users.get(claims["sub"])
        return auth_manager.deserialize_user(claims)
    except (KeyError, ValueError):  # claims of another shape, or a user the auth manager no longer has
        return None


def _claims(token: str) -> dict[str, Any]:
    # Only for tokens the auth manager has just signed: reading exp/jti needs no verification.
    return jwt.decode(token, options={"verify_signature": False})


def _create_token(auth_manager, username: str, password: str, lifetime: int) -> str:
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    if isinstance(auth_manager, SimpleAuthManager):
        from airflow.api_fastapi.auth.managers.simple.datamodels.login import LoginBody
        from airflow.api_fastapi.auth.managers.simple.services.login import SimpleAuthManagerLogin

        return SimpleAuthManagerLogin.create_token(
            LoginBody(username=username, password=password), expiration_time_in_seconds=lifetime
        )
    if hasattr(auth_manager, "create_token"):  # FAB and Keycloak auth managers
        user = auth_manager.create_token(headers={}, body={"username": username, "password": password})
        if not user:
            raise InvalidCredentials()
        return auth_manager.generate_jwt(user, expiration_time_in_seconds=lifetime)
    raise NotImplementedByAuthManager(
        f"{type(auth_manager).__name__} does not take passwords; log in through Airflow and send "
        "its token as 'Authorization: Bearer <token>'"
    )


def user_claims(token_claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in token_claims.items() if k not in _TOKEN_CLAIMS}


def token_facts(expires_at: datetime | None, *, now: datetime | None = None) -> dict[str, Any]:
    """The lakehouse-api ``tokenInfo`` fields."""
    now = now or datetime.now(UTC)
    if expires_at is None:
        return {"hasToken": True, "isExpired": False, "expiresAt": None, "expiresIn": None}
    remaining_ms = int((expires_at - now).total_seconds() * 1000)
    return {
        "hasToken": True,
        "isExpired": remaining_ms <= 0,
        "expiresAt": expires_at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "expiresIn": max(remaining_ms, 0),
    }
