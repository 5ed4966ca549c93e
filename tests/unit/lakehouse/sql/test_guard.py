"""The read-only guard: which SQL is refused before any table is resolved, and with which code."""

from __future__ import annotations

import pytest

from headrace.lakehouse.sql import (
    QueryError,
    TableRef,
    parse_read_only,
    run_query,
    table_references,
)
from tests.unit.lakehouse.sql.conftest import CUSTOMERS, ORDERS, STREAM


# ------------------------------------------------------------------------------------ parse checks
def test_table_references_in_order_of_first_appearance():
    expression = parse_read_only(
        "WITH x AS (SELECT * FROM crm.core.customers) "
        "SELECT * FROM sales.public.orders o JOIN x ON true "
        "WHERE o.id IN (SELECT id FROM sales.public.orders) AND EXISTS (SELECT 1 FROM public.stream)"
    )
    assert table_references(expression, default_catalog="sales") == [CUSTOMERS, ORDERS, STREAM]


def test_identifiers_are_case_sensitive_and_unquoted():
    expression = parse_read_only('SELECT * FROM "Sales".Public."Or-ders"')
    assert table_references(expression) == [TableRef("Sales", "Public", "Or-ders")]
    assert str(TableRef("Sales", "Public", "Or-ders")) == "Sales.Public.Or-ders"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM orders",
        "SELECT * FROM public.orders",  # no default catalog
        "SELECT * FROM a.b.c.d",
        "WITH x AS (SELECT 1) SELECT * FROM y",
    ],
)
def test_unqualified_tables_are_refused(resolver, sql):
    with pytest.raises(QueryError) as info:
        run_query(sql, resolver)
    assert info.value.code == "UNQUALIFIED_TABLE" and info.value.field == "sql"
    assert "catalog.schema.table" in info.value.message
    assert resolver.calls == []


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO sales.public.orders VALUES (1)",
        "UPDATE sales.public.orders SET status = 'x'",
        "DELETE FROM sales.public.orders",
        "MERGE INTO sales.public.orders o USING crm.core.customers c ON o.id = c.id WHEN MATCHED THEN DELETE",
        "CREATE TABLE x AS SELECT 1",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE sales.public.orders",
        "ALTER TABLE sales.public.orders ADD COLUMN y INT",
        "COPY sales.public.orders TO '/tmp/out.csv'",
        "COPY (SELECT 1) TO '/tmp/out.parquet' (FORMAT parquet)",
        "ATTACH '/tmp/x.duckdb' AS x",
        "DETACH x",
        "INSTALL httpfs",
        "FORCE INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA version",
        "SET threads = 1",
        "SET enable_external_access = true",
        "RESET threads",
        "CALL pragma_version()",
        "EXPORT DATABASE '/tmp/db'",
        "IMPORT DATABASE '/tmp/db'",
        "DESCRIBE sales.public.orders",
        "SHOW TABLES",
        "SUMMARIZE sales.public.orders",
        "EXPLAIN SELECT 1",
        "CHECKPOINT",
        "VACUUM",
        "BEGIN TRANSACTION",
        "USE memory",
        "SELECT * INTO x FROM sales.public.orders",
        "WITH x AS (INSERT INTO sales.public.orders VALUES (1) RETURNING *) SELECT * FROM x",
        "SELECT * FROM (DESCRIBE sales.public.orders)",
    ],
)
def test_statements_other_than_queries_are_refused(resolver, sql):
    with pytest.raises(QueryError) as info:
        run_query(sql, resolver)
    assert info.value.code == "READ_ONLY", info.value.message
    assert info.value.field == "sql"
    assert resolver.calls == []


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/passwd')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM 'file.parquet'",
        "SELECT * FROM 'https://example.com/data.csv'",
        "SELECT * FROM 's3://bucket/key.parquet'",
        "SELECT * FROM query_table('sales.public.orders')",
        "SELECT * FROM query('SELECT 1')",
        "SELECT * FROM iceberg_scan('/tmp/warehouse/t')",
        "SELECT * FROM delta_scan('/tmp/warehouse/t')",
        "SELECT * FROM sniff_csv('/etc/passwd')",
        "SELECT * FROM parquet_metadata('/tmp/x.parquet')",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM duckdb_extensions()",
        "SELECT * FROM pragma_table_info('x')",
        "SELECT getenv('HOME')",
        "SELECT current_setting('enable_external_access')",
        "SELECT id FROM sales.public.orders WHERE id IN (SELECT 1 FROM read_csv('/etc/passwd'))",
        "WITH x AS (SELECT * FROM read_parquet('s3://b/k.parquet')) SELECT * FROM x",
        "SELECT (SELECT count(*) FROM read_text('/etc/passwd')) AS n",
        "SELECT * FROM main.read_csv('/etc/passwd')",
    ],
)
def test_table_functions_and_file_reads_are_refused_at_parse_time(sql):
    with pytest.raises(QueryError) as info:
        parse_read_only(sql)
    assert info.value.code == "READ_ONLY", info.value.message


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count(*) FROM range(10)",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT * FROM unnest([1, 2]) AS u(v)",
        "VALUES (1), (2)",
        "SELECT 1 INTERSECT SELECT 1",
        "SELECT 1 EXCEPT SELECT 2",
        "(SELECT 1)",
        "SELECT 1;",
    ],
)
def test_value_generators_and_plain_queries_are_allowed(resolver, sql):
    assert run_query(sql, resolver).row_count >= 1


@pytest.mark.parametrize(
    "sql", ["SELECT 1; DROP TABLE x", "SELECT 1; SELECT 2", "select 1; export database '/tmp/x'"]
)
def test_multiple_statements_are_refused(sql):
    with pytest.raises(QueryError) as info:
        parse_read_only(sql)
    assert info.value.code == "MULTIPLE_STATEMENTS"


@pytest.mark.parametrize(
    "sql", ["", "   ", ";", "-- just a comment", "SELEC 1", "SELECT FROM WHERE", "SELECT 'x", "SELECT (1"]
)
def test_empty_or_unparseable_sql_is_invalid(sql):
    with pytest.raises(QueryError) as info:
        parse_read_only(sql)
    assert info.value.code == "INVALID_SQL" and info.value.field == "sql"


def test_invalid_sql_message_includes_the_parser_error():
    with pytest.raises(QueryError) as info:
        parse_read_only("SELECT 1 +")
    assert info.value.message.startswith("Could not parse SQL:")
    assert "Line 1" in info.value.message and "\x1b" not in info.value.message
