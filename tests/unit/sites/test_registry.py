"""The site registry on a real SQLite database: static and stored sites merged, refusals, key cipher."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from headrace.db.models import MonitoringSite
from headrace.events.sites import (
    InvalidSite,
    SiteExists,
    SiteRegistry,
    StaticSite,
    UnknownSite,
    check_endpoint,
    check_id,
)

KEY = "site-api-key-value"


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'sites.db'}")
    MonitoringSite.__table__.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine) -> SiteRegistry:
    return SiteRegistry(engine, {"fab1": "http://site1:18000/"}, Fernet(Fernet.generate_key()))


def test_static_and_stored_sites_are_merged_sorted(registry) -> None:
    registry.add("fab0", "https://site0.example/pluginsv2/headrace/job-monitoring/", None, created_by="admin")
    sites = [(s.id, s.endpoint, s.static) for s in registry.list()]
    assert sites == [
        ("fab0", "https://site0.example/pluginsv2/headrace/job-monitoring", False),
        ("fab1", "http://site1:18000", True),
    ]
    assert registry.get("fab0").endpoint.endswith("/job-monitoring")


def test_existing_ids_are_refused(registry) -> None:
    registry.add("fab2", "http://site2:18000", None, created_by=None)
    with pytest.raises(SiteExists):
        registry.add("fab2", "http://other:1", None, created_by=None)
    with pytest.raises(SiteExists, match="monitoring_sites"):
        registry.add("fab1", "http://other:1", None, created_by=None)


def test_remove(registry) -> None:
    registry.add("fab2", "http://site2:18000", None, created_by=None)
    registry.remove("fab2")
    with pytest.raises(UnknownSite):
        registry.get("fab2")
    with pytest.raises(UnknownSite):
        registry.remove("fab2")
    with pytest.raises(StaticSite, match=r"\[headrace\] monitoring_sites"):
        registry.remove("fab1")


def test_api_key_is_stored_encrypted_and_decrypts(registry, engine) -> None:
    registry.add("fab2", "http://site2:18000", KEY, created_by="admin")
    with engine.connect() as conn:
        stored = conn.execute(sa.select(MonitoringSite.__table__.c.api_key_encrypted)).scalar_one()
    assert KEY.encode() not in bytes(stored)
    assert registry.stored_api_key("fab2") == KEY
    registry.add("fab3", "http://site3:18000", None, created_by="admin")
    assert registry.stored_api_key("fab3") is None


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://site1:18000", True),
        ("https://site1/pluginsv2/headrace/job-monitoring", True),
        ("ftp://site1/x", False),
        ("file:///etc/passwd", False),
        ("http://user:pw@site1", False),
        ("http://site1/?a=1", False),
        ("http://site1/#frag", False),
        ("http://site1:99999", False),
        ("site1:18000", False),
        ("http://site 1", False),
    ],
)
def test_endpoint_shapes(endpoint: str, ok: bool) -> None:
    assert (check_endpoint(endpoint) is None) is ok


def test_invalid_input_names_the_field(registry) -> None:
    assert check_id("fab-1.a_b") is None and check_id("-fab") and check_id("x" * 101)
    with pytest.raises(InvalidSite) as caught:
        registry.add("bad/id", "http://x", None, created_by=None)
    assert caught.value.field == "id"
    with pytest.raises(InvalidSite) as caught:
        registry.add("fab9", "gopher://x", None, created_by=None)
    assert caught.value.field == "endpoint"
