"""Object storage with buckets and keys, on local folders (embedded default) or S3/MinIO.

Plain Python (no Flask, no Airflow ORM): everything else in Headrace reaches files through
:func:`get_store` and names them with the validated bucket/key rules of :mod:`.paths`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from headrace.storage.base import BucketNotFound, ObjectInfo, ObjectNotFound, ObjectStore, ObjectWriter
from headrace.storage.local import LocalObjectStore
from headrace.storage.paths import (
    MAX_SEGMENT_BYTES,
    InvalidObjectName,
    ObjectPath,
    join_key,
    parse_path,
    s3_location,
    validate_bucket,
    validate_key,
    validate_prefix,
    validate_segments,
)
from headrace.storage.reserved import TABLE_DATA, ReservedLocation, ReservedTarget, find_reserved

if TYPE_CHECKING:
    from headrace.storage.factory import get_store
    from headrace.storage.s3 import S3ObjectStore, S3Settings, s3_settings_from_connection

# Imported on first use (PEP 562): boto3 takes most of a second, and what only names files (the
# file types, paths, reserved locations: the ingestion spec a DAG-parsing process imports) needs none.
_LAZY = {
    "get_store": "factory",
    **dict.fromkeys(("S3ObjectStore", "S3Settings", "s3_settings_from_connection"), "s3"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:  # also how ``from headrace.storage import s3`` finds a submodule
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_SEGMENT_BYTES",
    "TABLE_DATA",
    "BucketNotFound",
    "InvalidObjectName",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectPath",
    "ObjectStore",
    "ObjectWriter",
    "ReservedLocation",
    "ReservedTarget",
    "S3ObjectStore",
    "S3Settings",
    "find_reserved",
    "get_store",
    "join_key",
    "parse_path",
    "s3_location",
    "s3_settings_from_connection",
    "validate_bucket",
    "validate_key",
    "validate_prefix",
    "validate_segments",
]
