"""Object storage with buckets and keys, on local folders (embedded default) or S3/MinIO.

Plain Python (no Flask, no Airflow ORM): everything else in Headrace reaches files through
:func:`get_store` and names them with the validated bucket/key rules of :mod:`.paths`.
"""

from __future__ import annotations

from headrace.storage.base import BucketNotFound, ObjectInfo, ObjectNotFound, ObjectStore
from headrace.storage.factory import get_store
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
from headrace.storage.s3 import S3ObjectStore, S3Settings, s3_settings_from_connection

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
