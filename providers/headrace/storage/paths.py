"""Validation of bucket names, object keys and ``s3://`` paths.

Keys arrive from API callers and end up as file paths in the local store, so they are checked here,
once, with the strictest rules either backend needs: S3's bucket naming rules, and keys that cannot
climb out of their bucket or mean different things on different backends.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Prefixes and suffixes that S3 reserves for its own features (xn-- is punycode).
_RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_MAX_KEY_BYTES = 1024
# NAME_MAX of the usual local filesystems (ext4, XFS, APFS): a longer file or folder name cannot be
# stored in the local store, so names that must work in both modes (uploads) are held to it.
MAX_SEGMENT_BYTES = 255
_SCHEMES = ("s3://", "s3a://")


class InvalidObjectName(ValueError):
    """A bucket name, key or path that Headrace refuses; ``field`` says which input was wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"invalid {field}: {message}")
        self.field = field
        self.message = message


def validate_bucket(name: str) -> str:
    """Return ``name`` if it is a valid S3 bucket name, so that both backends accept the same buckets."""
    if not isinstance(name, str) or not 3 <= len(name) <= 63:
        raise InvalidObjectName("bucket", "bucket names have 3 to 63 characters")
    if not _BUCKET_RE.fullmatch(name):
        raise InvalidObjectName(
            "bucket",
            "bucket names use lowercase letters, digits, '-' and '.', and start and end with a letter "
            "or digit",
        )
    if ".." in name:
        raise InvalidObjectName("bucket", "bucket names must not contain '..'")
    if name.startswith(_RESERVED_BUCKET_PREFIXES) or name.endswith(_RESERVED_BUCKET_SUFFIXES):
        raise InvalidObjectName("bucket", "bucket name uses a prefix or suffix reserved by S3")
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidObjectName("bucket", "bucket names must not look like an IP address")


def validate_key(key: str, field: str = "key") -> str:
    """Return ``key`` unchanged if it is a safe object key (relative, no dot segments, no control chars)."""
    if not isinstance(key, str) or not key:
        raise InvalidObjectName(field, "must not be empty")
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidObjectName(field, "must be valid UTF-8") from None
    if size > _MAX_KEY_BYTES:
        raise InvalidObjectName(field, f"must be at most {_MAX_KEY_BYTES} bytes in UTF-8")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise InvalidObjectName(field, "must not contain NUL or control characters")
    if "\\" in key:
        raise InvalidObjectName(field, "must not contain backslashes")
    if key.startswith("/"):
        raise InvalidObjectName(field, "must be relative (no leading '/')")
    for segment in key.split("/"):
        if segment in (".", ".."):
            raise InvalidObjectName(field, "must not contain '.' or '..' segments")
        if not segment:
            raise InvalidObjectName(field, "must not contain empty segments ('//' or a trailing '/')")
    return key


def validate_segments(key: str, field: str = "key") -> str:
    """Return ``key`` if none of its '/'-separated names is longer than :data:`MAX_SEGMENT_BYTES`.

    Apart from :func:`validate_key`: S3 takes longer names, and objects other tools wrote there must
    stay readable. Everything that *creates* objects in both modes checks this too.
    """
    for segment in key.split("/"):
        size = len(segment.encode("utf-8", "surrogatepass"))
        if size > MAX_SEGMENT_BYTES:
            raise InvalidObjectName(
                field,
                f"each '/'-separated name must be at most {MAX_SEGMENT_BYTES} bytes in UTF-8 "
                f"(one has {size})",
            )
    return key


def validate_prefix(prefix: str, field: str = "key") -> str:
    """Return ``prefix`` if it is empty or a valid key, optionally followed by one '/'."""
    if prefix == "":
        return prefix
    validate_key(prefix[:-1] if prefix.endswith("/") else prefix, field)
    return prefix


def join_key(*parts: str) -> str:
    """Join key parts with '/', dropping empty parts and the slashes around each, then validate."""
    return validate_key("/".join(stripped for part in parts if (stripped := part.strip("/"))))


@dataclass(frozen=True)
class ObjectPath:
    """A bucket and a key (``""`` or ending with '/' for a prefix), printed as ``s3://bucket/key``."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def s3_location(uri: str) -> tuple[str, str] | None:
    """``s3://bucket/prefix`` (or ``s3a://``) as ``(bucket, prefix)``, the prefix without empty
    segments or surrounding slashes; None for anything else (a local path, ``file:`` URI...).

    Unlike :func:`parse_path` nothing is validated: this reads locations from configuration, which
    need not follow the rules for keys that callers send.
    """
    if not isinstance(uri, str):
        return None
    scheme = next((s for s in _SCHEMES if uri[: len(s)].lower() == s), None)
    if scheme is None:
        return None
    bucket, _, prefix = uri[len(scheme) :].partition("/")
    return bucket, "/".join(segment for segment in prefix.split("/") if segment)


def parse_path(uri: str) -> ObjectPath:
    """Parse ``s3://bucket/key`` (or ``s3a://``); every error is reported against the field ``path``."""
    if not isinstance(uri, str):
        raise InvalidObjectName("path", "must be a string like s3://bucket/key")
    scheme = next((s for s in _SCHEMES if uri[: len(s)].lower() == s), None)
    if scheme is None:
        raise InvalidObjectName("path", "must start with s3:// or s3a://")
    bucket, _, key = uri[len(scheme) :].partition("/")
    try:
        validate_bucket(bucket)
        validate_prefix(key)
    except InvalidObjectName as exc:
        raise InvalidObjectName("path", exc.message) from None
    return ObjectPath(bucket, key)
