"""Both stores over the session's moto server (see ``s3_endpoint`` in tests/conftest.py).

Nothing is mocked: the S3 store goes through the amazon provider's S3Hook, the Airflow connection
(from ``AIRFLOW_CONN_TEST_S3``), boto3 and HTTP to the moto server, exactly as against MinIO.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from headrace.storage import LocalObjectStore, ObjectStore, S3ObjectStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "storage")
    return S3ObjectStore.from_connection(request.getfixturevalue("s3_conn_id"))


@pytest.fixture
def bucket(store: ObjectStore) -> str:
    """A fresh bucket per test, so tests sharing the session's moto server never see each other."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    store.create_bucket(name)
    return name
