"""Where a catalog keeps its tables: a local folder or an ``s3://bucket/prefix`` in object storage.

Each table format library wants the location in its own terms (a pyarrow filesystem, deltalake
storage options, pyiceberg properties); this is the one place that translates.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pyarrow.fs as pafs

from headrace.storage import ReservedLocation, S3Settings, s3_location

# Spark ingestion and transforms stage Delta and Hive-style tables' files in this folder next to the
# catalog's folder (headrace.ingestion.spark.staging.staging_uri); the Arrow engine stages inside the
# table's own folder.
STAGING_FOLDER = ".headrace-staging"


@dataclass(frozen=True)
class Location:
    """A folder-like location: ``uri`` is an absolute local path or ``s3://bucket/prefix``."""

    uri: str
    s3: S3Settings | None = field(default=None, compare=False)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")

    def child(self, *names: str) -> Location:
        """A sub-location; names must already be validated (see :mod:`headrace.lakehouse.names`)."""
        return Location("/".join([self.uri.rstrip("/"), *names]), self.s3)

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the path of this location inside it."""
        if self.is_s3:
            if self.s3 is None:
                raise ValueError(f"{self.uri} needs S3 settings ([headrace] storage_conn_id)")
            return self.s3.pyarrow_filesystem(), self.uri.removeprefix("s3://")
        return pafs.LocalFileSystem(), self.uri

    def storage_options(self) -> dict[str, str] | None:
        """deltalake's storage options (None for local folders)."""
        return self.s3.deltalake_storage_options() if self.is_s3 and self.s3 else None

    def iceberg_properties(self) -> dict[str, str]:
        return self.s3.iceberg_properties() if self.is_s3 and self.s3 else {}

    @property
    def iceberg_warehouse(self) -> str:
        return self.uri if self.is_s3 else Path(self.uri).as_uri()

    def ensure(self) -> None:
        fs, path = self.filesystem()
        fs.create_dir(path, recursive=True)

    def exists(self) -> bool:
        fs, path = self.filesystem()
        return fs.get_file_info(path).type != pafs.FileType.NotFound

    def subfolders(self) -> list[str]:
        """Names of the folders directly under this location, sorted."""
        fs, path = self.filesystem()
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return []
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=False))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def files(self) -> list[pafs.FileInfo]:
        """Every file below this location (recursive)."""
        fs, path = self.filesystem()
        if fs.get_file_info(path).type == pafs.FileType.NotFound:
            return []
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        return [i for i in infos if i.type == pafs.FileType.File]

    def delete(self) -> None:
        fs, path = self.filesystem()
        if fs.get_file_info(path).type != pafs.FileType.NotFound:
            fs.delete_dir(path)


def _is_uri(uri: str) -> bool:
    return s3_location(uri) is not None or ("://" in uri and uri[:5].lower() != "file:")


def _local(uri: str) -> str:
    return unquote(urlsplit(uri).path) if uri[:5].lower() == "file:" else uri


def staging_location(catalog_location: str) -> str:
    """The folder where Spark stages files for the catalog at ``catalog_location``: the parent's
    ``.headrace-staging``, or the catalog's own when it has no parent (a bucket root, ``/``)."""
    location = catalog_location.rstrip("/")
    parent, _, _name = location.rpartition("/")
    if not parent or parent.endswith(":/") or parent.endswith(":"):
        return f"{location}/{STAGING_FOLDER}"
    return f"{parent}/{STAGING_FOLDER}"


def reserved_locations(warehouse: str, catalog_locations: Iterable[str]) -> list[ReservedLocation]:
    """Where table data and staged files live: the warehouse, each catalog's folder (its tables,
    their metadata and the Arrow engine's staging) and the Spark staging folder beside it."""
    uris = [warehouse]
    for location in catalog_locations:
        uris += [location, staging_location(location)]
    return [ReservedLocation(uri) for uri in dict.fromkeys(u for u in uris if u)]


def display_location(uri: str, roots: Sequence[str | os.PathLike[str]]) -> str:
    """``uri`` as the API shows it, never an absolute server path.

    ``s3://`` (and other) URIs are shown as they are. A local path or ``file:`` URI is shown
    relative to the first of ``roots`` (local folders) that holds it, as a POSIX path; both the
    paths as configured and as resolved (symlinks followed) are tried. A path in none of them is
    shown by its last name only.
    """
    if _is_uri(uri):
        return uri
    path = Path(os.path.normpath(os.path.abspath(_local(uri))))
    for root in roots:
        base = Path(os.path.normpath(os.path.abspath(os.fspath(root))))
        for candidate, folder in ((path, base), (path.resolve(), base.resolve())):
            if candidate != folder and candidate.is_relative_to(folder):
                return candidate.relative_to(folder).as_posix()
    return path.name


def parent_folder(uri: str) -> str | None:
    """The local folder holding ``uri`` (a local path or ``file:`` URI), None for URIs."""
    if _is_uri(uri) or not uri:
        return None
    return os.path.dirname(os.path.normpath(os.path.abspath(_local(uri))))
