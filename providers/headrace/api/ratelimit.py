"""Per-client, per-namespace rate limits with Flask-Limiter, and a separate budget for failed logins.

Each namespace has its own counter per client, sized by ``[headrace] rate_limit`` or its override in
``[headrace] rate_limits``. The client is the authenticated user (an API key counts as its owner, so
minting keys does not multiply a budget), else the address: ``anon-ip:`` for anonymous and
bad-credential requests, ``login-ip:`` for ``POST /auth/login``, so that a flood of bad requests
from an address does not lock it out of logging in.

Password guessing has its own, much smaller budget, ``[headrace] failed_login_limit``: checked before
each login and spent only by a failed one (a 401), once per account (whatever the address) and once
per address (whatever the account). Counters live in memory, or in Redis when
``rate_limit_storage_uri`` names it, so that several api-server processes share them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from flask import Response, request
from flask_limiter import Limiter
from werkzeug.exceptions import HTTPException

from headrace import config
from headrace.api.errors import ApiError
from headrace.api.registry import MAX_JSON_BODY_BYTES, Endpoint
from headrace.api.security import current_principal

_LOGIN_HANDLERS: set[Callable[..., Any]] = set()


def client_key() -> str:
    try:
        principal = current_principal()
    except ApiError:
        principal = None  # bad credentials are counted with anonymous requests of the same address
    return principal.rate_limit_key if principal else f"anon-ip:{request.remote_addr}"


def login_endpoint(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark the handler of a password login: its own budget per address, plus the failed-login one."""
    _LOGIN_HANDLERS.add(handler)
    return handler


def _login_address() -> str:
    return f"login-ip:{request.remote_addr}"


def _failed_login_address() -> str:
    return f"failed-login-ip:{request.remote_addr}"


def _failed_login_account() -> str:
    """The account a login names (``username``, else ``email``), case-folded so that ``Admin`` and
    ``admin`` share one budget, and hashed so that no counter key holds a user name."""
    name = _login_name().strip().casefold()
    return f"failed-login-account:{hashlib.sha256(name.encode()).hexdigest()}"


def _login_name() -> str:
    # The limit is checked before the view reads the body, so read it here under the same size limit;
    # a body that does not parse names no account (and its login is a 400, never a failed login).
    request.max_content_length = MAX_JSON_BODY_BYTES
    try:
        payload = json.loads(request.get_data(cache=True) or b"{}")
    except (HTTPException, ValueError, RecursionError):
        return ""
    if not isinstance(payload, dict):
        return ""
    name = payload.get("username") or payload.get("email")
    return name if isinstance(name, str) else ""


def _failed(response: Response) -> bool:
    return response.status_code == 401


def create_limiter() -> Limiter:
    return Limiter(
        client_key,
        storage_uri=config.rate_limit_storage_uri(),
        strategy="fixed-window",
        headers_enabled=True,
        retry_after="delta-seconds",
        key_prefix="headrace",
        # A storage outage must not take the API down; Flask-Limiter logs it and lets requests through.
        swallow_errors=True,
    )


def limit_decorator(limiter: Limiter) -> Callable[[Endpoint], Callable]:
    def for_endpoint(spec: Endpoint) -> Callable:
        namespace = spec.namespace.value

        def size() -> str:  # read per request: the configuration may change while serving
            return config.rate_limit_for(namespace)

        if spec.handler not in _LOGIN_HANDLERS:
            return limiter.shared_limit(size, scope=namespace)
        failed = config.failed_login_limit
        # The first limit is the one the X-RateLimit headers describe while none is exceeded.
        limits = [
            limiter.shared_limit(size, scope=namespace, key_func=_login_address),
            limiter.shared_limit(
                failed, scope="failed-login-account", key_func=_failed_login_account, deduct_when=_failed
            ),
            limiter.shared_limit(
                failed, scope="failed-login-ip", key_func=_failed_login_address, deduct_when=_failed
            ),
        ]

        def decorate(view: Callable) -> Callable:
            for limit in limits:
                view = limit(view)
            return view

        return decorate

    return for_endpoint
