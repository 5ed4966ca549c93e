"""The one place that decides which object store a deployment uses."""

from __future__ import annotations

import functools
import time

from headrace.storage.base import ObjectStore
from headrace.storage.local import LocalObjectStore
from headrace.storage.s3 import S3ObjectStore


def get_store(conn_id: str | None = None) -> ObjectStore:
    """The store of ``conn_id``, by default ``[headrace] storage_conn_id``; empty means local folders.

    S3 stores are kept for a few minutes: building the client (connection lookup, credentials) cost
    60-170 ms per request in benchmarks/upload.py, while edits to a connection still show up soon.
    """
    from headrace import config  # imported here so that the storage core loads without Airflow

    if conn_id is None:
        conn_id = config.storage_conn_id()
    if not conn_id:
        return LocalObjectStore(config.storage_root())
    return _s3_store(conn_id, int(time.monotonic() // _S3_STORE_SECONDS))


_S3_STORE_SECONDS = 300


@functools.lru_cache(maxsize=16)
def _s3_store(conn_id: str, period: int) -> S3ObjectStore:
    return S3ObjectStore.from_connection(conn_id)
