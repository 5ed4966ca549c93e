"""The central job-monitoring API's site registry: static sites from config merged with stored ones.

Static sites (``[headrace] monitoring_sites``) are passed in, so this module knows no config and no
Airflow; stored sites live in ``headrace_monitoring_site``. A stored site's API key arrives and
leaves encrypted through the ``Cipher`` passed in; nothing here returns it in clear except
:meth:`SiteRegistry.api_key`, which the forwarding layer needs to call the site.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from headrace.db.models import MonitoringSite

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_ID = re.compile(ID_PATTERN)
MAX_ENDPOINT = 2048
_SITES = MonitoringSite.__table__


class Cipher(Protocol):
    def encrypt(self, data: bytes) -> bytes: ...
    def decrypt(self, token: bytes) -> bytes: ...


class SiteError(Exception):
    """A refusal of the registry; ``field`` names the bad input when there is one."""

    def __init__(self, message: str, *, site: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.site, self.field = message, site, field


class InvalidSite(SiteError):
    pass


class SiteExists(SiteError):
    pass


class StaticSite(SiteError):
    pass


class UnknownSite(SiteError):
    pass


@dataclass(frozen=True)
class Site:
    id: str
    endpoint: str
    static: bool


def check_id(site_id: str) -> str | None:
    """Why ``site_id`` is not a valid site id, or None."""
    if not isinstance(site_id, str) or not _ID.match(site_id):
        return f"must match {ID_PATTERN}"
    return None


def check_endpoint(endpoint: str) -> str | None:
    """Why ``endpoint`` cannot be a site endpoint, or None.

    Admins set endpoints, but the API server calls them: only plain http(s) URLs, no credentials
    (they would travel in clear in logs and answers), no query or fragment (paths are appended).
    """
    if not isinstance(endpoint, str) or not endpoint:
        return "must be an http(s) URL"
    if len(endpoint) > MAX_ENDPOINT:
        return f"must be at most {MAX_ENDPOINT} characters"
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "must be a valid http(s) URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials (give the API key in api_key)"
    if parts.query or parts.fragment or "?" in endpoint or "#" in endpoint:
        return "must not have a query or fragment"
    if any(c.isspace() or ord(c) < 32 for c in endpoint):
        return "must not contain whitespace or control characters"
    return None


def normalize_endpoint(endpoint: str) -> str:
    return endpoint.rstrip("/")


class SiteRegistry:
    """Sites known to this central API: ``static`` (``id -> endpoint``) first, then stored ones."""

    def __init__(self, engine: Engine, static: Mapping[str, str], cipher: Cipher | None = None) -> None:
        self.engine = engine
        self.static = {k: normalize_endpoint(v) for k, v in static.items()}
        self.cipher = cipher

    def list(self) -> list[Site]:
        """Every site sorted by id; a stored site shadowed by a static one of the same id is hidden."""
        sites = {site_id: Site(site_id, endpoint, True) for site_id, endpoint in self.static.items()}
        with self.engine.connect() as conn:
            for row in conn.execute(select(_SITES.c.id, _SITES.c.endpoint)):
                sites.setdefault(row.id, Site(row.id, row.endpoint, False))
        return [sites[k] for k in sorted(sites)]

    def get(self, site_id: str) -> Site:
        if site_id in self.static:
            return Site(site_id, self.static[site_id], True)
        with self.engine.connect() as conn:
            row = conn.execute(select(_SITES.c.id, _SITES.c.endpoint).where(_SITES.c.id == site_id)).first()
        if row is None:
            raise UnknownSite(f"Unknown site '{site_id}'", site=site_id)
        return Site(row.id, row.endpoint, False)

    def stored_api_key(self, site_id: str) -> str | None:
        """The clear API key of a stored site (for calling it), or None."""
        with self.engine.connect() as conn:
            token = conn.execute(
                select(_SITES.c.api_key_encrypted).where(_SITES.c.id == site_id)
            ).scalar_one_or_none()
        if token is None or self.cipher is None:
            return None
        return self.cipher.decrypt(bytes(token)).decode()

    def add(self, site_id: str, endpoint: str, api_key: str | None, *, created_by: str | None) -> Site:
        problems = [
            (field, why)
            for field, why in (("id", check_id(site_id)), ("endpoint", check_endpoint(endpoint)))
            if why
        ]
        if api_key is not None and not isinstance(api_key, str):
            problems.append(("api_key", "must be a string"))
        if problems:
            field, why = problems[0]
            raise InvalidSite(f"{field}: {why}", site=site_id if field != "id" else None, field=field)
        if site_id in self.static:
            raise SiteExists(
                f"Site '{site_id}' already exists (configured in [headrace] monitoring_sites)", site=site_id
            )
        if api_key and self.cipher is None:
            raise InvalidSite("api_key: no cipher to store it", site=site_id, field="api_key")
        encrypted = self.cipher.encrypt(api_key.encode()) if api_key and self.cipher else None
        endpoint = normalize_endpoint(endpoint)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(_SITES).values(
                        id=site_id,
                        endpoint=endpoint,
                        api_key_encrypted=encrypted,
                        created_by=created_by,
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            raise SiteExists(f"Site '{site_id}' already exists", site=site_id) from None
        return Site(site_id, endpoint, False)

    def remove(self, site_id: str) -> None:
        if site_id in self.static:
            raise StaticSite(
                f"Site '{site_id}' is configured in [headrace] monitoring_sites; "
                "remove it there, it cannot be deleted through the API",
                site=site_id,
            )
        with self.engine.begin() as conn:
            deleted = conn.execute(delete(_SITES).where(_SITES.c.id == site_id)).rowcount
        if not deleted:
            raise UnknownSite(f"Unknown site '{site_id}'", site=site_id)
