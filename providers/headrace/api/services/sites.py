"""The central job-monitoring API's sites: forwarding ``?site=`` queries, fan-out, and their health.

(Interface; the sites helper fills it in.) The job-monitoring routes of :mod:`headrace.api.routes.events`
call these; errors are raised as :class:`headrace.api.errors.ApiError` (404 unknown site, 502 site
down, 504 site slow), each naming the site.
"""

from __future__ import annotations

from typing import Any


def query_site(kind: str, site: str, params: dict[str, str]) -> dict[str, Any]:
    """``GET /v1/{kind}?...`` (kind: ``jobs`` or ``subjobs``) answered by one site, as it answered.

    ``site="*"`` fans out to every site: the items of all that answered, plus the failures of the
    others (``warnings``/``errors`` per site) instead of failing the whole query.
    """
    raise NotImplementedError


def sites_health(*, authenticated: bool) -> dict[str, dict[str, Any]]:
    """Every site's ``{"status": "ok"|"degraded", "endpoint", "error"?}`` for ``GET /v1/healthz``;
    a site's error text only for authenticated callers."""
    return {}
