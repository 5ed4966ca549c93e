"""Upload API (lakehouse-api): data files streamed into object storage."""

from __future__ import annotations

from werkzeug.datastructures import FileStorage

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
from headrace.api.registry import endpoint
from headrace.api.security import Scope, asset
from headrace.api.services.uploads import (
    StoredFile,
    UploadRejected,
    check_target,
    reserved_locations,
    store_file,
)
from headrace.storage import ObjectStore, ReservedLocation, get_store

MAX_FILES = 10
_MULTIPART_OVERHEAD = 1024 * 1024
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

    def __init__(self, form: UploadForm) -> None:
        self.form = form
        self.store: ObjectStore = get_store()
        self.reserved: list[ReservedLocation] = reserved_locations()
        try:
            check_target(self.store, form.bucket, form.path, self.reserved)
        except UploadRejected as exc:
            raise _rejected(exc) from exc

    def store_file(self, upload: FileStorage) -> StoredFile:
        return store_file(
            self.store,
            bucket=self.form.bucket,
            path=self.form.path.rstrip("/"),
            file_name=upload.filename or "",
            stream=upload.stream,
            max_bytes=config.upload_max_bytes(),
            reserved=self.reserved,
        )


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
    target = _Target(form)
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
    target = _Target(form)
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
