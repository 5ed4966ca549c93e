"""Login, refresh, status and logout (lakehouse-api, pipelines-api and workflows-api auth)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

from headrace import config
from headrace.api import sessions
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
from headrace.api.ratelimit import login_endpoint
from headrace.api.registry import endpoint
from headrace.api.security import Principal, authenticated, current_principal
from headrace.api.services import auth, refresh_tokens


def _max_lifetime() -> timedelta:
    return timedelta(seconds=config.refresh_token_max_lifetime())


def _token_answer(token: str, claims: dict, user: BaseUser, chain_expires_at: datetime) -> LoginResponse:
    """The access token, and a refresh token in the same chain (it never outlives the chain)."""
    now = datetime.now(UTC)
    with sessions.transaction() as session:
        refresh = refresh_tokens.issue(
            session,
            subject=user.get_name(),
            claims=auth.user_claims(claims),
            ttl=timedelta(seconds=config.refresh_token_expiration()),
            chain_expires_at=chain_expires_at,
            now=now,
            access_token_id=claims.get("jti"),
            access_ttl=timedelta(seconds=auth.access_token_lifetime()),
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
@login_endpoint
def login(body: LoginRequest):
    """Checks the password with Airflow's auth manager and answers an Airflow JWT plus a refresh token.

    Failed logins are limited per account and per address (`[headrace] failed_login_limit`): past
    the limit every login of that account, or from that address, is a 429 until the window ends.
    The login starts a chain of refresh tokens that ends `[headrace] refresh_token_max_lifetime`
    seconds later.
    """
    lifetime = config.refresh_token_max_lifetime()
    user, token, claims = auth.login(body.login_name, body.password, lifetime=lifetime)
    return _token_answer(token, claims, user, _issued_at(claims) + timedelta(seconds=lifetime))


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
    """With `refresh_token` (single use) or, without a body, with a still-valid bearer token.

    The new token carries the user's current role (a user removed since is refused), and neither
    token expires after the end of the chain its login started.
    """
    now = datetime.now(UTC)
    if body.refresh_token:
        with sessions.transaction() as session:
            grant = refresh_tokens.redeem(session, body.refresh_token, now=now, max_lifetime=_max_lifetime())
        if grant is None:
            raise InvalidCredentials("Invalid, expired or already used refresh token")
        claims, chain_end = grant.claims, grant.chain_expires_at
    else:
        principal = current_principal()
        if principal is None:
            raise InvalidCredentials("Send a refresh_token, or a valid bearer token to refresh")
        if principal.kind != "jwt":
            raise BadRequest("API keys do not expire like tokens and cannot be refreshed")
        claims, chain_end = auth.claims_of(principal.user), _chain_of(principal)
    user = auth.current_user(claims)
    if user is None:
        raise InvalidCredentials("The user of this token no longer exists")
    token, token_claims = auth.issue_token(user, not_after=chain_end, now=now)
    return _token_answer(token, token_claims, user, chain_end)


def _chain_of(principal: Principal) -> datetime:
    """The chain of a bearer token we issued; a token from Airflow itself starts one when it was issued."""
    with sessions.transaction() as session:
        chain_end = refresh_tokens.chain_of_access_token(
            session, str(principal.claims.get("jti", "")), max_lifetime=_max_lifetime()
        )
    return chain_end or _issued_at(principal.claims) + _max_lifetime()


def _issued_at(claims: dict) -> datetime:
    return datetime.fromtimestamp(claims["iat"], UTC)


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
    auth.revoke(principal.token)
    if body.refresh_token:
        with sessions.transaction() as session:
            refresh_tokens.discard(session, body.refresh_token, now=datetime.now(UTC))
    return MessageResponse(message="Logged out successfully")
