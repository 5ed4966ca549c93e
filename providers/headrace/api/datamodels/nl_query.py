"""Body and answer of ``POST /nl-query``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from headrace.api.datamodels.common import StrictModel

_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*$"


class ColumnSpec(StrictModel):
    """One column of an inline table: its name and type."""

    name: str = Field(pattern=_NAME, max_length=128)
    type: str = Field("", max_length=100)


class ForeignKeySpec(StrictModel):
    """A foreign key of an inline table, used to join it."""

    column: str = Field(pattern=_NAME, max_length=128)
    references: str = Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$", description="table.column"
    )


class TableSpec(StrictModel):
    """A table described inline (without a ``source``)."""

    name: str = Field(pattern=_NAME, max_length=128)
    columns: list[ColumnSpec] = Field(default_factory=list, max_length=500)
    primary_key: list[str] = Field(default_factory=list)
    foreign_keys: list[ForeignKeySpec] = Field(default_factory=list)


class SchemaSpec(StrictModel):
    """The tables the query may read: names (looked up in the source) or inline descriptions."""

    tables: list[str | TableSpec] = Field(min_length=1, max_length=100)

    @field_validator("tables")
    @classmethod
    def _names(cls, value: list[str | TableSpec]) -> list[str | TableSpec]:
        import re

        for item in value:
            if isinstance(item, str) and not re.match(_NAME, item):
                raise ValueError(f"'{item[:60]}' is not a table name")
        return value


class NlQueryRequest(StrictModel):
    """``POST /nl-query``."""

    question: str = Field(min_length=3, max_length=2000)
    schema_: SchemaSpec = Field(alias="schema")
    source: str | None = Field(None, min_length=1, max_length=250)


class NlQueryResponse(BaseModel):
    """The SQL (validated: one read-only statement over the allowed tables), how it was made, and the
    database's estimate when a source was given."""

    sql: str
    explanation: str
    estimated_rows: int | None = None
    estimated_time_ms: float | None = None
    dialect: str
    engine: str = Field(description="builtin or llm")
    unused_phrases: list[str]
    fallback_reason: str | None = None
    estimate: dict[str, Any] | None = Field(None, description="How the estimate was obtained.")
