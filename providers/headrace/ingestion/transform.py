"""SQL transforms: one read-only query over lakehouse tables, its result written to a table in one commit.

An ingestion whose source is a query. The query is checked and rewritten by
:mod:`headrace.lakehouse.sql` (the REST query service's rules: one read-only statement over
``catalog.schema.table`` names), and the result is committed by the lakehouse's table writes
(:mod:`headrace.lakehouse.tables`) under an :class:`IngestionSpec` whose target carries the write
mode. A transform therefore behaves like an ingestion job: one commit in the
table's format (Iceberg, Delta, Hive-style) recording ``job_id``, so a retry with the same job id
returns the earlier result without running the query again, and any failure leaves the target as it
was; ``append``, ``overwrite`` and ``merge`` (upsert on ``merge_keys``) mean what they mean there, and
a missing target is created.

Engines (``engine_id`` names one of ``[headrace] engines``, as for ingestion):

* ``arrow``: DuckDB in this process on the query service's locked connection; the whole result is
  held in memory as Arrow, then staged and committed;
* ``spark`` / ``spark:<conn_id>``: Spark SQL through ``spark-submit`` (the Spark ingestion engine's
  connection handling and staging, see :mod:`headrace.ingestion.spark`). Spark has no Iceberg or
  Delta reader here, so each table is resolved in this process to the Parquet data files of its
  current version (:func:`~headrace.lakehouse.tables.table_files`);
  :mod:`headrace.ingestion.spark.transform_job` registers them as views under the generated names,
  runs the rewritten SQL (Spark dialect) and writes Parquet into the staging folder, which
  :func:`~headrace.lakehouse.tables.commit_parquet_files` commits. Iceberg tables with delete files
  (merge-on-read) are refused on this path; the commits Headrace makes never write them.

Plain Python: Airflow is imported only by the Spark path (for its SparkSubmitHook).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from pydantic import ValidationError

from headrace.ingestion.engine import ArrowEngine, check_job_id, open_catalog
from headrace.ingestion.engines import engine_for
from headrace.ingestion.readers import DEFAULT_BATCH_ROWS, BatchStream
from headrace.ingestion.results import IngestionFailed, IngestionResult, ingestion_errors
from headrace.ingestion.spec import IngestionSpec, validation_errors
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.errors import LakehouseError
from headrace.lakehouse.sql import (
    PreparedQuery,
    QueryError,
    TableNotFound,
    TableRef,
    duckdb_message,
    parse_table_name,
    prepare_query,
    query_arrow,
)
from headrace.lakehouse.tables import (
    TableCommitter,
    commit_parquet_files,
    open_table,
    previous_result,
    stage_and_commit,
    table_files,
)

if TYPE_CHECKING:
    from headrace.ingestion.spark.engine import SparkEngine
    from headrace.lakehouse.service import Lakehouse

__all__ = ["ERROR_XCOM_KEY", "TIMEOUT_SECONDS", "TransformResult", "run_transform", "transform_spec"]

# Where a failed transform task leaves its error (XCom): the field at fault first, when there is one.
ERROR_XCOM_KEY = "transform_error"
TIMEOUT_SECONDS = 3600.0
TRANSFORM_SCRIPT = Path(__file__).parent / "spark" / "transform_job.py"
RESULT_LABEL = "the SQL result"  # how the staged result is named in errors


@dataclass(frozen=True)
class TransformResult:
    target: str  # catalog.schema.table
    rows_written: int
    records_processed: int  # = rows_written (the name workflow steps report)
    version: str | None  # Iceberg snapshot id / Delta version / Hive-style commit id
    duration_seconds: float
    engine: str
    job_id: str
    already_committed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom)."""
        return asdict(self)


def transform_spec(
    target: str,
    *,
    write_mode: str = "overwrite",
    merge_keys: Sequence[str] | None = None,
    default_catalog: str | None = None,
) -> IngestionSpec:
    """The ingestion spec a transform commits under; QueryError naming the field at fault."""
    ref = parse_table_name(target, default_catalog=default_catalog, field="target")
    if write_mode == "merge" and not merge_keys:
        raise QueryError("write_mode merge needs merge_keys", code="INVALID_TARGET", field="merge_keys")
    if any(not isinstance(key, str) or not key.strip() for key in merge_keys or []):
        raise QueryError("merge_keys must be column names", code="INVALID_TARGET", field="merge_keys")
    payload = {
        "target": {
            "catalog": ref.catalog,
            "schema": ref.schema,
            "table": ref.table,
            "write_mode": write_mode,
            "merge_keys": list(merge_keys or []),
        },
        # The commit records no source files for a transform; the source only has to be valid.
        "source": {"file_paths": f"sql://{ref}", "file_type": "parquet", "skip_loaded_files": False},
    }
    try:
        return IngestionSpec.model_validate(payload)
    except ValidationError as exc:
        errors = validation_errors(exc)
        field = errors[0]["field"].removeprefix("target.")
        message = "; ".join(e["message"].replace("target.", "") for e in errors)
        raise QueryError(message, code="INVALID_TARGET", field=field) from None


def run_transform(
    sql: str,
    target: str,
    *,
    lakehouse: Lakehouse,
    job_id: str,
    write_mode: str = "overwrite",
    merge_keys: Sequence[str] | None = None,
    default_catalog: str | None = None,
    engine_id: str | None = None,
    engines: dict[str, str] | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> TransformResult:
    """Run ``sql`` and write its result into ``target`` in one commit recording ``job_id``.

    ``engines`` are the registered engines (``[headrace] engines``; default: only ``arrow``), and
    ``engine_id`` one of them (default: ``arrow``). Raises QueryError for bad SQL, unknown tables or a
    bad target (``field`` says which argument), IngestionFailed when the engine or the commit fails.
    """
    started = time.monotonic()
    spec = transform_spec(
        target, write_mode=write_mode, merge_keys=merge_keys, default_catalog=default_catalog
    )
    prepared = prepare_query(sql, default_catalog=default_catalog)  # refuse bad SQL first
    engine_name = engine_id or "arrow"
    engine = engine_for(engine_name, engines if engines is not None else {"arrow": "arrow"})
    with ingestion_errors():
        catalog = open_catalog(lakehouse, spec.target.catalog)
        table = open_table(catalog, spec.target, check_job_id(job_id), batch_rows=batch_rows)
        result = previous_result(table)
        if result is None:
            table.check_target()
            if isinstance(engine, ArrowEngine):
                result = _run_duckdb(sql, table, lakehouse, default_catalog, timeout_seconds, started)
            else:
                result = _run_spark(engine, spec, prepared, table, catalog, lakehouse, started)  # type: ignore[arg-type]
    return TransformResult(
        target=result.target,
        rows_written=result.rows_written,
        records_processed=result.rows_written,
        version=result.version,
        duration_seconds=round(time.monotonic() - started, 3),
        engine=engine_name,
        job_id=result.job_id,
        already_committed=result.already_committed,
    )


# -------------------------------------------------------------------------------------------- DuckDB
def _run_duckdb(
    sql: str,
    table: TableCommitter,
    lakehouse: Lakehouse,
    default_catalog: str | None,
    timeout_seconds: float,
    started: float,
) -> IngestionResult:
    """The query's whole result in memory, staged in the table's format and committed once."""
    resolve = lakehouse._resolve  # the query service's resolver: TableNotFound for unknown tables
    data = query_arrow(sql, resolve, default_catalog=default_catalog, timeout_seconds=timeout_seconds)
    _check_columns(data.schema.names)

    def stream() -> BatchStream:
        return BatchStream(RESULT_LABEL, data.schema, iter(data.to_batches(max_chunksize=table.batch_rows)))

    return stage_and_commit(table, [stream], [], [], started)


def _check_columns(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name.casefold() in seen:
            raise QueryError(
                f"The query returns the column {name!r} more than once; give each column its own alias.",
                code="DUPLICATE_COLUMN",
            )
        seen.add(name.casefold())


# --------------------------------------------------------------------------------------------- Spark
def _run_spark(
    engine: SparkEngine,
    spec: IngestionSpec,
    prepared: PreparedQuery,
    table: TableCommitter,
    catalog: FormatCatalog,
    lakehouse: Lakehouse,
    started: float,
) -> IngestionResult:
    """Spark SQL over the tables' Parquet files; its Parquet output committed like the Spark engine's."""
    from headrace.ingestion.spark.engine import JOB_SCRIPT, submit_output
    from headrace.ingestion.spark.staging import SparkStaging, hadoop_conf, spark_uri

    views = [_view(lakehouse, ref, name) for ref, name in prepared.names.items()]
    with SparkStaging(table, catalog) as staging:
        conf: dict[str, str] = {}
        for uri in {
            catalog.location.uri,
            *(lakehouse.open(ref.catalog).location.uri for ref in prepared.names),
        }:
            conf.update(hadoop_conf([], None, uri, catalog.location.s3))
        args = {
            "name": f"headrace-transform {table.name} {table.job_id}",
            "sql": prepared.sql(dialect="spark"),
            "views": views,
            "output": spark_uri(staging.uri),
            "result": spark_uri(staging.result_uri),
            "hadoop_conf": conf,
        }
        # transform_job uses the ingestion job's helpers: shipped beside it (--py-files)
        outcome, failure = engine.submit_job(
            spec, table.token, TRANSFORM_SCRIPT, args, staging, py_files=str(JOB_SCRIPT)
        )
        if outcome is None:
            if failure is not None:
                raise IngestionFailed(f"spark-submit failed: {submit_output(failure)}")
            raise IngestionFailed(f"The Spark job ended without writing its result ({staging.result_uri})")
        if outcome.get("status") == "failed":
            raise IngestionFailed(f"Spark SQL failed: {_in_user_terms(str(outcome.get('error')), prepared)}")
        return commit_parquet_files(
            spec.target, table.job_id, catalog, staging.hand_over(), [], started=started
        )


def _view(lakehouse: Lakehouse, ref: TableRef, name: str) -> dict[str, Any]:
    """One table as the Spark job reads it: the Parquet files of its current version."""
    from headrace.ingestion.spark.staging import spark_uri

    try:
        catalog = lakehouse.open(ref.catalog)
        tables = catalog.list_tables(ref.schema)
    except (LakehouseError, ValueError) as exc:
        # the lakehouse's own message (LakehouseError, InvalidName), as the Arrow engine's resolver says
        # it: never the text of an exception from the catalog database
        reason = getattr(exc, "message", None) or exc
        raise TableNotFound(f"Table {ref} not found: {reason}") from exc
    if ref.table not in tables:
        raise TableNotFound(f"Table {ref} not found")
    files = table_files(catalog, ref.schema, ref.table)
    if files.has_deletes:
        raise IngestionFailed(f"Table {ref} has delete files, which the spark engine cannot apply")
    return {
        "name": name,
        "paths": [spark_uri(file) for file in files.paths],
        "base_path": spark_uri(files.base) if files.base else None,
        "schema": _spark_schema(files.schema),
    }


def _spark_schema(schema: pa.Schema) -> dict[str, Any]:
    """The table's columns as Spark's JSON schema (used for a table without data files)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    try:
        return json.loads(from_arrow_schema(schema).json())
    except (TypeError, NotImplementedError) as exc:
        raise IngestionFailed(f"The spark engine cannot read columns of type: {exc}") from exc


def _in_user_terms(message: str, prepared: PreparedQuery) -> str:
    return duckdb_message(Exception(message), prepared.rename)
