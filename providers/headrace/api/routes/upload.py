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
from headrace.api.security import asset
from headrace.api.services.api_keys import Scope
from headrace.api.services.uploads import StoredFile, UploadRejected, check_target, store_file
from headrace.storage import get_store

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


def _store(form: UploadForm, upload: FileStorage) -> StoredFile:
    return store_file(
        get_store(),
        bucket=form.bucket,
        path=form.path.rstrip("/"),
        file_name=upload.filename or "",
        stream=upload.stream,
        max_bytes=config.upload_max_bytes(),
    )


def _answer(stored: StoredFile, model: type[UploadedFile] = UploadedFile) -> UploadedFile:
    return model(
        fileName=stored.file_name,
        bucket=stored.bucket,
        key=stored.key,
        size=stored.size,
        contentType=stored.content_type,
        s3Path=stored.uri,
    )


def _checked_target(form: UploadForm) -> None:
    try:
        check_target(form.bucket, form.path)
    except UploadRejected as exc:
        raise _rejected(exc) from exc


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
    streams to storage; the bucket is created if missing. ``s3Path`` addresses it for ingestion."""
    _checked_target(form)
    try:
        return _answer(_store(form, files[0]))
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
    ``failed`` says why each other one was not. When no file could be stored the answer is a 400."""
    _checked_target(form)
    uploaded, failed = [], []
    for upload_file in files:
        try:
            uploaded.append(_answer(_store(form, upload_file), UploadedItem))
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
