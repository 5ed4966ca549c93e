"""Object storage with buckets and keys, on local folders (embedded default) or S3/MinIO.

Plain Python (no Flask, no Airflow ORM): everything else in Headrace reaches files through
:func:`get_store` and names them with the validated bucket/key rules of :mod:`.paths`.
"""

from __future__ import annotations

from headrace.storage.base import BucketNotFound, ObjectInfo, ObjectNotFound, ObjectStore
from headrace.storage.factory import get_store
from headrace.storage.local import LocalObjectStore
from headrace.storage.paths import (
    InvalidObjectName,
    ObjectPath,
    join_key,
    parse_path,
    validate_bucket,
    validate_key,
    validate_prefix,
)
from headrace.storage.s3 import S3ObjectStore, S3Settings, s3_settings_from_connection

__all__ = [
    "BucketNotFound",
    "InvalidObjectName",
    "LocalObjectStore",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectPath",
    "ObjectStore",
    "S3ObjectStore",
    "S3Settings",
    "get_store",
    "join_key",
    "parse_path",
    "s3_settings_from_connection",
    "validate_bucket",
    "validate_key",
    "validate_prefix",
]
