"""Per-client, per-namespace rate limits with Flask-Limiter.

Each namespace has its own counter per client, sized by ``[headrace] rate_limit`` or its override in
``[headrace] rate_limits``. The client is the API key, else the authenticated user, else the IP
address. Counters live in memory, or in Redis when ``rate_limit_storage_uri`` names it, so that
several api-server processes share them.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import request
from flask_limiter import Limiter

from headrace import config
from headrace.api.errors import Unauthorized
from headrace.api.registry import Endpoint
from headrace.api.security import current_principal


def client_key() -> str:
    try:
        principal = current_principal()
    except Unauthorized:
        principal = None  # bad credentials are counted against the address they come from
    return principal.rate_limit_key if principal else f"ip:{request.remote_addr}"


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
        return limiter.shared_limit(lambda: config.rate_limit_for(namespace), scope=namespace)

    return for_endpoint
