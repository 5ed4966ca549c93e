"""What a sentence may name: the words for each system, and what the caller's Airflow and Headrace hold.

The built-in words map to Airflow connection types (``PostgreSQL`` -> ``postgres``); each type has a
display name for warnings, a short label for workflow names and the sqlglot dialect its SQL is written
in. The caller adds what exists: connections by type and lakehouse catalogs (:func:`default_vocabulary`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Words people use for a system -> the Airflow connection type of its hook.
ALIASES: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "pg": "postgres",
    "psql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "mssql",
    "sql server": "mssql",
    "sqlserver": "mssql",
    "ms sql": "mssql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "gcpbigquery",
    "big query": "gcpbigquery",
    "redshift": "redshift",
    "clickhouse": "clickhouse",
    "click house": "clickhouse",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "vertica": "vertica",
    "teradata": "teradata",
    "databricks": "databricks",
    "hive": "hiveserver2",
    "exasol": "exasol",
    "s3": "aws",
    "amazon s3": "aws",
    "aws s3": "aws",
    "minio": "aws",
    "gcs": "google_cloud_platform",
    "google cloud storage": "google_cloud_platform",
    "azure blob storage": "wasb",
    "azure blob": "wasb",
}
STORAGE_TYPES = frozenset({"aws", "google_cloud_platform", "wasb"})  # files, not tables
DISPLAY = {
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "mssql": "SQL Server",
    "oracle": "Oracle",
    "snowflake": "Snowflake",
    "gcpbigquery": "BigQuery",
    "redshift": "Redshift",
    "clickhouse": "ClickHouse",
    "sqlite": "SQLite",
    "duckdb": "DuckDB",
    "trino": "Trino",
    "presto": "Presto",
    "vertica": "Vertica",
    "teradata": "Teradata",
    "databricks": "Databricks",
    "hiveserver2": "Hive",
    "exasol": "Exasol",
    "aws": "S3",
    "google_cloud_platform": "GCS",
    "wasb": "Azure Blob Storage",
}
LABEL = {"gcpbigquery": "bigquery", "aws": "s3", "google_cloud_platform": "gcs", "wasb": "azure_blob"}
# Airflow connection type -> the sqlglot dialect its SQL (and quoting) is written in.
DIALECTS = {
    "postgres": "postgres",
    "mysql": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "gcpbigquery": "bigquery",
    "redshift": "redshift",
    "clickhouse": "clickhouse",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "teradata": "teradata",
    "databricks": "databricks",
    "hiveserver2": "hive",
    "exasol": "exasol",
}


@dataclass(frozen=True)
class Vocabulary:
    """What the sentence may name: systems (by word), existing connections, lakehouse catalogs."""

    connector_types: dict[str, str]  # lower-case word or alias -> Airflow connection type
    connections: dict[str, list[str]]  # connection type -> existing Airflow connection ids
    catalogs: list[str]  # lakehouse catalogs known to Headrace


def default_vocabulary(
    catalogs: Iterable[str] = (), connections: Mapping[str, Iterable[str]] | None = None
) -> Vocabulary:
    """The built-in connector words, with the caller's catalogs and connections (by type)."""
    return Vocabulary(
        connector_types=dict(ALIASES),
        connections={kind: list(ids) for kind, ids in (connections or {}).items()},
        catalogs=list(catalogs),
    )
