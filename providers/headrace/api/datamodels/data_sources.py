"""Bodies and answers of the data-sources API (workflows-api "Data Source Management").

A data source is an Airflow Connection: ``source_id`` is its ``conn_id``. Passwords go in, never out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from headrace.api.datamodels.common import FieldValueError, StrictModel

SOURCE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$"


class ConnectionSettings(StrictModel):
    """Where the database is. ``ssl_enabled`` maps to the driver's own TLS setting."""

    host: str = Field(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_.:\-\[\]]+$")
    port: int | None = Field(None, ge=1, le=65535)
    database: str | None = Field(None, max_length=500)
    ssl_enabled: bool | None = None
    ssl_mode: str | None = Field(None, pattern=r"^[A-Za-z_-]{1,30}$")


class Credentials(StrictModel):
    """Inline (``username`` + ``password``, stored by Airflow, Fernet-encrypted) or a secret reference
    (``secret_name`` + ``secret_provider``: ``airflow`` resolves an Airflow connection through the
    configured secrets backends, ``aws_secrets_manager`` a secret through the amazon provider)."""

    username: str | None = Field(None, max_length=500)
    password: SecretStr | None = Field(None, max_length=1000)
    secret_name: str | None = Field(None, max_length=500, pattern=r"^[A-Za-z0-9_./+=@:-]+$")
    secret_provider: Literal["airflow", "aws_secrets_manager"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Credentials:
        inline = self.username is not None or self.password is not None
        reference = self.secret_name is not None or self.secret_provider is not None
        if inline and reference:
            raise FieldValueError("secret_name", "give either username/password or secret_name, not both")
        if self.secret_provider is not None and self.secret_name is None:
            raise FieldValueError("secret_name", "required with secret_provider")
        return self


class SourceConfiguration(StrictModel):
    """``timeout`` (seconds) bounds connecting; ``pool_size`` and ``read_only`` are kept as the source's
    settings for the DAGs that use it."""

    pool_size: int | None = Field(None, ge=1, le=100)
    timeout: int | None = Field(None, ge=1, le=300)
    read_only: bool | None = None


class DataSourceCreate(StrictModel):
    """``POST /data-sources``."""

    name: str = Field(min_length=1, max_length=200)
    type: str = Field(
        min_length=1,
        max_length=100,
        description="postgresql, mysql, mariadb, ... or an Airflow connection type.",
    )
    connection: ConnectionSettings
    credentials: Credentials = Field(default_factory=Credentials)
    configuration: SourceConfiguration = Field(default_factory=SourceConfiguration)
    metadata: dict[str, Any] = Field(default_factory=dict)


class TestDetails(BaseModel):
    """Which step of the test failed, if one did."""

    host_reachable: bool
    authentication: Literal["success", "failed", "not_tested"]
    permissions: Literal["read_only", "read_write"] | None = None
    schema_accessible: bool


class ConnectionTest(BaseModel):
    """The outcome of testing a connection; ``response_time`` in milliseconds."""

    status: Literal["success", "failed"]
    response_time: int
    tested_at: str
    error: str | None = Field(None, description="Why the test failed (never a password).")
    details: TestDetails | None = None


class SchemaInfo(BaseModel):
    """Counts and size from the database's own catalog (the connection's default schema)."""

    schema_name: str | None = Field(None, alias="schema", serialization_alias="schema")
    tables: int
    views: int
    estimated_size_mb: float


class DataSourceCreated(BaseModel):
    """The answer to ``POST /data-sources`` (201), also for a source that could not be reached."""

    source_id: str
    name: str
    status: Literal["registered"] = "registered"
    connection_test: ConnectionTest
    schema_info: SchemaInfo | None = None


class SourceTestResult(BaseModel):
    """The answer to ``POST /data-sources/{id}/test``."""

    source_id: str
    connection_test: ConnectionTest


class DataSourceView(BaseModel):
    """A connection as this API shows it: no password, secret extras masked."""

    source_id: str
    name: str
    type: str = Field(description="The Airflow connection type.")
    host: str | None = None
    port: int | None = None
    database: str | None = None
    username: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    credentials: dict[str, Any] = Field(
        default_factory=dict, description="Only the kind of credentials and a secret reference."
    )
    sql_capable: bool
    managed_by_headrace: bool
