"""API keys: ``GET/POST /auth/api-keys`` and ``DELETE /auth/api-keys/{id}`` (administrators only)."""

from __future__ import annotations

from datetime import UTC, datetime

from headrace.api import sessions
from headrace.api.datamodels.auth import ApiKeyCreated, ApiKeyCreateRequest, ApiKeyInfo
from headrace.api.errors import NotFound
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import ADMIN, Principal
from headrace.api.services import api_keys, auth


@endpoint(
    "/auth/api-keys",
    "GET",
    Namespace.AUTH,
    summary="List API keys (never their secrets)",
    permission=ADMIN,
    response=list[ApiKeyInfo],
)
def list_api_keys():
    now = datetime.now(UTC)
    with sessions.transaction() as session:
        return [ApiKeyInfo(**api_keys.describe(key, now)) for key in api_keys.list_keys(session)]


@endpoint(
    "/auth/api-keys",
    "POST",
    Namespace.AUTH,
    summary="Create an API key with scopes and an expiry; its secret is shown once",
    permission=ADMIN,
    body=ApiKeyCreateRequest,
    response=ApiKeyCreated,
    status=201,
)
def create_api_key(principal: Principal, body: ApiKeyCreateRequest):
    """The key acts on behalf of its creator, narrowed to its scopes."""
    now = datetime.now(UTC)
    with sessions.transaction() as session:
        key, secret = api_keys.create(
            session,
            name=body.name,
            scopes=body.scopes,
            expires_at=api_keys.expiry(
                expires_at=body.expires_at, expires_in_days=body.expires_in_days, now=now
            ),
            owner=principal.username,
            # Who the owner is; their permissions are looked up anew whenever the key is used.
            owner_claims=auth.claims_of(principal.user),
            now=now,
        )
        return ApiKeyCreated(**api_keys.describe(key, now), key=secret)


@endpoint(
    "/auth/api-keys/<key_id>",
    "DELETE",
    Namespace.AUTH,
    summary="Revoke an API key",
    permission=ADMIN,
    response=ApiKeyInfo,
    errors=(404,),
)
def revoke_api_key(key_id: str):
    now = datetime.now(UTC)
    with sessions.transaction() as session:
        key = api_keys.revoke(session, key_id, now=now)
        if key is None:
            raise NotFound(f"API key '{key_id}' not found", code="API_KEY_NOT_FOUND")
        return ApiKeyInfo(**api_keys.describe(key, now))
