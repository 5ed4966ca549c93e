"""The ingestion job specification: the lakehouse-api request plus the options ingestion tools expect.

One model serves the REST API (request validation, OpenAPI), the ``IngestionOperator`` and the run
conf of the shipped ``headrace_ingestion`` DAG, so a job means the same thing everywhere.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from headrace.lakehouse.names import MAX_NAME_LENGTH
from headrace.storage.filetypes import FileType

NAME = r"^[A-Za-z0-9_-]+$"
JOB_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$"
FILE_TYPES = ", ".join(t.value for t in FileType)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PartitionSpec(_Strict):
    column: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    transform: Literal["identity", "year", "month", "day", "hour", "bucket", "truncate"] = "identity"
    param: int | None = Field(None, ge=1, description="Number of buckets (bucket) or width (truncate).")

    @model_validator(mode="after")
    def _param_fits_transform(self) -> PartitionSpec:
        needs_param = self.transform in ("bucket", "truncate")
        if needs_param and self.param is None:
            raise ValueError(f"transform {self.transform} needs param")
        if not needs_param and self.param is not None:
            raise ValueError(f"transform {self.transform} takes no param")
        return self


class Target(_Strict):
    catalog: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME)
    schema_name: str = Field(alias="schema", min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME)
    table: str = Field(min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME)
    write_mode: Literal["append", "overwrite", "merge"] = "append"
    merge_keys: list[str] = Field(
        default_factory=list, description="Key columns of write_mode=merge (upsert)."
    )
    create_if_missing: bool = True
    schema_evolution: bool = Field(True, description="Add new columns; incompatible type changes still fail.")
    partition_by: list[PartitionSpec] = Field(
        default_factory=list, description="Partitioning of a table created by this job."
    )

    @model_validator(mode="after")
    def _merge_needs_keys(self) -> Target:
        if self.write_mode == "merge" and not self.merge_keys:
            raise ValueError("write_mode merge needs merge_keys")
        return self

    @property
    def full_name(self) -> str:
        return f"{self.catalog}.{self.schema_name}.{self.table}"


class CsvProperties(_Strict):
    field_delimiter: str = Field(",", min_length=1, max_length=1)
    line_delimiter: str = Field("\n", description="\\n or \\r\\n (both are always understood).")
    escape_character: str | None = Field(None, min_length=1, max_length=1)
    quote_character: str = Field('"', min_length=1, max_length=1)
    header: bool = True
    encoding: str = "utf-8"
    null_value: str = Field("", description="Text read as null.")

    @field_validator("line_delimiter")
    @classmethod
    def _known_line_delimiter(cls, value: str) -> str:
        if value not in ("\n", "\r\n", "\r"):
            raise ValueError("line_delimiter must be \\n, \\r\\n or \\r")
        return value


class BucketDetails(_Strict):
    bucket_name: str | None = Field(None, min_length=3, max_length=63)
    bucket_type: Literal["minio", "s3", "local"] | None = None


class Source(_Strict):
    file_paths: str | list[str] = Field(
        description="s3://bucket/key (globs allowed: *, ?, [..]), or keys inside bucket_details.bucket_name."
    )
    file_type: FileType
    bucket_details: BucketDetails | None = None
    file_format_properties: CsvProperties | None = Field(None, description="CSV only.")
    skip_loaded_files: bool = Field(True, description="Skip files an earlier job loaded into the same table.")

    @field_validator("file_paths")
    @classmethod
    def _some_paths(cls, value: str | list[str]) -> str | list[str]:
        paths = [value] if isinstance(value, str) else value
        if not paths or any(not p.strip() for p in paths):
            raise ValueError("Source file paths are required")
        return value

    @property
    def path_list(self) -> list[str]:
        return [self.file_paths] if isinstance(self.file_paths, str) else list(self.file_paths)

    @model_validator(mode="after")
    def _csv_properties_for_csv(self) -> Source:
        if self.file_format_properties is not None and self.file_type is not FileType.CSV:
            raise ValueError("file_format_properties apply to csv files only")
        return self


class ExecuteConfig(_Strict):
    driver_memory: str = Field("4G", pattern=r"^[1-9][0-9]*[KMGkmg]$")
    driver_cores: int = Field(2, ge=1, le=64)
    executor_memory: str = Field("4G", pattern=r"^[1-9][0-9]*[KMGkmg]$")
    executor_cores: int = Field(2, ge=1, le=64)
    num_executors: int = Field(1, ge=1, le=1000)


class IngestionSpec(_Strict):
    target: Target
    source: Source
    job_id: str | None = Field(None, pattern=JOB_ID, description="Generated when absent.")
    engine_id: str | None = Field(None, max_length=64, description="An engine of [headrace] engines.")
    execute_config: ExecuteConfig | None = None

    def conf(self) -> dict[str, Any]:
        """The DagRun conf form: JSON-ready, with the schema field under its contract name."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# Contract wording (lakehouse-api) for the errors it names; other errors say "<field>: <message>".
_CONTRACT_MESSAGES = {
    ("target",): "Target is required",
    ("target", "catalog"): "Target catalog is required",
    ("target", "schema"): "Target schema is required",
    ("target", "table"): "Target table is required",
    ("source",): "Source is required",
    ("source", "file_paths"): "Source file paths are required",
    ("source", "file_type"): "Source file type is required",
}


def validation_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Every error of a failed validation as ``{"field", "message"}``, in the contract's wording."""
    errors = []
    for error in exc.errors(include_url=False):
        loc = tuple(str(part) for part in error["loc"])
        field = ".".join(loc)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing" and loc in _CONTRACT_MESSAGES:
            message = _CONTRACT_MESSAGES[loc]
        elif loc == ("source", "file_type") and error["type"] == "enum":
            message = f"Invalid file type. Must be one of: {FILE_TYPES}"
        elif error["type"] == "string_pattern_mismatch" and loc[-1] in ("catalog", "schema", "table"):
            message = f"{field}: may contain only letters, digits, underscore and hyphen"
        elif not message.startswith(("Target", "Source", "Invalid")):
            message = f"{field}: {message}"
        errors.append({"field": field, "message": message})
    return errors


def parse_spec(payload: Any) -> tuple[IngestionSpec | None, list[dict[str, str]]]:
    """The spec, or None and every error at once."""
    try:
        return IngestionSpec.model_validate(payload), []
    except ValidationError as exc:
        return None, validation_errors(exc)


_GLOB = re.compile(r"[*?\[]")


def has_glob(path: str) -> bool:
    return bool(_GLOB.search(path))
