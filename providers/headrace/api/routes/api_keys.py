"""API keys: ``GET/POST /auth/api-keys`` and ``DELETE /auth/api-keys/{id}`` (administrators only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.api_fastapi.app import get_auth_manager
from airflow.utils.session import create_session

from headrace import config
from headrace.api.datamodels.auth import ApiKeyCreated, ApiKeyCreateRequest, ApiKeyInfo
from headrace.api.errors import NotFound, RequestValidationError
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import ADMIN, Principal
from headrace.api.services import api_keys
from headrace.db.models import ApiKey


def _info(key: ApiKey, now: datetime) -> dict:
    if key.revoked_at is not None:
        status = "revoked"
    elif key.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    fields = ApiKeyInfo.model_fields.keys() - {"status"}
    return {name: getattr(key, name) for name in fields} | {"status": status}


def _expiry(body: ApiKeyCreateRequest, now: datetime) -> datetime:
    """When the new key expires; the range is checked before any date arithmetic, which would
    overflow past the year 9999 for absurd values."""
    most = config.api_key_max_expiry_days()
    if body.expires_at is not None:
        field, lifetime = "expires_at", body.expires_at - now  # no datetime is built: cannot overflow
    else:
        field, days = "expires_in_days", body.expires_in_days or config.api_key_default_expiry_days()
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
    with create_session() as session:
        return [ApiKeyInfo(**_info(key, now)) for key in api_keys.list_keys(session)]


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
    with create_session() as session:
        key, secret = api_keys.create(
            session,
            name=body.name,
            scopes=body.scopes,
            expires_at=_expiry(body, now),
            owner=principal.username,
            # Who the owner is; their permissions are looked up anew whenever the key is used.
            owner_claims=get_auth_manager().serialize_user(principal.user),
            now=now,
        )
        return ApiKeyCreated(**_info(key, now), key=secret)


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
    with create_session() as session:
        key = api_keys.revoke(session, key_id, now=now)
        if key is None:
            raise NotFound(f"API key '{key_id}' not found", code="API_KEY_NOT_FOUND")
        return ApiKeyInfo(**_info(key, now))
