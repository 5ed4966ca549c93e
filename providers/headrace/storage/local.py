"""Object storage over local folders: the embedded default (``root/<bucket>/<key>``).

Objects are plain files so that engines can read them in place (see :meth:`local_path`). Writes go
to a temporary file in the target folder that is fsynced and renamed over the target, so a reader
never sees a half-written object and a failed upload leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from headrace.storage.base import (
    BucketNotFound,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectWriter,
    guess_content_type,
)
from headrace.storage.paths import (
    InvalidObjectName,
    s3_location,
    validate_bucket,
    validate_key,
    validate_prefix,
    validate_segments,
)

TEMP_PREFIX = ".headrace-tmp-"
TEMP_SUFFIX = ".part"
_CHUNK = 1024 * 1024
_FILE_MODE = 0o644


def _is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename: the new directory entry is only durable once the folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _local_folder(location: str) -> Path | None:
    """The resolved folder of a local path or ``file:`` URI; None for ``s3://`` and other URIs."""
    if not location or s3_location(location) is not None:
        return None
    if location[:5].lower() == "file:":
        location = unquote(urlsplit(location).path)
    elif "://" in location:
        return None
    return Path(location).resolve()


class LocalObjectWriter(ObjectWriter):
    """Bytes go to a temp file beside the target; commit fsyncs it and renames it over the target."""

    def __init__(
        self,
        store: LocalObjectStore,
        bucket: str,
        key: str,
        path: Path,
        bucket_dir: Path,
        out: BinaryIO,
        tmp: Path,
    ):
        self._store, self.bucket, self.key = store, bucket, key
        self._path, self._bucket_dir, self._out, self._tmp = path, bucket_dir, out, tmp
        self._done = False
        self.size = 0

    def write(self, data: bytes) -> None:
        self._out.write(data)
        self.size += len(data)

    def commit(self) -> ObjectInfo:
        if self._done:
            raise RuntimeError("the writer was already committed or aborted")
        try:
            self._out.flush()
            os.fsync(self._out.fileno())
            self._out.close()
            os.chmod(self._tmp, _FILE_MODE)
            try:
                os.replace(self._tmp, self._path)
            except IsADirectoryError:
                raise InvalidObjectName("key", f"{self.key!r} is a prefix of other objects") from None
        except BaseException:
            self.abort()
            raise
        self._done = True
        _fsync_dir(self._path.parent)
        return self._store._info(self.bucket, self.key, self._path.stat())

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._out.close()
        self._tmp.unlink(missing_ok=True)
        self._store._prune_empty_dirs(self._path.parent, self._bucket_dir)


class LocalObjectStore(ObjectStore):
    """Buckets are folders under ``root``, keys are relative file paths inside them."""

    kind = "local"

    def __init__(self, root: Path):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    # -- paths -----------------------------------------------------------------------------------

    def _bucket_dir(self, bucket: str) -> Path:
        root = self.root.resolve()
        folder = (root / bucket).resolve()
        if folder.parent != root:
            raise InvalidObjectName("bucket", "resolves outside the storage root")
        return folder

    def _path_for(self, bucket: str, key: str) -> Path:
        """The file of ``key``; refuses any path that resolves outside the bucket folder.

        Defence in depth: keys are validated before they get here, but resolving (which also follows
        symlinks planted in the storage folder) guarantees that no key can reach another file.
        """
        folder = self._bucket_dir(bucket)
        path = (folder / key).resolve()
        if path == folder or not path.is_relative_to(folder):
            raise InvalidObjectName("key", "resolves outside its bucket")
        return path

    def _checked(self, bucket: str, key: str) -> Path:
        validate_bucket(bucket)
        validate_key(key)
        validate_segments(key)  # the filesystem cannot hold longer names (an OSError otherwise)
        if _is_temp(key.rpartition("/")[2]):
            raise InvalidObjectName("key", f"names matching {TEMP_PREFIX}*{TEMP_SUFFIX} are reserved")
        self._require_bucket(bucket)
        return self._path_for(bucket, key)

    def _require_bucket(self, bucket: str) -> None:
        if not self._bucket_dir(bucket).is_dir():
            raise BucketNotFound(bucket)

    def _info(self, bucket: str, key: str, stat: os.stat_result) -> ObjectInfo:
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=stat.st_size,
            last_modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
            content_type=guess_content_type(key),
        )

    def _prune_empty_dirs(self, folder: Path, bucket_dir: Path) -> None:
        """Remove folders left empty below the bucket, as S3 prefixes vanish with their last object."""
        while folder != bucket_dir and folder.is_relative_to(bucket_dir):
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    # -- buckets ---------------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        validate_bucket(bucket)
        self._bucket_dir(bucket).mkdir(parents=True, exist_ok=True)

    def bucket_exists(self, bucket: str) -> bool:
        validate_bucket(bucket)
        return self._bucket_dir(bucket).is_dir()

    # -- objects ---------------------------------------------------------------------------------

    def put(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str | None = None) -> ObjectInfo:
        """Stream into a temp file next to the target, fsync, then rename it over the target.

        ``content_type`` is not persisted: the local store always reports the type guessed from the
        key's extension.
        """
        with self.writer(bucket, key, content_type=content_type) as out:
            while chunk := stream.read(_CHUNK):
                out.write(chunk)
            return out.commit()

    def writer(self, bucket: str, key: str, *, content_type: str | None = None) -> LocalObjectWriter:
        """A temp file beside the target (same folder, so the rename is atomic), renamed on commit."""
        path = self._checked(bucket, key)
        bucket_dir = self._bucket_dir(bucket)
        fd, tmp = self._temp_file(path.parent, key)
        return LocalObjectWriter(self, bucket, key, path, bucket_dir, os.fdopen(fd, "wb"), Path(tmp))

    def _temp_file(self, folder: Path, key: str) -> tuple[int, str]:
        """Create the temp file, retrying if a concurrent delete pruned the freshly made folder."""
        for attempt in range(3):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                return tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
            except (FileExistsError, NotADirectoryError):
                raise InvalidObjectName("key", f"a parent of {key!r} is an existing object") from None
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def open(self, bucket: str, key: str) -> BinaryIO:
        path = self._checked(bucket, key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(bucket, key) from None

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._checked(bucket, key)
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return self._info(bucket, key, stat) if path.is_file() else None

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Walk only the folder of the prefix, visiting entries in key order so nothing is buffered."""
        validate_bucket(bucket)
        validate_prefix(prefix)
        self._require_bucket(bucket)
        parent, _, leaf = prefix.rpartition("/")
        start = self._path_for(bucket, parent) if parent else self._bucket_dir(bucket)
        return self._walk(bucket, start, f"{parent}/" if parent else "", leaf)

    def _walk(self, bucket: str, folder: Path, key_prefix: str, leaf: str = "") -> Iterator[ObjectInfo]:
        try:
            with os.scandir(folder) as scan:
                entries = [entry for entry in scan if entry.name.startswith(leaf)]
        except (FileNotFoundError, NotADirectoryError):
            return
        # A folder sorts as "name/" so the recursion yields keys in the same order S3 lists them.
        entries.sort(key=lambda e: e.name + "/" if e.is_dir(follow_symlinks=False) else e.name)
        for entry in entries:
            if entry.is_symlink():
                continue
            key = key_prefix + entry.name
            if entry.is_dir():
                yield from self._walk(bucket, Path(entry.path), key + "/")
            elif entry.is_file() and not _is_temp(entry.name):
                try:
                    yield self._info(bucket, key, entry.stat())
                except FileNotFoundError:  # deleted while listing
                    continue

    def delete(self, bucket: str, key: str) -> None:
        path = self._checked(bucket, key)
        if not path.is_file():
            return
        path.unlink(missing_ok=True)
        self._prune_empty_dirs(path.parent, self._bucket_dir(bucket))

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete the listed objects; an empty prefix empties the bucket (as on S3)."""
        keys = [info.key for info in self.list(bucket, prefix)]
        for key in keys:
            self.delete(bucket, key)
        return len(keys)

    def local_path(self, bucket: str, key: str) -> Path | None:
        """The (resolved) file of the object, whether or not it exists yet."""
        validate_bucket(bucket)
        validate_key(key)
        return self._path_for(bucket, key)

    def lies_in(self, location: str, bucket: str, key: str = "") -> bool:
        """As :meth:`ObjectStore.lies_in`; a local folder or ``file:`` URI is compared with the
        object's file (or the bucket's folder) by resolved path, so symlinks cannot hide it."""
        folder = _local_folder(location)
        if folder is None:
            return super().lies_in(location, bucket, key)
        validate_bucket(bucket)
        target = self._path_for(bucket, validate_key(key)) if key else self._bucket_dir(bucket)
        return target.is_relative_to(folder)
