"""Login, refresh, status and logout (lakehouse-api, pipelines-api and workflows-api auth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.api_fastapi.app import get_auth_manager
from airflow.utils.session import create_session

from headrace import config
from headrace.api.datamodels.auth import (
    LoginData,
    LoginRequest,
    LoginResponse,
    LogoutRequest,
    RefreshRequest,
    StatusData,
    TokenInfo,
    UserInfo,
)
from headrace.api.datamodels.common import MessageResponse
from headrace.api.errors import BadRequest, InvalidCredentials
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Principal, authenticated, current_principal
from headrace.api.services import auth, refresh_tokens


def _token_answer(token: str, claims: dict, subject: str) -> LoginResponse:
    now = datetime.now(UTC)
    with create_session() as session:
        refresh = refresh_tokens.issue(
            session,
            subject=subject,
            claims=auth.user_claims(claims),
            ttl=timedelta(seconds=config.refresh_token_expiration()),
            now=now,
        )
    expires_at = datetime.fromtimestamp(claims["exp"], UTC)
    return LoginResponse(
        access_token=token,
        refresh_token=refresh,
        expires_in=max(int((expires_at - now).total_seconds()), 0),
        data=LoginData(token=token, tokenInfo=TokenInfo(**auth.token_facts(expires_at, now=now))),
    )


@endpoint(
    "/auth/login",
    "POST",
    Namespace.AUTH,
    summary="Log in with a username (or email) and password",
    permission=None,
    body=LoginRequest,
    response=LoginResponse,
    wrap=False,
    errors=(400, 401),
)
def login(body: LoginRequest):
    """Checks the password with Airflow's auth manager and answers an Airflow JWT plus a refresh token."""
    user, token, claims = auth.login(body.login_name, body.password)
    return _token_answer(token, claims, user.get_name())


@endpoint(
    "/auth/refresh",
    "POST",
    Namespace.AUTH,
    summary="Exchange a refresh token (or the current token) for a new token",
    permission=None,
    body=RefreshRequest,
    response=LoginResponse,
    wrap=False,
    errors=(400, 401),
)
def refresh(body: RefreshRequest):
    """With ``refresh_token`` (single use) or, without a body, with a still-valid bearer token."""
    if body.refresh_token:
        with create_session() as session:
            claims = refresh_tokens.redeem(session, body.refresh_token, now=datetime.now(UTC))
        if claims is None:
            raise InvalidCredentials("Invalid, expired or already used refresh token")
        user = get_auth_manager().deserialize_user(claims)
    else:
        principal = current_principal()
        if principal is None:
            raise InvalidCredentials("Send a refresh_token, or a valid bearer token to refresh")
        if principal.kind != "jwt":
            raise BadRequest("API keys do not expire like tokens and cannot be refreshed")
        user = principal.user
    token, claims = auth.issue_token(user)
    return _token_answer(token, claims, user.get_name())


@endpoint(
    "/auth/status",
    "GET",
    Namespace.AUTH,
    summary="Who is calling, and when their credentials expire",
    permission=authenticated(),
    response=StatusData,
)
def status(principal: Principal):
    """The lakehouse-api token facts, plus the user and how they authenticated."""
    return StatusData(
        **auth.token_facts(principal.expires_at),
        user=UserInfo(
            username=principal.username,
            authenticated_by=principal.kind,
            scopes=list(principal.scopes) if principal.kind == "api_key" else None,
        ),
    )


@endpoint(
    "/auth/logout",
    "POST",
    Namespace.AUTH,
    summary="Revoke the current token",
    permission=authenticated(),
    body=LogoutRequest,
    response=MessageResponse,
    wrap=False,
)
def logout(principal: Principal, body: LogoutRequest):
    """The token is revoked through the auth manager, which remembers its id until it expires."""
    if principal.kind != "jwt":
        raise BadRequest("API keys are revoked with DELETE /auth/api-keys/{id}")
    get_auth_manager().revoke_token(principal.token)
    if body.refresh_token:
        with create_session() as session:
            refresh_tokens.discard(session, body.refresh_token, now=datetime.now(UTC))
    return MessageResponse(message="Logged out successfully")
