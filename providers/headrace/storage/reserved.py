"""Locations in object storage that callers must not write to, and the rule that finds them.

Storage does not know what a location holds: the lakehouse names its warehouse, its catalogs and
their staging folders (:meth:`headrace.lakehouse.service.Lakehouse.reserved_locations`), and each
store decides whether a bucket or an object lies in one of them (:meth:`ObjectStore.lies_in`):

* ``s3://bucket/prefix`` locations are compared by name, on every backend (buckets are Headrace's
  namespace): the objects ``prefix`` and ``prefix/...`` of that bucket, the whole bucket when the
  prefix is empty;
* local folders (or ``file:`` URIs) are compared by resolved path in the local store, symlinks
  followed, so a warehouse anywhere under the storage root (or a storage root inside a warehouse)
  is found whatever path names it; an S3 store holds no local folders.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headrace.storage.base import ObjectStore

TABLE_DATA = "reserved for table data"


@dataclass(frozen=True)
class ReservedLocation:
    """A folder-like location (``s3://bucket/prefix``, a local folder or a ``file:`` URI)."""

    uri: str
    reason: str = TABLE_DATA


@dataclass(frozen=True)
class ReservedTarget:
    """Why a write target is refused: ``field`` is ``bucket`` when the whole bucket lies in the
    reserved location, else the field of the key (``path`` by default)."""

    field: str
    location: ReservedLocation


def find_reserved(
    store: ObjectStore,
    bucket: str,
    key: str,
    locations: Iterable[ReservedLocation],
    *,
    key_field: str = "path",
) -> ReservedTarget | None:
    """The reserved location that ``bucket/key`` (a validated bucket and key, ``key`` may be
    empty: the bucket's root) lies in, or None; bucket-wide reservations are reported first."""
    locations = list(locations)
    for location in locations:
        if store.lies_in(location.uri, bucket):
            return ReservedTarget("bucket", location)
    if key:
        for location in locations:
            if store.lies_in(location.uri, bucket, key):
                return ReservedTarget(key_field, location)
    return None
