"""The one place that decides which object store a deployment uses."""

from __future__ import annotations

from headrace.storage.base import ObjectStore
from headrace.storage.local import LocalObjectStore
from headrace.storage.s3 import S3ObjectStore


def get_store(conn_id: str | None = None) -> ObjectStore:
    """The store of ``conn_id``, by default ``[headrace] storage_conn_id``; empty means local folders.

    Not cached: S3 clients are cheap next to the requests they make, and a fresh lookup follows
    configuration and connection changes.
    """
    from headrace import config  # imported here so that the storage core loads without Airflow

    if conn_id is None:
        conn_id = config.storage_conn_id()
    if not conn_id:
        return LocalObjectStore(config.storage_root())
    return S3ObjectStore.from_connection(conn_id)
