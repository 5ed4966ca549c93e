"""Upload API models (lakehouse-api)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from headrace.api.datamodels.common import StrictModel


class UploadForm(StrictModel):
    """Form fields of an upload: the target bucket and folder."""

    bucket: str = Field(min_length=1, max_length=63, description="Target bucket (created if missing).")
    path: str = Field("", max_length=900, description="Folder inside the bucket (default: its root).")


class UploadedFile(BaseModel):
    """A file stored in object storage by an upload."""

    fileName: str
    bucket: str
    key: str
    size: int
    contentType: str
    s3Path: str
    replaced: bool = Field(
        description="True when an object of the same key existed and this upload replaced it (as S3 "
        "does); uploads never reach the lakehouse's warehouse, catalogs or staging folders."
    )


class UploadedItem(UploadedFile):
    """A file of a multiple upload that was stored."""

    success: bool = True


class FailedItem(BaseModel):
    """A file of a multiple upload that was not stored, and why."""

    fileName: str
    error: str
    code: str
    success: bool = False


class MultipleUploadResult(BaseModel):
    """Answer of a multiple upload: the files stored and those refused."""

    uploaded: list[UploadedItem]
    failed: list[FailedItem] = Field(description="Files that were not stored, each with its reason.")
    total: int
    successful: int
    failed_count: int = Field(
        description="len(failed). The contract's example repeats the key `failed` for the list and the "
        "count; JSON keeps one, so the count is here."
    )
