"""Source paths of a job resolved to concrete objects, before anything is read.

Path rules (one per entry of ``source.file_paths``):

* ``s3://bucket/key`` (or ``s3a://``) names an object in any bucket; a bare key is taken inside
  ``source.bucket_details.bucket_name`` (without one it is an error).
* A key with ``*``, ``?`` or ``[...]`` is a glob matched against the listing of its literal prefix.
  ``*`` and ``?`` never cross ``/`` (as in a shell), ``**`` does (``a/**/x.json`` matches ``a/x.json``
  and ``a/b/c/x.json``), ``[!...]`` negates a class.
* A key ending in ``/`` (or an empty key) names a folder: every object below it, recursively, except
  names starting with ``_`` or ``.`` (``_SUCCESS`` markers, hidden files), as Spark and Hive read folders.

Every path must match at least one object, so a typo fails the job instead of loading nothing. The
result has no duplicates and is sorted by URI, so a job loads the same files in the same order on
every attempt.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spec import Source, has_glob
from headrace.storage import BucketNotFound, InvalidObjectName, ObjectInfo, ObjectStore, parse_path
from headrace.storage.paths import validate_bucket, validate_key, validate_prefix


@dataclass(frozen=True)
class ResolvedFile:
    """One source object; ``etag_or_mtime`` is its ISO last-modified time (ObjectInfo carries no ETag).

    ``(uri, size, etag_or_mtime)`` identifies a loaded file: an object rewritten since it was loaded
    is a new file.
    """

    uri: str
    bucket: str
    key: str
    size: int
    etag_or_mtime: str

    @classmethod
    def from_info(cls, info: ObjectInfo) -> ResolvedFile:
        return cls(
            uri=f"s3://{info.bucket}/{info.key}",
            bucket=info.bucket,
            key=info.key,
            size=info.size,
            etag_or_mtime=info.last_modified.isoformat(),
        )

    @property
    def identity(self) -> tuple[str, int, str]:
        return (self.uri, self.size, self.etag_or_mtime)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_files(source: Source, store: ObjectStore) -> list[ResolvedFile]:
    """Every object the source names, deduplicated and sorted by URI; IngestionFailed for a miss."""
    default_bucket = source.bucket_details.bucket_name if source.bucket_details else None
    found: dict[str, ResolvedFile] = {}
    for path in source.path_list:
        for resolved in _resolve_one(path.strip(), default_bucket, store):
            found.setdefault(resolved.uri, resolved)
    return [found[uri] for uri in sorted(found)]


def _split(path: str, default_bucket: str | None) -> tuple[str, str]:
    try:
        if path.lower().startswith(("s3://", "s3a://")):
            # parse_path validates the key as a prefix; globs are legal key characters.
            parsed = parse_path(path)
            return parsed.bucket, parsed.key
        if default_bucket is None:
            raise IngestionFailed(
                f"Invalid source path '{path}': use s3://bucket/key or set source.bucket_details.bucket_name",
                file=path,
            )
        key = path.lstrip("/")
        validate_bucket(default_bucket)
        validate_prefix(key)
        return default_bucket, key
    except InvalidObjectName as exc:
        raise IngestionFailed(f"Invalid source path '{path}': {exc.message}", file=path) from None


def _resolve_one(path: str, default_bucket: str | None, store: ObjectStore) -> list[ResolvedFile]:
    bucket, key = _split(path, default_bucket)
    uri = f"s3://{bucket}/{key}"
    try:
        if has_glob(key):
            matches = _glob(store, bucket, key)
            if not matches:
                raise IngestionFailed(f"No file matches {uri}", file=uri)
            return matches
        if key == "" or key.endswith("/"):
            matches = [
                ResolvedFile.from_info(info)
                for info in store.list(bucket, key)
                if not _hidden(info.key[len(key) :])
            ]
            if not matches:
                raise IngestionFailed(f"No file matches {uri}", file=uri)
            return matches
        validate_key(key)
        info = store.head(bucket, key)
    except BucketNotFound:
        raise IngestionFailed(f"File not found: {uri} (bucket '{bucket}' does not exist)", file=uri) from None
    except InvalidObjectName as exc:
        raise IngestionFailed(f"Invalid source path '{path}': {exc.message}", file=path) from None
    if info is None:
        raise IngestionFailed(f"File not found: {uri}", file=uri)
    return [ResolvedFile.from_info(info)]


def _hidden(relative_key: str) -> bool:
    return any(part.startswith(("_", ".")) for part in relative_key.split("/"))


def _glob(store: ObjectStore, bucket: str, pattern: str) -> list[ResolvedFile]:
    literal = pattern[: re.search(r"[*?\[]", pattern).start()]  # type: ignore[union-attr]
    try:
        validate_prefix(literal)
        prefix = literal
    except InvalidObjectName:  # e.g. "data/." before ".*.json": list the whole folder instead
        prefix = literal[: literal.rfind("/") + 1]
    regex = glob_regex(pattern)
    return [ResolvedFile.from_info(info) for info in store.list(bucket, prefix) if regex.fullmatch(info.key)]


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regex: ``*``/``?`` stay inside one path segment, ``**`` crosses segments."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[" and (end := _class_end(pattern, i)) > 0:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _class_end(pattern: str, start: int) -> int:
    """Index of the ``]`` closing the class opened at ``start`` (a leading ``]`` is literal), or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "!":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    end = pattern.find("]", i)
    return end
