"""Where a catalog keeps its tables: a local folder or an ``s3://bucket/prefix`` in object storage.

Each table format library wants the location in its own terms (a pyarrow filesystem, deltalake
storage options, pyiceberg properties); this is the one place that translates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from headrace.storage import S3Settings


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
