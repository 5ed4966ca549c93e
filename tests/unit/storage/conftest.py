"""A real S3-compatible server (moto) on loopback, an Airflow connection to it, and both stores.

Nothing is mocked: the S3 store goes through the amazon provider's S3Hook, the Airflow connection
(from ``AIRFLOW_CONN_TEST_S3``), boto3 and HTTP to the moto server, exactly as against MinIO.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from headrace.storage import LocalObjectStore, ObjectStore, S3ObjectStore

CONN_ID = "test_s3"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.WARNING)  # one access-log line per request drowns any failure report
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture(scope="session")
def s3_conn_id(s3_endpoint: str) -> Iterator[str]:
    """An ``aws`` connection to the moto server, defined the way deployments do: in the environment."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": REGION},
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(connection))
        yield CONN_ID


@pytest.fixture(scope="session")
def raw_s3(s3_endpoint: str) -> Any:
    """A plain boto3 client on the moto server, to check what the store did independently of it."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name=REGION,
    )


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
