"""Upload API models (lakehouse-api)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from headrace.api.datamodels.common import StrictModel


class UploadForm(StrictModel):
    bucket: str = Field(min_length=1, max_length=63, description="Target bucket (created if missing).")
    path: str = Field("", max_length=900, description="Folder inside the bucket (default: its root).")


class UploadedFile(BaseModel):
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
    success: bool = True


class FailedItem(BaseModel):
    fileName: str
    error: str
    code: str
    success: bool = False


class MultipleUploadResult(BaseModel):
    uploaded: list[UploadedItem]
    failed: list[FailedItem] = Field(description="Files that were not stored, each with its reason.")
    total: int
    successful: int
    failed_count: int = Field(
        description="len(failed). The contract's example repeats the key `failed` for the list and the "
        "count; JSON keeps one, so the count is here."
    )
