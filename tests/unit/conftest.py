"""Fixtures of the unit tests that use a lakehouse: a local object store with a ``raw`` bucket, and
a lakehouse in ``tmp_path`` with one empty catalog of each type, named after its type.

A test module that needs tables in it overrides ``lakehouse`` by asking for this one and writing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore
from tests.unit.ingestion.helpers import BUCKET


@pytest.fixture
def store(tmp_path: Path) -> LocalObjectStore:
    store = LocalObjectStore(tmp_path / "storage")
    store.create_bucket(BUCKET)
    return store


@pytest.fixture
def lakehouse(tmp_path: Path) -> Lakehouse:
    lakehouse = Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=str(tmp_path / "wh"))
    )
    for catalog_type in CatalogType:
        lakehouse.create_catalog(catalog_type.value, catalog_type)
    return lakehouse
