"""Read-only SQL over lakehouse tables: parse checks, table resolution, DuckDB lock-down and JSON-ready rows.

Real DuckDB over real Arrow data (in-memory tables, a Parquet dataset on disk and a record batch reader);
run_query runs it in the sandbox's child process, with real memory limits and a real deadline.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal

import psutil
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from headrace.lakehouse import query, sandbox
from headrace.lakehouse.query import (
    Column,
    QueryError,
    QueryLimits,
    TableNotFound,
    TableRef,
    parse_read_only,
    run_query,
    table_references,
)

ORDERS = TableRef("sales", "public", "orders")
CUSTOMERS = TableRef("crm", "core", "customers")
DASHED = TableRef("my-cat", "s", "t")
EVENTS = TableRef("sales", "public", "events")  # a Parquet dataset on disk
STREAM = TableRef("sales", "public", "stream")  # a RecordBatchReader


def _orders() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([1, 2, 3, 4], pa.int64()),
            "customer_id": pa.array([10, 10, 20, 30], pa.int64()),
            "amount": pa.array(
                [Decimal("12.50"), Decimal("7.25"), Decimal("100.00"), Decimal("0.05")], pa.decimal128(10, 2)
            ),
            "ordered_at": pa.array(
                [datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC), None, None],
                pa.timestamp("us", tz="UTC"),
            ),
            "status": ["paid", "paid", "open", "void"],
        }
    )


def _customers() -> pa.Table:
    return pa.table(
        {
            "id": pa.array([10, 20, 30], pa.int64()),
            "name": ["Ada", "Grace", "Linus"],
            "tags": pa.array([["vip", "eu"], [], None], pa.list_(pa.string())),
            "address": pa.array(
                [{"city": "London", "zip": "N1"}, {"city": "Arlington", "zip": None}, None],
                pa.struct([("city", pa.string()), ("zip", pa.string())]),
            ),
        }
    )


@pytest.fixture
def resolver(tmp_path):
    """Resolve TableRefs to Arrow data; unknown tables raise TableNotFound. Records every call."""
    ds.write_dataset(
        pa.table({"kind": ["click", "view", "click"], "n": [1, 2, 3]}), tmp_path / "events", format="parquet"
    )
    stream_table = pa.table({"seq": list(range(5))})
    tables = {
        ORDERS: _orders(),
        CUSTOMERS: _customers(),
        DASHED: pa.table({"x": [1, 2]}),
        EVENTS: ds.dataset(tmp_path / "events", format="parquet"),
    }
    calls: list[TableRef] = []

    def resolve(ref: TableRef):
        calls.append(ref)
        if ref == STREAM:
            batches = stream_table.to_batches(max_chunksize=2)
            return pa.RecordBatchReader.from_batches(stream_table.schema, batches)
        if ref not in tables:
            raise TableNotFound(f"Table {ref} not found")
        return tables[ref]

    resolve.calls = calls
    return resolve


def _as_json(result):
    return json.loads(json.dumps(result.rows, allow_nan=False))


# ------------------------------------------------------------------------------------------ queries
def test_filter_aggregate_join_across_two_catalogs(resolver):
    result = run_query(
        """
        SELECT c.name, count(*) AS orders, sum(o.amount) AS total
        FROM sales.public.orders o JOIN crm.core.customers c ON c.id = o.customer_id
        WHERE o.status <> 'void'
        GROUP BY c.name ORDER BY c.name
        """,
        resolver,
    )
    assert [c.name for c in result.columns] == ["name", "orders", "total"]
    assert result.rows == [["Ada", 2, "19.75"], ["Grace", 1, "100.00"]]
    assert result.row_count == 2 and result.truncated is False and result.elapsed_ms > 0
    assert resolver.calls == [ORDERS, CUSTOMERS]
    assert _as_json(result) == result.rows


def test_cte_name_is_not_resolved_as_a_table(resolver):
    result = run_query(
        "WITH paid AS (SELECT * FROM sales.public.orders WHERE status = 'paid') "
        "SELECT count(*) AS n FROM paid",
        resolver,
    )
    assert result.rows == [[2]]
    assert resolver.calls == [ORDERS]


def test_subquery_alias_and_union(resolver):
    result = run_query(
        "SELECT q.id FROM (SELECT id FROM sales.public.orders WHERE amount > 10) AS q "
        "UNION SELECT id FROM crm.core.customers ORDER BY id",
        resolver,
    )
    assert result.rows == [[1], [3], [10], [20], [30]]


def test_schema_table_uses_the_default_catalog(resolver):
    result = run_query("SELECT count(*) FROM public.orders", resolver, default_catalog="sales")
    assert result.rows == [[4]]
    assert resolver.calls == [ORDERS]


def test_quoted_identifiers_with_dashes(resolver):
    result = run_query('SELECT t.x, "my-cat".s.t.x AS again FROM "my-cat".s.t ORDER BY x', resolver)
    assert result.rows == [[1, 1], [2, 2]]
    assert resolver.calls == [DASHED]


def test_parquet_dataset_and_record_batch_reader(resolver):
    events = run_query(
        "SELECT kind, sum(n) AS n FROM sales.public.events GROUP BY kind ORDER BY kind", resolver
    )
    assert events.rows == [["click", 4], ["view", 2]]
    stream = run_query("SELECT sum(a.seq) AS s FROM sales.public.stream a", resolver)
    assert stream.rows == [[10]]
    # a reader can only be scanned once; a self-join still sees all rows
    joined = run_query(
        "SELECT count(*) FROM sales.public.stream a JOIN sales.public.stream b ON a.seq = b.seq", resolver
    )
    assert joined.rows == [[5]]


def test_struct_and_list_columns(resolver):
    result = run_query(
        "SELECT name, tags, address, address.city AS city FROM crm.core.customers ORDER BY id", resolver
    )
    assert [c.type for c in result.columns] == [
        "VARCHAR",
        "VARCHAR[]",
        "STRUCT(city VARCHAR, zip VARCHAR)",
        "VARCHAR",
    ]
    assert result.rows == [
        ["Ada", ["vip", "eu"], {"city": "London", "zip": "N1"}, "London"],
        ["Grace", [], {"city": "Arlington", "zip": None}, "Arlington"],
        ["Linus", None, None, None],
    ]


def test_timestamps_decimals_and_other_values_are_json_ready(resolver):
    result = run_query(
        """
        SELECT id, amount, ordered_at, ordered_at::DATE AS day,
               'AQI='::BLOB AS raw, 'nan'::DOUBLE AS nan, 1.5::DOUBLE AS f,
               sum(id) OVER () AS total, MAP {'k': [1, 2]} AS m, INTERVAL 1 DAY + INTERVAL 90 MINUTE AS i,
               '2024-01-01 00:00:00.123456789'::TIMESTAMP_NS AS ns, 'infinity'::TIMESTAMP AS forever
        FROM sales.public.orders WHERE id = 1
        """,
        resolver,
    )
    types = {c.name: c.type for c in result.columns}
    assert types["amount"] == "DECIMAL(10,2)"
    assert types["ordered_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["day"] == "DATE"
    assert types["total"] == "HUGEINT"
    assert result.rows == [
        [
            1,
            "12.50",
            "2024-01-02T03:04:05+00:00",
            "2024-01-02",
            "QVFJPQ==",
            "NaN",
            1.5,
            1,  # the window sees the filtered row only
            {"k": [1, 2]},
            "P1DT1H30M",
            "2024-01-01T00:00:00.123456789",
            "infinity",
        ]
    ]
    assert _as_json(result) == result.rows


def test_column_types_and_names_are_reported(resolver):
    result = run_query(
        "SELECT id, status, ordered_at, amount * 2 AS doubled, [id] AS ids FROM sales.public.orders", resolver
    )
    assert result.columns == [
        Column("id", "BIGINT"),
        Column("status", "VARCHAR"),
        Column("ordered_at", "TIMESTAMP WITH TIME ZONE"),
        Column("doubled", "DECIMAL(18,2)"),
        Column("ids", "BIGINT[]"),
    ]


def test_duplicate_column_names_are_kept(resolver):
    result = run_query("SELECT 1 AS a, 2 AS a", resolver)
    assert [c.name for c in result.columns] == ["a", "a"]
    assert result.rows == [[1, 2]]


@pytest.mark.parametrize(
    ("limit", "rows", "truncated"), [(1, 1, True), (3, 3, True), (4, 4, False), (10, 4, False)]
)
def test_limit_and_truncated(resolver, limit, rows, truncated):
    result = run_query("SELECT id FROM sales.public.orders ORDER BY id DESC", resolver, limit=limit)
    assert result.row_count == rows == len(result.rows)
    assert result.truncated is truncated
    assert result.rows == [[i] for i in (4, 3, 2, 1)][:rows]


def test_empty_result_still_reports_columns(resolver):
    result = run_query("SELECT id, amount FROM sales.public.orders WHERE false", resolver)
    assert result.columns == [Column("id", "BIGINT"), Column("amount", "DECIMAL(10,2)")]
    assert result.rows == [] and result.row_count == 0 and result.truncated is False


def test_a_cte_named_like_a_generated_name_does_not_shadow_a_table(resolver):
    result = run_query(
        "WITH t_0 AS (SELECT 42 AS id) SELECT o.id FROM sales.public.orders o, t_0 ORDER BY o.id LIMIT 1",
        resolver,
    )
    assert result.rows == [[1]]


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


# -------------------------------------------------------------------------------- run-time errors
def test_unknown_table_surfaces_as_table_not_found(resolver):
    with pytest.raises(TableNotFound) as info:
        run_query("SELECT * FROM sales.public.nope", resolver)
    assert info.value.code == "TABLE_NOT_FOUND" and info.value.field == "sql"
    assert isinstance(info.value, QueryError)


def test_bad_column_is_query_failed_with_duckdbs_message(resolver):
    with pytest.raises(QueryError) as info:
        run_query("SELECT nope FROM sales.public.orders", resolver)
    assert info.value.code == "QUERY_FAILED"
    assert 'Referenced column "nope" not found' in info.value.message
    assert "t_0" not in info.value.message  # generated names never leak


def test_conversion_error_is_query_failed(resolver):
    with pytest.raises(QueryError) as info:
        run_query("SELECT 'abc'::INTEGER", resolver)
    assert info.value.code == "QUERY_FAILED" and "Conversion Error" in info.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": True}, "limit"),
        ({"default_catalog": ""}, "catalog"),
    ],
)
def test_invalid_options_name_their_field(resolver, kwargs, field):
    with pytest.raises(QueryError) as info:
        run_query("SELECT 1", resolver, **kwargs)
    assert info.value.field == field


def test_long_query_times_out(resolver):
    started = time.monotonic()
    with pytest.raises(QueryError) as info:
        run_query(
            "SELECT sum(a.range * b.range) FROM range(100000) a CROSS JOIN range(100000) b",
            resolver,
            timeout_seconds=0.5,
        )
    assert info.value.code == "QUERY_TIMEOUT"
    assert "0.5 seconds" in info.value.message
    assert time.monotonic() - started < 5


# ------------------------------------------------------------ limits: memory, threads and the deadline
SMALL = QueryLimits("256MB", 1)
MEMORY_HOG = "SELECT list_sum(range(300000000))"  # the finding: 0.6 -> 15 GB and 61 s in the api-server
CPU_HOG = "SELECT levenshtein(repeat('ab', 100000), repeat('ba', 100000))"  # minutes, next to no memory


class _PeakRss:
    """Peak resident memory of this process and its children while the block runs (sampled)."""

    def __enter__(self):
        self.me = psutil.Process()
        self.baseline = self.peak = self._rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def _rss(self) -> int:
        total = 0
        for process in [self.me, *self.me.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += process.memory_info().rss
        return total

    def _sample(self):
        while not self._done.wait(0.02):
            self.peak = max(self.peak, self._rss())


@pytest.mark.parametrize(
    "sql",
    [
        MEMORY_HOG,  # one vector outside DuckDB's buffer pool: stopped by the process's own limit
        "SELECT list(range) FROM range(100000000)",  # an aggregate: stopped by DuckDB's memory_limit
    ],
)
def test_a_query_needing_more_memory_is_query_memory_limit(resolver, sql):
    started = time.monotonic()
    with _PeakRss() as rss, pytest.raises(QueryError) as info:
        run_query(sql, resolver, limits=SMALL)

    assert info.value.code == "QUERY_MEMORY_LIMIT" and info.value.field == "sql"
    assert "256MB" in info.value.message and "[headrace] query_memory_limit" in info.value.message
    assert rss.growth < SMALL.memory_bytes + 512 * 2**20, f"grew by {rss.growth / 2**20:.0f} MiB"
    assert time.monotonic() - started < 20


def test_an_expression_duckdb_does_not_interrupt_still_ends_at_the_timeout(resolver):
    started = time.monotonic()
    with pytest.raises(QueryError) as info:
        run_query(CPU_HOG, resolver, timeout_seconds=2, limits=SMALL)

    assert info.value.code == "QUERY_TIMEOUT" and "2 seconds" in info.value.message
    assert time.monotonic() - started < 4


def test_duckdb_runs_with_the_limits_and_without_temporary_files():
    columns, table = sandbox.run(
        "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t, "
        "current_setting('temp_directory') AS d, current_setting('lock_configuration') AS locked",
        {},
        uses={},
        limit=1,
        timeout_seconds=30,
        limits=QueryLimits("256MiB", 1),
    )

    assert [name for name, _ in columns] == ["m", "t", "d", "locked"]
    assert table.to_pylist() == [{"m": "256.0 MiB", "t": 1, "d": "", "locked": True}]


def test_a_result_too_large_for_the_api_is_refused(resolver):
    with pytest.raises(QueryError) as info:
        run_query("SELECT repeat('x', 40000000) AS big", resolver)

    assert info.value.code == "QUERY_RESULT_TOO_LARGE" and info.value.field == "limit"
    assert f"{sandbox.MAX_RESULT_BYTES // 2**20} MiB" in info.value.message


def test_a_table_that_cannot_be_read_is_query_failed_naming_it():
    def batches():
        yield pa.record_batch([pa.array([1, 2], pa.int64())], ["x"])
        raise OSError("disk on fire")

    def resolve(ref):
        return pa.RecordBatchReader.from_batches(pa.schema([("x", pa.int64())]), batches())

    with pytest.raises(QueryError) as info:
        run_query("SELECT count(*) FROM sales.public.broken", resolve)

    assert info.value.code == "QUERY_FAILED"
    assert "sales.public.broken" in info.value.message and "disk on fire" in info.value.message
    assert "t_0" not in info.value.message


def test_the_query_process_inherits_no_airflow_settings(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql://airflow:secret@db/airflow")
    monkeypatch.setenv("AWS_REGION", "eu-north-1")  # pyarrow's S3 filesystem may need these

    env = sandbox._child_env()

    assert not [name for name in env if name.startswith("AIRFLOW")]
    assert env["AWS_REGION"] == "eu-north-1" and env["ARROW_DEFAULT_MEMORY_POOL"] == "system"


@pytest.mark.parametrize(
    ("text", "size"),
    [("1GB", 10**9), ("1GiB", 2**30), ("512 mb", 512 * 10**6), ("1.5GB", 1.5 * 10**9), ("64MiB", 2**26)],
)
def test_memory_limits_are_read_in_duckdb_notation(text, size):
    assert QueryLimits(text).memory_bytes == size


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_limit": "lots"},
        {"memory_limit": "80%"},
        {"memory_limit": "10KB"},
        {"threads": 0},
        {"threads": True},
    ],
)
def test_invalid_limits_are_refused(kwargs):
    with pytest.raises(ValueError, match="query"):
        QueryLimits(**kwargs)


# -------------------------------------------------------------------- defence in depth (DuckDB itself)
def _raw(sql: str, tables: dict | None = None) -> list[list]:
    """Run SQL on the locked connection, skipping every parse check."""
    _, table = query._run_sql(sql, tables or {}, limit=10, timeout_seconds=10)
    return [list(row.values()) for row in table.to_pylist()]


def test_locked_connection_still_reads_registered_arrow_data(tmp_path):
    ds.write_dataset(pa.table({"v": [1, 2]}), tmp_path / "d", format="parquet")
    tables = {
        "t_0": pa.table({"v": [1]}),
        "t_1": ds.dataset(tmp_path / "d", format="parquet"),
        "t_2": pa.RecordBatchReader.from_batches(
            pa.schema([("v", pa.int64())]), [pa.record_batch([[4]], ["v"])]
        ),
    }
    rows = _raw("SELECT sum(v) FROM (FROM t_0 UNION ALL FROM t_1 UNION ALL FROM t_2)", tables)
    assert rows == [[Decimal(8)]]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM '/etc/hostname.csv'",
        "SELECT * FROM glob('/etc/*')",
    ],
)
def test_duckdb_refuses_file_reads_even_without_parse_checks(sql):
    with pytest.raises(QueryError) as info:
        _raw(sql)
    assert info.value.code == "QUERY_FAILED"
    assert "disabled by configuration" in info.value.message or "Permission" in info.value.message


def test_duckdb_refuses_writes_extensions_and_setting_changes(tmp_path):
    target = tmp_path / "out.csv"
    for sql in (
        f"COPY (SELECT 1) TO '{target}'",
        f"ATTACH '{tmp_path / 'x.duckdb'}' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET autoload_known_extensions = true",
    ):
        with pytest.raises(QueryError) as info:
            _raw(sql)
        assert info.value.code == "QUERY_FAILED", sql
    assert not target.exists() and not (tmp_path / "x.duckdb").exists()


def test_duckdb_does_not_scan_python_variables():
    secret_rows = pa.table({"secret": ["hunter2"]})  # noqa: F841 - a replacement scan would find it
    with pytest.raises(QueryError) as info:
        _raw("SELECT * FROM secret_rows")
    assert "secret_rows" in info.value.message
