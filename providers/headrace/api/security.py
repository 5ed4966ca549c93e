"""Who is calling, and may they do this? Identity and permissions come from Airflow's auth manager.

Credentials, in this order: ``X-API-Key`` (a Headrace key), ``Authorization: Bearer <Airflow JWT>``,
the Airflow UI cookie ``_token``. A key acts on behalf of the user who created it, as the auth
manager knows that user now, narrowed by its scopes, so every permission check goes through the auth
manager for keys and tokens alike.

The browser attaches the cookie to requests that other sites make too (``SameSite=Lax`` still lets
sibling subdomains post), so the cookie alone never authorizes a state-changing request: it must
also prove it comes from a page of this origin (see :func:`_same_origin`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jwt
from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN, BaseAuthManager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import (
    AccessView,
    AssetDetails,
    ConfigurationDetails,
    ConnectionDetails,
    DagAccessEntity,
    DagDetails,
)
from airflow.configuration import conf
from flask import g, request

from headrace.api import sessions
from headrace.api.errors import ApiError, Forbidden, Unauthorized
from headrace.api.scopes import Scope, grants  # re-exported: routes import scopes from here
from headrace.api.services import api_keys, auth

API_KEY_HEADER = "X-API-Key"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: BaseUser
    kind: str  # "jwt" or "api_key"
    token: str | None = None  # the raw JWT, for logout
    claims: dict[str, Any] = field(default_factory=dict)  # the JWT's claims (exp, jti, ...)
    api_key_id: str | None = None
    scopes: tuple[str, ...] = ()
    expires_at: datetime | None = None

    @property
    def username(self) -> str:
        return self.user.get_name()

    @property
    def rate_limit_key(self) -> str:
        """The user, also for API keys: the keys of one owner share the owner's budget, so that
        minting keys does not multiply it."""
        return f"user:{self.user.get_id()}"


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run an auth-manager coroutine from Flask's synchronous world."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:  # pragma: no cover - defensive
        return pool.submit(asyncio.run, coro).result()


def user_from_jwt(token: str) -> tuple[BaseUser, dict[str, Any]]:
    """Validate an Airflow JWT through the auth manager; raises Unauthorized when it is not valid."""
    try:
        user = run_sync(get_auth_manager().get_user_from_token(token))
    except Exception as exc:  # the auth manager raises jwt errors, KeyError, ValueError...
        raise Unauthorized("Invalid or expired token", code="INVALID_TOKEN") from exc
    # Already validated above; decoding again only reads exp/jti for status and logout.
    claims = jwt.decode(token, options={"verify_signature": False})
    return user, claims


def _authenticate() -> Principal | None:
    presented_key = request.headers.get(API_KEY_HEADER)
    if presented_key is not None:
        return _from_api_key(presented_key.strip())
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        token = token.strip()
    else:
        token = request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")
        if token and request.method not in SAFE_METHODS and not _same_origin():
            raise Forbidden(
                "Cross-site request refused: the Airflow UI cookie authorizes changes only from pages "
                "of this site; API clients send 'Authorization: Bearer <token>' or 'X-API-Key'",
                code="CSRF_CHECK_FAILED",
            )
    if not token:
        return None
    user, claims = user_from_jwt(token)
    return Principal(
        user=user,
        kind="jwt",
        token=token,
        claims=claims,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC) if "exp" in claims else None,
    )


def _from_api_key(presented: str) -> Principal:
    """The principal of a live key: its owner as the auth manager knows them now, not as they were
    when the key was created. The lookup (and its ``last_used_at``) is the request session's first
    transaction, committed before the handler runs."""
    with sessions.transaction() as session:
        key = api_keys.verify(session, presented, now=datetime.now(UTC))
        if key is None:
            raise Unauthorized("Invalid, expired or revoked API key", code="INVALID_API_KEY")
        user = auth.current_user(key.owner_claims)
        if user is None:
            raise Unauthorized("The owner of this API key no longer exists", code="INVALID_API_KEY")
        return Principal(
            user=user, kind="api_key", api_key_id=key.id, scopes=tuple(key.scopes), expires_at=key.expires_at
        )


def _same_origin() -> bool:
    """Does this request come from a page of this origin? The standard browser signals, in order:

    - ``Sec-Fetch-Site`` (fetch metadata, sent by every current browser) must be ``same-origin``;
    - else ``Origin`` (sent by browsers with every non-GET request) must name this host, as the
      request addresses it or as ``[api] base_url`` names it.

    A request with neither is not from a browser page, and proves nothing.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin", "")
    if not origin or origin == "null":
        return False
    hosts = {request.host, urlsplit(conf.get("api", "base_url", fallback="") or "").netloc} - {""}
    return urlsplit(origin).netloc in hosts


def current_principal() -> Principal | None:
    """The caller of this request (cached), None when no credentials were sent.

    Raises Unauthorized when credentials were sent but are not valid, Forbidden when the cookie was
    sent with a cross-site state-changing request.
    """
    if "headrace_principal" not in g:
        try:
            g.headrace_principal = _authenticate()
        except ApiError as exc:
            g.headrace_principal = exc
    if isinstance(g.headrace_principal, ApiError):
        raise g.headrace_principal
    return g.headrace_principal


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthorized()
    return principal


AuthCheck = Callable[[BaseAuthManager, BaseUser], bool]


@dataclass(frozen=True)
class Permission:
    """The nearest Airflow permission for an endpoint, plus the API-key scope it needs."""

    airflow_permission: str  # for the permission table in the docs and OpenAPI
    scope: Scope
    check: AuthCheck

    def enforce(self, principal: Principal) -> None:
        if principal.kind == "api_key" and not grants(principal.scopes, self.scope):
            raise Forbidden(f"This API key lacks the '{self.scope.value}' scope")
        if not self.check(get_auth_manager(), principal.user):
            raise Forbidden(f"Permission denied: requires {self.airflow_permission}")


def authenticated(scope: Scope = Scope.READ) -> Permission:
    return Permission("any authenticated user", scope, lambda am, user: True)


def view(access_view: AccessView, scope: Scope = Scope.READ) -> Permission:
    return Permission(
        f"view {access_view.value}",
        scope,
        lambda am, user: am.is_authorized_view(access_view=access_view, user=user),
    )


def configuration(method: str, scope: Scope) -> Permission:
    return Permission(
        f"configuration: {method}",
        scope,
        lambda am, user: am.is_authorized_configuration(
            method=method, details=ConfigurationDetails(section="headrace"), user=user
        ),
    )


def connection(method: str, scope: Scope) -> Permission:
    return Permission(
        f"connections: {method}",
        scope,
        lambda am, user: am.is_authorized_connection(method=method, details=ConnectionDetails(), user=user),
    )


def asset(method: str, scope: Scope) -> Permission:
    """Catalogs, tables and uploaded files are data assets: reading needs a viewer, writing an op."""
    return Permission(
        f"assets: {method}",
        scope,
        lambda am, user: am.is_authorized_asset(method=method, details=AssetDetails(), user=user),
    )


def dag(
    method: str, scope: Scope, entity: DagAccessEntity | None = None, *, dag_id: str | None = None
) -> Permission:
    """DAGs in general, or with ``dag_id`` that one DAG: endpoints that only ever act on one DAG (the
    ingestion jobs are runs of ``headrace_ingestion``) check it here, since no handler names it."""
    label = f"DAGs{f' ({entity.value.lower()})' if entity else ''}: {method}"
    return Permission(
        label,
        scope,
        lambda am, user: am.is_authorized_dag(
            method=method, access_entity=entity, details=DagDetails(id=dag_id), user=user
        ),
    )


def authorize_dag(
    principal: Principal, method: str, dag_id: str, entity: DagAccessEntity | None = None
) -> None:
    """The per-DAG check behind an endpoint's general one: may this caller do ``method`` on ``dag_id``?"""
    allowed = get_auth_manager().is_authorized_dag(
        method=method, access_entity=entity, details=DagDetails(id=dag_id), user=principal.user
    )
    if not allowed:
        raise Forbidden(f"Permission denied: requires DAGs: {method} on '{dag_id}'")


def readable_dag_ids(principal: Principal, dag_ids: set[str]) -> set[str]:
    """The subset of ``dag_ids`` the caller may read (lists show nothing else)."""
    return get_auth_manager().filter_authorized_dag_ids(dag_ids=dag_ids, user=principal.user, method="GET")


# Administering Headrace itself (API keys) is closest to editing Airflow's configuration:
# Op/Admin in SimpleAuthManager, Admin in the FAB auth manager.
ADMIN = configuration("PUT", Scope.ADMIN)


# ---------------------------------------------------------------------------------------------------
# ASGI callers (the live streams, api/streams/): the same credentials and checks, without Flask.


def _asgi_headers(scope: dict[str, Any]) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])
    }


def _cookie(header: str, name: str) -> str:
    from http.cookies import SimpleCookie

    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header carries no credential
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


def _api_key_principal(presented: str) -> Principal:
    """:func:`_from_api_key` in its own session (no Flask request here); run in a worker thread."""
    from airflow.utils.session import create_session

    with create_session() as session:
        key = api_keys.verify(session, presented, now=datetime.now(UTC))
        if key is None:
            raise Unauthorized("Invalid, expired or revoked API key", code="INVALID_API_KEY")
        user = auth.current_user(key.owner_claims)
        if user is None:
            raise Unauthorized("The owner of this API key no longer exists", code="INVALID_API_KEY")
        return Principal(
            user=user, kind="api_key", api_key_id=key.id, scopes=tuple(key.scopes), expires_at=key.expires_at
        )


async def principal_from_credential(credential: str) -> Principal:
    """A bare credential (the WebSocket's ``auth`` message): a Headrace API key, else an Airflow JWT."""
    credential = credential.strip()
    if credential.startswith(api_keys.KEY_PREFIX):
        return await asyncio.to_thread(_api_key_principal, credential)
    return await _jwt_principal(credential)


async def _jwt_principal(token: str) -> Principal:
    try:
        user = await get_auth_manager().get_user_from_token(token)
    except Exception as exc:  # the auth manager raises jwt errors, KeyError, ValueError...
        raise Unauthorized("Invalid or expired token", code="INVALID_TOKEN") from exc
    claims = jwt.decode(token, options={"verify_signature": False})
    return Principal(
        user=user,
        kind="jwt",
        token=token,
        claims=claims,
        expires_at=datetime.fromtimestamp(claims["exp"], UTC) if "exp" in claims else None,
    )


async def authenticate_asgi(scope: dict[str, Any]) -> Principal | None:
    """The caller of an ASGI request (the order of :func:`_authenticate`); None without credentials.

    Only for reads (the streams): the UI cookie is accepted as it is for any GET.
    """
    headers = _asgi_headers(scope)
    presented_key = headers.get(API_KEY_HEADER.lower())
    if presented_key is not None:
        return await asyncio.to_thread(_api_key_principal, presented_key.strip())
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    token = token or _cookie(headers.get("cookie", ""), COOKIE_NAME_JWT_TOKEN)
    if not token:
        return None
    return await _jwt_principal(token)


async def enforce_async(permission: Permission, principal: Principal) -> None:
    """:meth:`Permission.enforce` off the event loop (an auth manager may ask its database)."""
    await asyncio.to_thread(permission.enforce, principal)
