"""The central job-monitoring API's sites: the registry, forwarding ``?site=`` queries, fan-out, health.

The job-monitoring routes of :mod:`headrace.api.routes.events` call :func:`query_site` and
:func:`sites_health`; errors are raised as :class:`headrace.api.errors.ApiError` (404 unknown site,
502 site down or answering an error, 504 site slow), each naming the site in its context.

Site keys never leave this module except in the ``X-API-Key`` header sent to that site. Redirects are
never followed (a site could point the key elsewhere) and proxies from the environment are ignored.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from headrace import config
from headrace.api.errors import ApiError, Conflict, NotFound, RequestValidationError
from headrace.events import sites as registry_domain
from headrace.events.sites import Site, SiteRegistry

log = logging.getLogger(__name__)
KINDS = ("jobs", "subjobs")
ALL = "*"
DEFAULT_LIMIT = 1000  # the contract's default for /v1/jobs
HEALTH_CACHE_SECONDS = 5.0
_MAX_WORKERS = 16


class SiteUnavailable(ApiError):
    status, code, message = 502, "SITE_UNAVAILABLE", "Site unavailable"


class SiteTimeout(ApiError):
    status, code, message = 504, "SITE_TIMEOUT", "Site timed out"


class _Fernet:
    """Airflow's Fernet key, looked up when used (tests and deployments may rotate it)."""

    def encrypt(self, data: bytes) -> bytes:
        from airflow.models.crypto import get_fernet

        return get_fernet().encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        from airflow.models.crypto import get_fernet

        return get_fernet().decrypt(token)


def registry() -> SiteRegistry:
    from airflow import settings

    return SiteRegistry(settings.engine, config.monitoring_sites(), _Fernet())


def _api_error(exc: registry_domain.SiteError) -> ApiError:
    context = {"site": exc.site} if exc.site else {}
    if isinstance(exc, registry_domain.UnknownSite):
        return NotFound(exc.message, code="SITE_NOT_FOUND", details=context)
    if isinstance(exc, registry_domain.SiteExists | registry_domain.StaticSite):
        return Conflict(
            exc.message,
            code="SITE_EXISTS" if isinstance(exc, registry_domain.SiteExists) else "SITE_STATIC",
            details=context,
        )
    return RequestValidationError(
        f"Validation failed: {exc.message}",
        details=[{"field": exc.field or "body", "message": exc.message.partition(": ")[2] or exc.message}],
    )


def list_sites() -> list[Site]:
    return registry().list()


def add_site(site_id: str, endpoint: str, api_key: str | None, *, created_by: str | None) -> Site:
    try:
        site = registry().add(site_id, endpoint, api_key, created_by=created_by)
    except registry_domain.SiteError as exc:
        raise _api_error(exc) from exc
    _forget_health()
    return site


def remove_site(site_id: str) -> None:
    try:
        registry().remove(site_id)
    except registry_domain.SiteError as exc:
        raise _api_error(exc) from exc
    _forget_health()


def _get(sites: SiteRegistry, site_id: str) -> Site:
    try:
        return sites.get(site_id)
    except registry_domain.SiteError as exc:
        raise _api_error(exc) from exc


def _api_key(sites: SiteRegistry, site: Site) -> str | None:
    """A static site's key is the password of connection ``headrace_site_<id>``; a stored one's is ours."""
    if not site.static:
        return sites.stored_api_key(site.id)
    from airflow.models.connection import Connection

    try:
        return Connection.get_connection_from_secrets(f"headrace_site_{site.id}").password or None
    except Exception:  # no such connection (AirflowNotFoundException) or no secrets backend
        return None


# Sent with a site health check. A Headrace site answers it without checking its own sites, so that
# sites that list each other (or a deployment that lists itself) never check each other in a loop.
HEALTH_PROBE_HEADER = "X-Headrace-Health-Probe"


def _call(
    site: Site,
    path: str,
    params: dict[str, str],
    key: str | None,
    timeout: float,
    extra_headers: dict[str, str] | None = None,
) -> httpx.Response:
    """One GET to a site; transport failures become the API errors naming it."""
    headers = {"Accept": "application/json", **(extra_headers or {})}
    if key:
        headers["X-API-Key"] = key
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
            return client.get(site.endpoint + path, params=params, headers=headers)
    except httpx.TimeoutException:
        raise SiteTimeout(
            f"Site '{site.id}' did not answer within {timeout:g}s",
            details={"site": site.id, "error": f"timeout after {timeout:g}s"},
        ) from None
    except httpx.HTTPError as exc:
        raise SiteUnavailable(
            f"Site '{site.id}' is unreachable: {type(exc).__name__}",
            details={"site": site.id, "error": f"connection failed ({type(exc).__name__})"},
        ) from None


def _query_one(
    sites: SiteRegistry, site: Site, kind: str, params: dict[str, str], timeout: float
) -> dict[str, Any]:
    response = _call(site, f"/v1/{kind}", params, _api_key(sites, site), timeout)
    if not response.is_success:
        raise SiteUnavailable(
            f"Site '{site.id}' answered HTTP {response.status_code}",
            details={
                "site": site.id,
                "status": response.status_code,
                "error": f"HTTP {response.status_code}",
            },
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise SiteUnavailable(
            f"Site '{site.id}' answered something that is not a JSON object",
            details={"site": site.id, "error": "answer is not a JSON object"},
        )
    return answer


def query_site(kind: str, site: str, params: dict[str, str]) -> dict[str, Any]:
    """``GET /v1/{kind}?...`` (kind: ``jobs`` or ``subjobs``) answered by one site, as it answered.

    ``site="*"`` fans out to every site: the items of all that answered, plus the failures of the
    others (``warnings``/``errors`` per site) instead of failing the whole query.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    forwarded = {k: v for k, v in params.items() if k != "site"}
    sites = registry()
    timeout = config.monitoring_site_timeout()
    if site != ALL:
        target = _get(sites, site)
        answer = _query_one(sites, target, kind, forwarded, timeout)
        return {**answer, "site": target.id}
    return _fan_out(sites, kind, forwarded, timeout)


def _limit(params: dict[str, str]) -> int:
    try:
        return max(0, int(params.get("limit", DEFAULT_LIMIT)))
    except ValueError:
        return DEFAULT_LIMIT


def _newest_first(item: Any) -> str:
    if not isinstance(item, dict):
        return ""
    return str(item.get("started_at") or item.get("inserted_at") or "")


def _fan_out(sites: SiteRegistry, kind: str, params: dict[str, str], timeout: float) -> dict[str, Any]:
    """Every site at once; Thanos-style partial answer: what answered, plus a warning per failure."""
    started = time.monotonic()
    targets = sites.list()

    def one(site: Site) -> tuple[Site, dict[str, Any] | ApiError]:
        try:
            return site, _query_one(sites, site, kind, params, timeout)
        except ApiError as exc:
            return site, exc

    items: list[Any] = []
    warnings: list[str] = []
    per_site: dict[str, dict[str, Any]] = {}
    if targets:
        with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(targets))) as pool:
            results = list(pool.map(one, targets))
    else:
        results = []
    for site, result in results:
        if isinstance(result, ApiError):
            error = (result.details or {}).get("error") or result.message
            warnings.append(f"site {site.id}: {error}")
            per_site[site.id] = {"status": "error", "error": error}
            continue
        site_items = result.get("items") if isinstance(result.get("items"), list) else []
        for item in site_items:
            if isinstance(item, dict):
                item.setdefault("site_id", site.id)
            items.append(item)
        per_site[site.id] = {"status": "ok", "count": len(site_items)}
    items.sort(key=_newest_first, reverse=True)
    items = items[: _limit(params)]
    return {
        "items": items,
        "count": len(items),
        "duration_s": round(time.monotonic() - started, 3),
        "site": ALL,
        "sites": per_site,
        "warnings": warnings,
    }


# ---------------------------------------------------------------------------------------------------
# Health: cached, so that anonymous polling of /v1/healthz cannot be turned into load on the sites.

_health_lock = threading.Lock()
_health: dict[str, Any] = {"at": None, "key": None, "sites": {}}


def _forget_health() -> None:
    with _health_lock:
        _health["at"] = None


def _check(site: Site, timeout: float) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": "ok", "endpoint": site.endpoint}
    try:
        # Anonymous: the public answer says whether the site is up, and the key stays at home.
        response = _call(site, "/v1/healthz", {}, None, timeout, {HEALTH_PROBE_HEADER: "1"})
    except ApiError as exc:
        return {**entry, "status": "degraded", "error": (exc.details or {}).get("error", exc.message)}
    if not response.is_success:
        return {**entry, "status": "degraded", "error": f"HTTP {response.status_code}"}
    return entry


def _all_health() -> dict[str, dict[str, Any]]:
    with _health_lock:  # one refresh at a time; concurrent callers wait for it and share it
        targets = registry().list()
        key = tuple((s.id, s.endpoint) for s in targets)  # a changed registry is checked anew
        at = _health["at"]
        if at is not None and key == _health["key"] and time.monotonic() - at < HEALTH_CACHE_SECONDS:
            return _health["sites"]
        timeout = config.monitoring_site_timeout()
        results: dict[str, dict[str, Any]] = {}
        if targets:
            with ThreadPoolExecutor(max_workers=min(_MAX_WORKERS, len(targets))) as pool:
                for site, entry in zip(targets, pool.map(lambda s: _check(s, timeout), targets), strict=True):
                    results[site.id] = entry
        _health.update(at=time.monotonic(), key=key, sites=results)
        return results


def sites_health(*, authenticated: bool) -> dict[str, dict[str, Any]]:
    """Every site's ``{"status": "ok"|"degraded", "endpoint", "error"?}`` for ``GET /v1/healthz``;
    a site's error text only for authenticated callers. Answers are at most a few seconds old."""
    results = _all_health()
    if authenticated:
        return {k: dict(v) for k, v in results.items()}
    return {k: {f: v for f, v in entry.items() if f != "error"} for k, entry in results.items()}
