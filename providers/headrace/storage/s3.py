"""Object storage on S3 or MinIO through a boto3 client, plus the settings engines need to reach it.

The client comes from the amazon provider's ``S3Hook`` so that credentials, region and the MinIO
``endpoint_url`` live in one Airflow connection; :class:`S3Settings` hands the same connection to the
engines that talk to S3 themselves (pyarrow, delta-rs, pyiceberg).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, cast
from urllib.parse import urlsplit

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from headrace.storage.base import (
    BucketNotFound,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    ObjectWriter,
    guess_content_type,
)
from headrace.storage.paths import validate_bucket, validate_key, validate_prefix

if TYPE_CHECKING:
    import pyarrow.fs

MIB = 1024 * 1024
# Multipart above 8 MiB. s3transfer reads up to ``max_in_memory_upload_chunks`` parts ahead
# (default 10, i.e. 80 MiB); TransferConfig does not take it, so it is set afterwards. Measured with
# benchmarks/upload.py: 84-88 MiB of growth for a 100 MiB upload with the default, 20-32 MiB with 2.
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4, use_threads=True
)
TRANSFER_CONFIG.max_in_memory_upload_chunks = 2
# Streamed writes (ObjectStore.writer, used by uploads): parts of PART_SIZE, at most PARTS_IN_FLIGHT
# being sent while the next one fills, so memory stays below (PARTS_IN_FLIGHT + 1) * PART_SIZE.
# benchmarks/upload.py (100 MiB, quiet machine): 6 MiB x 2 gave 0.78x boto3 and 21 MiB of growth,
# 5 MiB x 3 (S3's smallest part size) 0.82x and 27 MiB; 8 MiB x 2 peaked at 34 MiB (goal < 32).
PART_SIZE = 5 * MIB
PARTS_IN_FLIGHT = 3
_DELETE_BATCH = 1000
log = logging.getLogger(__name__)
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "Forbidden"}


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class _FullReads:
    """Make ``read(n)`` return exactly ``n`` bytes until the end of a non-seekable stream.

    s3transfer decides between a single PUT and a multipart upload from one ``read(threshold)`` and
    then reads the rest with an unbounded ``read()``; it also takes every ``read(chunksize)`` as a
    whole part. Request bodies return short reads, which would make it buffer a large upload in
    memory (and send parts below S3's 5 MiB minimum). Filling each read keeps both decisions right.
    """

    def __init__(self, stream: BinaryIO):
        self._stream = stream

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:  # only reached at the end of the stream (see above)
            return b"".join(iter(lambda: self._stream.read(MIB), b""))
        first = self._stream.read(size)
        if len(first) == size or not first:
            return first
        parts = [first]
        missing = size - len(first)
        while missing and (chunk := self._stream.read(missing)):
            parts.append(chunk)
            missing -= len(chunk)
        return b"".join(parts)


def _upload_source(stream: BinaryIO) -> Any:
    seekable = getattr(stream, "seekable", None)
    return stream if callable(seekable) and seekable() else _FullReads(stream)


class S3ObjectWriter(ObjectWriter):
    """A multipart upload started once the first part is full, its parts sent while the next fills.

    An object smaller than one part is sent with a single PUT at :meth:`commit`. Parts go out on
    ``PARTS_IN_FLIGHT`` threads; :meth:`write` waits for the oldest when all are busy, so a slow S3
    slows the producer (the request body) instead of growing memory. S3 publishes nothing before
    CompleteMultipartUpload; :meth:`abort` waits for the parts in flight and aborts the upload, which
    deletes every part.
    """

    def __init__(
        self,
        store: S3ObjectStore,
        bucket: str,
        key: str,
        content_type: str | None,
        *,
        part_size: int = PART_SIZE,
        parts_in_flight: int = PARTS_IN_FLIGHT,
    ):
        self._store, self._client, self.bucket, self.key = store, store.client, bucket, key
        self._extra: dict[str, str] = {"ContentType": content_type} if content_type else {}
        # As s3transfer does: CRC32 part checksums when botocore computes them by default.
        config = self._client.meta.config
        self._checksum = getattr(config, "request_checksum_calculation", None) == "when_supported"
        self._part_size, self._parts_in_flight = part_size, parts_in_flight
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._done = False
        self.size = 0

    def write(self, data: bytes) -> None:
        if self._done:
            raise RuntimeError("the writer was already committed or aborted")
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= self._part_size:
            self._send_part()

    def _send_part(self) -> None:
        if self._upload_id is None:
            extra = {**self._extra, **({"ChecksumAlgorithm": "CRC32"} if self._checksum else {})}
            try:
                response = self._client.create_multipart_upload(Bucket=self.bucket, Key=self.key, **extra)
            except ClientError as exc:
                self._store._raise_for(exc, self.bucket)
            self._upload_id = response["UploadId"]
            self._pool = ThreadPoolExecutor(self._parts_in_flight, thread_name_prefix="s3-part")
        assert self._pool is not None
        busy = [part for part in self._parts if not part.done()]
        if len(busy) >= self._parts_in_flight:
            busy[0].result()  # back-pressure; also raises the first failed part
        for part in self._parts:
            if part.done() and part.exception() is not None:
                raise part.exception()  # type: ignore[misc]
        body, self._buffer = self._buffer, bytearray()
        self._parts.append(self._pool.submit(self._upload_part, len(self._parts) + 1, body))

    def _upload_part(self, number: int, body: bytearray) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"} if self._checksum else {}
        response = self._client.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body, **kwargs
        )
        part = {"PartNumber": number, "ETag": response["ETag"]}
        if "ChecksumCRC32" in response:
            part["ChecksumCRC32"] = response["ChecksumCRC32"]
        return part

    def commit(self) -> ObjectInfo:
        if self._done:
            raise RuntimeError("the writer was already committed or aborted")
        try:
            if self._upload_id is None:
                self._client.put_object(
                    Bucket=self.bucket, Key=self.key, Body=bytes(self._buffer), **self._extra
                )
            else:
                if self._buffer:
                    self._send_part()
                parts = [part.result() for part in self._parts]
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self._upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except ClientError as exc:
            self.abort()
            self._store._raise_for(exc, self.bucket)
        except BaseException:
            self.abort()
            raise
        self._finish()
        info = self._store.head(self.bucket, self.key)
        if info is None:  # pragma: no cover - only with a concurrent delete
            raise ObjectNotFound(self.bucket, self.key)
        return info

    def abort(self) -> None:
        if self._done:
            return
        for part in self._parts:
            part.cancel()
        self._finish()  # waits for the parts already being sent, so that none lands after the abort
        if self._upload_id is not None:
            try:
                self._client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self.key, UploadId=self._upload_id
                )
            except ClientError:  # the caller's own error matters more; a lifecycle rule cleans up
                log.exception(
                    "Could not abort multipart upload %s of s3://%s/%s",
                    self._upload_id,
                    self.bucket,
                    self.key,
                )

    def _finish(self) -> None:
        self._done = True
        self._buffer = bytearray()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class S3ObjectStore(ObjectStore):
    """Headrace buckets are S3 buckets; the client decides which endpoint (AWS or MinIO) is used."""

    kind = "s3"

    def __init__(self, client: Any):
        self.client = client

    def __repr__(self) -> str:
        return f"S3ObjectStore(endpoint={self.client.meta.endpoint_url!r})"

    @classmethod
    def from_connection(cls, conn_id: str) -> S3ObjectStore:
        """A store on the endpoint, credentials and region of an Airflow ``aws`` connection."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return cls(S3Hook(aws_conn_id=conn_id).get_conn())

    # -- buckets ---------------------------------------------------------------------------------

    def create_bucket(self, bucket: str) -> None:
        validate_bucket(bucket)
        region = self.client.meta.region_name
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if region and region not in ("us-east-1", "aws-global"):
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            self.client.create_bucket(**kwargs)
        except ClientError as exc:
            if _code(exc) != "BucketAlreadyOwnedByYou":
                raise

    def bucket_exists(self, bucket: str) -> bool:
        validate_bucket(bucket)
        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise
        return True

    def _raise_for(self, exc: ClientError, bucket: str, key: str | None = None) -> NoReturn:
        """Translate S3's not-found errors into the store's exceptions; re-raise anything else."""
        code = _code(exc)
        if code == "NoSuchBucket":
            raise BucketNotFound(bucket) from None
        if key is not None and code in _NOT_FOUND:
            if not self.bucket_exists(bucket):
                raise BucketNotFound(bucket) from None
            raise ObjectNotFound(bucket, key) from None
        raise exc

    # -- objects ---------------------------------------------------------------------------------

    def put(self, bucket: str, key: str, stream: BinaryIO, *, content_type: str | None = None) -> ObjectInfo:
        """Upload in parts above 8 MiB; S3 publishes the object only once the upload completes."""
        validate_bucket(bucket)
        validate_key(key)
        extra = {}
        if mime := content_type or guess_content_type(key):
            extra["ContentType"] = mime
        try:
            self.client.upload_fileobj(
                _upload_source(stream), bucket, key, ExtraArgs=extra, Config=TRANSFER_CONFIG
            )
        except ClientError as exc:
            self._raise_for(exc, bucket)
        info = self.head(bucket, key)
        if info is None:  # pragma: no cover - only with a concurrent delete
            raise ObjectNotFound(bucket, key)
        return info

    def writer(self, bucket: str, key: str, *, content_type: str | None = None) -> S3ObjectWriter:
        """A streamed multipart upload (see :class:`S3ObjectWriter`); nothing is sent before a part fills."""
        validate_bucket(bucket)
        validate_key(key)
        return S3ObjectWriter(self, bucket, key, content_type or guess_content_type(key))

    def open(self, bucket: str, key: str) -> BinaryIO:
        """The response's StreamingBody: bytes are read from the network as the caller reads."""
        validate_bucket(bucket)
        validate_key(key)
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            self._raise_for(exc, bucket, key)
        return cast(BinaryIO, response["Body"])

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        validate_bucket(bucket)
        validate_key(key)
        try:
            response = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            try:
                self._raise_for(exc, bucket, key)
            except ObjectNotFound:
                return None
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=response["ContentLength"],
            last_modified=response["LastModified"].astimezone(UTC),
            content_type=response.get("ContentType"),
        )

    def has_object(self, bucket: str, key: str) -> bool:
        """As :meth:`head`, except that a 403 counts as no object: S3 answers HEAD of a missing key
        with 403 to credentials without ``s3:ListBucket``, which may still write the key."""
        try:
            return self.head(bucket, key) is not None
        except ClientError as exc:
            if _code(exc) in _FORBIDDEN:
                return False
            raise

    def list(self, bucket: str, prefix: str = "") -> Iterator[ObjectInfo]:
        """Pages through ListObjectsV2 lazily; listings carry no content type, so it is None."""
        validate_bucket(bucket)
        validate_prefix(prefix)
        return self._list(bucket, prefix)

    def _list(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        for page in self._pages(bucket, prefix):
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    bucket=bucket,
                    key=item["Key"],
                    size=item["Size"],
                    last_modified=item["LastModified"].astimezone(UTC),
                )

    def _pages(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        try:
            yield from pages
        except ClientError as exc:
            self._raise_for(exc, bucket)

    def delete(self, bucket: str, key: str) -> None:
        validate_bucket(bucket)
        validate_key(key)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            self._raise_for(exc, bucket)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        """Delete page by page (a page holds at most 1000 keys, DeleteObjects' batch limit)."""
        validate_bucket(bucket)
        validate_prefix(prefix)
        deleted = 0
        batch: list[dict[str, str]] = []
        for info in self._list(bucket, prefix):
            batch.append({"Key": info.key})
            if len(batch) == _DELETE_BATCH:
                deleted += self._delete_batch(bucket, batch)
                batch = []
        if batch:
            deleted += self._delete_batch(bucket, batch)
        return deleted

    def _delete_batch(self, bucket: str, batch: Sequence[dict[str, str]]) -> int:
        response = self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if errors := response.get("Errors"):
            first = errors[0]
            raise OSError(
                f"could not delete {len(errors)} object(s) from {bucket!r}, e.g. {first.get('Key')!r}: "
                f"{first.get('Code')} {first.get('Message')}"
            )
        return len(batch)


@dataclass(frozen=True)
class S3Settings:
    """Endpoint, credentials and region of one S3/MinIO connection, in each engine's dialect."""

    endpoint_url: str | None
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)
    region: str | None
    session_token: str | None = field(default=None, repr=False)

    def pyarrow_filesystem(self) -> pyarrow.fs.S3FileSystem:
        """An Arrow S3 filesystem (path-style requests, as MinIO needs)."""
        from pyarrow import fs

        kwargs: dict[str, Any] = {}
        if self.access_key_id and self.secret_access_key:
            kwargs.update(access_key=self.access_key_id, secret_key=self.secret_access_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        if self.region:
            kwargs["region"] = self.region
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            kwargs.update(endpoint_override=parts.netloc or parts.path, scheme=parts.scheme or "https")
        return fs.S3FileSystem(**kwargs)

    def deltalake_storage_options(self) -> dict[str, str]:
        """delta-rs ``storage_options``; unsafe rename is needed without a DynamoDB lock table."""
        options = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        }
        if self.endpoint_url and self.endpoint_url.lower().startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
        return {name: value for name, value in options.items() if value}

    def iceberg_properties(self) -> dict[str, str]:
        """pyiceberg FileIO properties (only those that are set)."""
        properties = {
            "s3.endpoint": self.endpoint_url,
            "s3.access-key-id": self.access_key_id,
            "s3.secret-access-key": self.secret_access_key,
            "s3.region": self.region,
            "s3.session-token": self.session_token,
        }
        return {name: value for name, value in properties.items() if value}


def s3_settings_from_connection(conn_id: str) -> S3Settings:
    """Resolve an Airflow ``aws`` connection the way the S3Hook does (secrets get masked in logs)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=conn_id)
    try:
        credentials = hook.get_credentials()
    except AttributeError:  # botocore found no credentials at all: leave them to each engine's chain
        access_key = secret_key = token = None
    else:
        access_key, secret_key, token = credentials.access_key, credentials.secret_key, credentials.token
    config = hook.conn_config
    return S3Settings(
        endpoint_url=config.get_service_endpoint_url("s3") or config.endpoint_url,
        access_key_id=access_key,
        secret_access_key=secret_key,
        region=config.region_name or hook.conn_region_name,
        session_token=token,
    )
