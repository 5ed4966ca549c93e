"""Login, tokens and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from headrace.api.datamodels.common import FieldValueError, StrictModel
from headrace.api.scopes import Scope


class LoginRequest(StrictModel):
    """Credentials for POST /auth/login: a username (or email) and a password."""

    username: str | None = Field(None, min_length=1, max_length=250)
    email: str | None = Field(None, min_length=1, max_length=250, description="Same as username.")
    password: str = Field(min_length=1, max_length=1024)

    @model_validator(mode="after")
    def _one_name(self) -> LoginRequest:
        if not (self.username or self.email):
            raise FieldValueError("username", "username or email is required")
        return self

    @property
    def login_name(self) -> str:
        return self.username or self.email or ""


class RefreshRequest(StrictModel):
    """Body of POST /auth/refresh; empty to exchange the current bearer token."""

    refresh_token: str | None = Field(
        None, description="From login; without it the current bearer token is exchanged for a new one."
    )


class LogoutRequest(StrictModel):
    """Body of POST /auth/logout; optionally the refresh token to discard too."""

    refresh_token: str | None = Field(None, description="Also discard this refresh token.")


class TokenInfo(BaseModel):
    """When the caller's credentials expire (the lakehouse-api tokenInfo)."""

    hasToken: bool
    isExpired: bool
    expiresAt: str | None = Field(description="ISO 8601, UTC.")
    expiresIn: int | None = Field(description="Milliseconds until expiry.")


class UserInfo(BaseModel):
    """The authenticated user and how they authenticated (JWT or API key)."""

    username: str
    authenticated_by: Literal["jwt", "api_key"]
    scopes: list[str] | None = Field(None, description="API keys only.")


class StatusData(TokenInfo):
    """Answer of GET /auth/status: token facts plus the user behind them."""

    user: UserInfo


class LoginData(BaseModel):
    """The lakehouse-api login envelope: the token and its expiry facts."""

    token: str
    tokenInfo: TokenInfo


class LoginResponse(BaseModel):
    """Both shapes that clients of the contracts read: OAuth-style fields and the lakehouse envelope."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    success: Literal[True] = True
    data: LoginData


class ApiKeyCreateRequest(StrictModel):
    """A new API key: its name, scopes and expiry (in days or as a date)."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[\w .:@-]+$")
    scopes: list[Scope] = Field(min_length=1)
    expires_in_days: int | None = Field(
        None,
        ge=1,
        description="From 1 to `[headrace] api_key_max_expiry_days`; defaults to "
        "`[headrace] api_key_default_expiry_days`.",
    )
    expires_at: datetime | None = Field(None, description="Alternative to expires_in_days (ISO 8601).")

    @model_validator(mode="after")
    def _one_expiry(self) -> ApiKeyCreateRequest:
        if self.expires_in_days is not None and self.expires_at is not None:
            raise FieldValueError("expires_at", "give expires_in_days or expires_at, not both")
        if self.expires_at is not None and self.expires_at.tzinfo is None:
            raise FieldValueError("expires_at", "needs a timezone, e.g. 2027-01-01T00:00:00Z")
        return self


class ApiKeyInfo(BaseModel):
    """An API key as administrators see it: never its secret."""

    id: str
    name: str
    scopes: list[str]
    owner: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: Literal["active", "expired", "revoked"]


class ApiKeyCreated(ApiKeyInfo):
    """A newly created API key, with its secret (shown only once)."""

    key: str = Field(description="The secret key. Shown only in this answer; store it now.")
