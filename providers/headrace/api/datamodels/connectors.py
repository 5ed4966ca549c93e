"""Answers of ``GET /connectors`` and the body/answer of ``POST /connectors-ai/configure``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from headrace.api.datamodels.common import StrictModel
from headrace.api.datamodels.data_sources import DataSourceView


class ConnectorField(BaseModel):
    """One field of a connection type's form (standard or extra)."""

    name: str
    kind: Literal["standard", "extra"]
    label: str | None = None
    type: str | None = None
    hidden: bool = False
    secret: bool = False
    placeholder: str | None = None


class Connector(BaseModel):
    """One installed connection type."""

    type: str
    name: str
    hook_class: str | None = None
    testable: bool
    profilable: bool = Field(description="Whether its hook speaks SQL (profile, preview, nl-query).")
    fields: list[ConnectorField]


class ConnectorList(BaseModel):
    """The connection types of the installed providers and the connections the caller may read."""

    connectors: list[Connector]
    connections: list[DataSourceView]


class ConfigureHints(StrictModel):
    """The same vocabulary as ``POST /data-sources``."""

    host: str | None = Field(None, max_length=500, pattern=r"^[A-Za-z0-9_.:\-\[\]]+$")
    port: int | None = Field(None, ge=1, le=65535)
    database: str | None = Field(None, max_length=500)
    schema_name: str | None = Field(
        None, alias="schema", max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_$]*$"
    )
    username: str | None = Field(None, max_length=500)
    password: SecretStr | None = Field(None, max_length=1000)
    ssl_mode: str | None = Field(None, pattern=r"^[A-Za-z_-]{1,30}$")
    type: str | None = Field(
        None, max_length=100, description="The system, when the description does not say."
    )
    name: str | None = Field(
        None, max_length=200, description="Name (and so connector_id) of the connection."
    )


class ConfigureRequest(StrictModel):
    """``POST /connectors-ai/configure``."""

    description: str = Field(min_length=3, max_length=2000)
    type: Literal["source", "destination", "target"] = "source"
    hints: ConfigureHints = Field(default_factory=ConfigureHints)


class ConfigureResponse(BaseModel):
    """The connection created, what was filled by default and why, and what could not be decided."""

    connector_id: str
    type: str
    conn_type: str
    role: str
    configuration: dict[str, Any]
    defaults_applied: dict[str, str] = Field(description="Field -> why that default was chosen.")
    undecided: list[str] = Field(description="What could not be decided from the description and hints.")
    test_status: Literal["success", "failed", "not_tested"]
    test_error: str | None = None
