"""Upload API (lakehouse-api): data files streamed into object storage while the body arrives.

The registry parses the multipart body (``request.form``/``request.files``) before the handler runs,
after authentication. For the two upload routes the request gets :class:`_StreamingFormParser`
instead of werkzeug's default one (a ``request_started`` receiver sets it): when the ``bucket`` field
(and ``path``, if any) came before a file part and the target checks out, that file goes through a
:class:`~headrace.api.services.uploads.ReceivedFile` straight into storage as it is parsed, instead
of being spooled to a temp file and uploaded afterwards. A file part that comes before ``bucket``
(the contract's curl examples do that) is spooled as before. Either way the handler publishes the
files, and a request that fails before it (a bad field, a disconnect, the body limit) aborts them
in the ``request_tearing_down`` receiver: nothing is left in storage.
"""

from __future__ import annotations

import functools
from typing import Any

from flask import Flask, g, request, request_started, request_tearing_down
from pydantic import ValidationError
from werkzeug.datastructures import FileStorage, Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData

from headrace import config
from headrace.api.datamodels.upload import (
    FailedItem,
    MultipleUploadResult,
    UploadedFile,
    UploadedItem,
    UploadForm,
)
from headrace.api.errors import ApiError, RequestValidationError
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint, endpoint_for
from headrace.api.security import Scope, asset
from headrace.api.services.uploads import (
    ReceivedFile,
    StoredFile,
    UploadRejected,
    check_target,
    reserved_locations,
    store_file,
)
from headrace.storage import ObjectStore, ReservedLocation, get_store

MAX_FILES = 10
_MULTIPART_OVERHEAD = 1024 * 1024
_PARSE_CHUNK = 64 * 1024  # werkzeug's own; larger reads made its decoder slower (benchmarks/upload.py)
_WRITE = asset("POST", Scope.WRITE)


class PayloadTooLarge(ApiError):
    status, code = 413, "PAYLOAD_TOO_LARGE"


def _rejected(exc: UploadRejected) -> ApiError:
    if exc.too_large:
        return PayloadTooLarge(exc.message, details=[{"field": exc.field, "message": exc.message}])
    return RequestValidationError(
        exc.message, code=exc.code, details=[{"field": exc.field, "message": exc.message}]
    )


class _Target:
    """The checked target of one request: its store, bucket, path and the reserved locations."""

    def __init__(self, form: UploadForm, context: _UploadContext | None = None) -> None:
        self.form = form
        self.store: ObjectStore = context.store if context and context.store else get_store()
        self.reserved: list[ReservedLocation] = (
            context.reserved if context and context.reserved is not None else reserved_locations()
        )
        try:
            check_target(self.store, form.bucket, form.path, self.reserved)
        except UploadRejected as exc:
            raise _rejected(exc) from exc

    def check_streamed(self, files: list[FileStorage]) -> None:
        """Refuse the request when a field sent after a streamed file changed where it goes."""
        for upload in files:
            if isinstance(upload, _StreamedUpload):
                received = upload.received
                if (received.bucket, received.path) != (self.form.bucket, self.form.path.rstrip("/")):
                    raise RequestValidationError.for_field(
                        "path", "send 'bucket' and 'path' before the files: 'path' came after a file"
                    )

    def store_file(self, upload: FileStorage) -> StoredFile:
        if isinstance(upload, _StreamedUpload):
            return upload.received.publish()
        return store_file(
            self.store,
            bucket=self.form.bucket,
            path=self.form.path.rstrip("/"),
            file_name=upload.filename or "",
            stream=upload.stream,
            max_bytes=config.upload_max_bytes(),
            reserved=self.reserved,
        )


# -- the streaming parser -------------------------------------------------------------------------


class _StreamedUpload(FileStorage):
    """A file part already received into storage (``received``), waiting to be published."""

    def __init__(self, received: ReceivedFile, name: str, headers: Headers) -> None:
        super().__init__(None, received.file_name, name, headers=headers)
        self.received = received


class _UploadContext:
    """What the streaming parser of one upload request needs, and the files it has received."""

    def __init__(self, files_field: str, most: int) -> None:
        self.files_field, self.most = files_field, most
        self.store: ObjectStore | None = None
        self.reserved: list[ReservedLocation] | None = None
        self.received: list[ReceivedFile] = []

    def receiver(self, fields: list[tuple[str, str]], part: File) -> ReceivedFile | None:
        """A ReceivedFile for this file part when its target is known and valid, else None (spool).

        Anything the registry or the handler would refuse (a missing, repeated or unknown field, a
        file field of another name, one file too many, a bad or reserved target) is left to them:
        such a file is spooled as werkzeug does, and refused with their usual answer.
        """
        names = [name for name, _ in fields]
        if part.name != self.files_field or len(names) != len(set(names)) or len(self.received) >= self.most:
            return None
        try:
            form = UploadForm.model_validate(dict(fields))
        except ValidationError:
            return None
        if self.store is None:
            self.store, self.reserved = get_store(), reserved_locations()
        try:
            check_target(self.store, form.bucket, form.path, self.reserved or ())
        except UploadRejected:
            return None
        received = ReceivedFile(
            self.store,
            bucket=form.bucket,
            path=form.path.rstrip("/"),
            file_name=part.filename or "",
            max_bytes=config.upload_max_bytes(),
            reserved=self.reserved or (),
        )
        self.received.append(received)
        return received

    def discard_all(self) -> None:
        for received in self.received:
            received.discard()


class _StreamingFormParser(FormDataParser):
    """werkzeug's multipart parsing (same decoder, same limits), handing file parts to storage.

    The loop is werkzeug's ``MultiPartParser.parse``, except that the form fields parsed so far are
    known when a file part starts, which is what decides whether it can be streamed.
    """

    def __init__(self, *args: Any, context: _UploadContext, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context = context

    def _parse_multipart(
        self, stream: Any, mimetype: str, content_length: int | None, options: dict[str, str]
    ) -> tuple[Any, Any, Any]:
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        decoder = MultipartDecoder(
            boundary, max_form_memory_size=self.max_form_memory_size, max_parts=self.max_form_parts
        )
        fields: list[tuple[str, str]] = []
        files: list[tuple[str, FileStorage]] = []
        part: Field | File | None = None
        chunks: list[bytes] = []
        field_size = 0
        received: ReceivedFile | None = None
        spool: Any = None
        while True:
            data = stream.read(_PARSE_CHUNK)
            decoder.receive_data(data or None)
            event = decoder.next_event()
            while not isinstance(event, Epilogue | NeedData):
                if isinstance(event, Field):
                    part, chunks, field_size = event, [], 0
                elif isinstance(event, File):
                    part = event
                    received = self.context.receiver(fields, event)
                    spool = None if received else self._spool(event, content_length)
                elif isinstance(event, Data) and isinstance(part, Field):
                    field_size += len(event.data)
                    if self.max_form_memory_size is not None and field_size > self.max_form_memory_size:
                        raise RequestEntityTooLarge()
                    chunks.append(event.data)
                    if not event.more_data:
                        fields.append((part.name, b"".join(chunks).decode(_charset(part.headers), "replace")))
                elif isinstance(event, Data) and isinstance(part, File):
                    (received or spool).write(event.data)
                    if not event.more_data:
                        files.append((part.name, self._file(part, received, spool)))
                event = decoder.next_event()
            if not data:
                break
        return stream, self.cls(fields), self.cls(files)

    def _spool(self, part: File, content_length: int | None) -> Any:
        try:
            length = int(part.headers.get("content-length", 0))
        except ValueError:
            length = 0
        return self.stream_factory(
            total_content_length=content_length,
            filename=part.filename,
            content_type=part.headers.get("content-type"),
            content_length=length,
        )

    def _file(self, part: File, received: ReceivedFile | None, spool: Any) -> FileStorage:
        if received is not None:
            received.finish()
            return _StreamedUpload(received, part.name, part.headers)
        spool.seek(0)
        return FileStorage(spool, part.filename, part.name, headers=part.headers)


def _charset(headers: Headers) -> str:
    """As werkzeug's ``MultiPartParser.get_part_charset``: a short list of safe charsets, else UTF-8."""
    charset = parse_options_header(headers.get("content-type", ""))[1].get("charset", "").lower()
    return charset if charset in {"ascii", "us-ascii", "utf-8", "iso-8859-1"} else "utf-8"


_CONTEXT = "headrace_upload"


def _install_parser(sender: Flask, **_: Any) -> None:
    """For the upload routes, parse the body with :class:`_StreamingFormParser` (once it is read)."""
    blueprint = sender.blueprints.get(request.blueprint or "")
    if blueprint is None or not hasattr(blueprint, "headrace_endpoints"):
        return
    spec = endpoint_for(request.endpoint, blueprint)
    if spec is None or spec.handler not in (upload, upload_multiple) or spec.files is None:
        return
    context = _UploadContext(*spec.files)
    setattr(g, _CONTEXT, context)
    request.form_data_parser_class = functools.partial(_StreamingFormParser, context=context)


def _discard_unpublished(sender: Flask, **_: Any) -> None:
    """Abort what a failed request streamed (published files are no longer the writer's)."""
    context = g.pop(_CONTEXT, None)
    if context is not None:
        context.discard_all()


request_started.connect(_install_parser)
request_tearing_down.connect(_discard_unpublished)


def _context() -> _UploadContext | None:
    return g.get(_CONTEXT)


def _answer(stored: StoredFile, model: type[UploadedFile] = UploadedFile) -> UploadedFile:
    return model(
        fileName=stored.file_name,
        bucket=stored.bucket,
        key=stored.key,
        size=stored.size,
        contentType=stored.content_type,
        s3Path=stored.uri,
        replaced=stored.replaced,
    )


@endpoint(
    "/upload",
    "POST",
    Namespace.UPLOAD,
    summary="Upload one data file (.json .csv .parquet .avro .orc)",
    permission=_WRITE,
    form=UploadForm,
    files=("file", 1),
    max_body_bytes=lambda: config.upload_max_bytes() + _MULTIPART_OVERHEAD,
    response=UploadedFile,
    status=201,
    errors=(413,),
)
def upload(form: UploadForm, files: list[FileStorage]):
    """The type is checked by extension and by content (Parquet/ORC/Avro magic bytes, JSON/CSV as
    UTF-8 text); files over ``[headrace] upload_max_bytes`` (100 MB) are refused with 413. The file
    streams to storage; the bucket is created if missing. ``s3Path`` addresses it for ingestion.

    The lakehouse's warehouse, catalog locations and staging folders are reserved for table data:
    a ``bucket`` or ``path`` inside them is refused with 400 ``RESERVED_LOCATION``. Elsewhere an
    existing object of the same key is replaced (as on S3), and ``replaced`` says so. Folder and
    file names are at most 255 bytes each."""
    target = _Target(form, _context())
    target.check_streamed(files)
    try:
        return _answer(target.store_file(files[0]))
    except UploadRejected as exc:
        raise _rejected(exc) from exc


@endpoint(
    "/upload/multiple",
    "POST",
    Namespace.UPLOAD,
    summary="Upload up to 10 data files; each succeeds or fails on its own",
    permission=_WRITE,
    form=UploadForm,
    files=("files", MAX_FILES),
    max_body_bytes=lambda: MAX_FILES * (config.upload_max_bytes() + _MULTIPART_OVERHEAD),
    response=MultipleUploadResult,
    status=201,
    errors=(413,),
)
def upload_multiple(form: UploadForm, files: list[FileStorage]):
    """Every file is checked like ``/upload``; good files are stored even when others fail, and
    ``failed`` says why each other one was not. When no file could be stored the answer is a 400.
    A reserved ``bucket`` or ``path`` refuses the whole request (400 ``RESERVED_LOCATION``)."""
    target = _Target(form, _context())
    target.check_streamed(files)
    uploaded, failed = [], []
    for upload_file in files:
        try:
            uploaded.append(_answer(target.store_file(upload_file), UploadedItem))
        except UploadRejected as exc:
            failed.append(FailedItem(fileName=upload_file.filename or "", error=exc.message, code=exc.code))
    if not uploaded:
        raise RequestValidationError(
            "No file was uploaded: " + "; ".join(f"{f.fileName}: {f.error}" for f in failed),
            details=[{"field": f"files.{i}", "message": f.error} for i, f in enumerate(failed)],
        )
    return MultipleUploadResult(
        uploaded=uploaded,
        failed=failed,
        total=len(files),
        successful=len(uploaded),
        failed_count=len(failed),
    )
