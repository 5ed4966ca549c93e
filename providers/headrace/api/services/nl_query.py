"""``POST /nl-query``: the schema (from the source's catalog, or inline), the engine choice, the
validated SQL, and the database's own estimate of it.

The estimate: PostgreSQL's ``EXPLAIN (ANALYZE, FORMAT JSON)`` (planner rows, planning + execution
time) and MariaDB's ``EXPLAIN``/``ANALYZE FORMAT=JSON``, run in a read-only transaction that is
rolled back, under ``[headrace] nl_query_explain_timeout``. Only SQL that passed
:func:`headrace.nlq.validate.check` ever reaches them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from headrace import config, nlq
from headrace.api.datamodels.nl_query import NlQueryRequest, NlQueryResponse, TableSpec
from headrace.api.errors import RequestValidationError
from headrace.api.services import data_sources
from headrace.sources import catalog, systems


def llm_settings() -> nlq.LlmSettings | None:
    """The configured LLM backend, or None (the built-in engine only)."""
    endpoint, model = config.llm_endpoint(), config.llm_model()
    if not endpoint or not model:
        return None
    key = None
    if config.llm_conn_id():
        try:
            key = data_sources.get_connection(config.llm_conn_id()).password
        except Exception:  # the fallback still answers; the reason says why
            key = None
    return nlq.LlmSettings(endpoint=endpoint, model=model, api_key=key, timeout=config.llm_timeout())


def _inline_schema(tables: list[str | TableSpec]) -> nlq.Schema:
    found: dict[str, nlq.Table] = {}
    for item in tables:
        if isinstance(item, str):
            found[item] = nlq.Table(item, [])
            continue
        fks = []
        for fk in item.foreign_keys:
            other, _, other_column = fk.references.partition(".")
            fks.append((fk.column, other, other_column))
        found[item.name] = nlq.Table(
            item.name, [nlq.Column(c.name, c.type) for c in item.columns], item.primary_key, fks
        )
    return nlq.Schema(found)


def _source_schema(connection: sa.Connection, tables: list[str | TableSpec]) -> nlq.Schema:
    found: dict[str, nlq.Table] = {}
    for i, item in enumerate(tables):
        name = item if isinstance(item, str) else item.name
        try:
            info = catalog.resolve_table(connection, name)
        except catalog.UnknownTable as exc:
            raise RequestValidationError.for_field(f"schema.tables.{i}", str(exc)) from None
        found[info.name] = nlq.Table(
            info.name,
            [nlq.Column(c.name, c.type) for c in info.columns],
            info.primary_key,
            [
                (fk.columns[0], fk.table, fk.ref_columns[0])
                for fk in info.foreign_keys
                if len(fk.columns) == 1
            ],
        )
    return nlq.Schema(found)


def answer(body: NlQueryRequest) -> NlQueryResponse:
    tables = body.schema_.tables
    if body.source is None:
        schema = _inline_schema(tables)
        return _respond(body.question, schema, "postgres", None)
    with data_sources.sql_connection(body.source) as (conn, connection):
        dialect = systems.dialect_of(conn.conn_type or "") or "postgres"
        schema = _source_schema(connection, tables)
        translation = _translate(body.question, schema, dialect)
        estimate = explain(connection, translation.sql)
    return _response(translation, dialect, estimate)


def _respond(
    question: str, schema: nlq.Schema, dialect: str, estimate: dict[str, Any] | None
) -> NlQueryResponse:
    return _response(_translate(question, schema, dialect), dialect, estimate)


def _translate(question: str, schema: nlq.Schema, dialect: str) -> nlq.Translation:
    try:
        return nlq.translate(question, schema, dialect, llm=llm_settings())
    except nlq.NotUnderstood as exc:
        raise RequestValidationError.for_field("question", str(exc)) from None
    except nlq.UnsafeQuery as exc:  # the built-in engine's own SQL failed the gate: say so, run nothing
        raise RequestValidationError.for_field("question", f"the generated SQL was refused: {exc}") from None


def _response(t: nlq.Translation, dialect: str, estimate: dict[str, Any] | None) -> NlQueryResponse:
    return NlQueryResponse(
        sql=t.sql,
        explanation=t.explanation,
        estimated_rows=(estimate or {}).get("rows"),
        estimated_time_ms=(estimate or {}).get("time_ms"),
        dialect=dialect,
        engine=t.engine,
        unused_phrases=t.unused_phrases,
        fallback_reason=t.fallback_reason,
        estimate=estimate,
    )


def explain(connection: sa.Connection, sql: str) -> dict[str, Any]:
    timeout = config.nl_query_explain_timeout()
    dialect = connection.dialect.name
    connection.rollback()  # end the transaction reading the catalog began
    try:
        if dialect == "postgresql":
            return _explain_postgres(connection, sql, timeout)
        if dialect in ("mysql", "mariadb"):
            return _explain_mysql(connection, sql, timeout)
    except sa.exc.SQLAlchemyError as exc:
        return {"method": "none", "error": str(getattr(exc, "orig", exc)).strip().splitlines()[0]}
    return {"method": "none", "error": f"no estimate for {dialect}"}


def _explain_postgres(connection: sa.Connection, sql: str, timeout: float) -> dict[str, Any]:
    if connection.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("%", "%%")
    with connection.begin() as transaction:
        connection.execute(sa.text("SET TRANSACTION READ ONLY"))
        connection.execute(
            sa.text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(timeout * 1000))}
        )
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar()
        rows = int(_json(plan)[0]["Plan"]["Plan Rows"])
        try:
            with connection.begin_nested():
                analyzed = _json(
                    connection.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).scalar()
                )[0]
            spent = round(
                float(analyzed.get("Planning Time", 0)) + float(analyzed.get("Execution Time", 0)), 3
            )
            result = {"method": "postgres EXPLAIN ANALYZE", "rows": rows, "time_ms": spent}
        except sa.exc.OperationalError:  # statement_timeout: slower than the limit
            result = {
                "method": "postgres EXPLAIN",
                "rows": rows,
                "time_ms": timeout * 1000,
                "lower_bound": True,
            }
        transaction.rollback()
    return result


def _explain_mysql(connection: sa.Connection, sql: str, timeout: float) -> dict[str, Any]:
    if connection.dialect.paramstyle in ("format", "pyformat"):
        sql = sql.replace("%", "%%")  # the driver formats the text even without parameters
    plan = connection.exec_driver_sql("EXPLAIN " + sql).mappings().all()
    rows = int(plan[0]["rows"] or 0) if plan else None
    started = time.perf_counter()
    version = str(connection.exec_driver_sql("SELECT VERSION()").scalar())
    if "mariadb" not in version.lower():
        return {"method": "mysql EXPLAIN", "rows": rows, "time_ms": None}
    try:
        analyzed = connection.exec_driver_sql(
            f"SET STATEMENT max_statement_time={float(timeout):.3f} FOR ANALYZE FORMAT=JSON " + sql
        ).scalar()
        spent = _json(analyzed).get("query_block", {}).get("r_total_time_ms")
    except sa.exc.OperationalError:
        return {"method": "mariadb EXPLAIN", "rows": rows, "time_ms": timeout * 1000, "lower_bound": True}
    if spent is None:
        spent = (time.perf_counter() - started) * 1000
    connection.rollback()
    return {"method": "mariadb ANALYZE FORMAT=JSON", "rows": rows, "time_ms": round(float(spent), 3)}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
