"""Read-only SQL over lakehouse tables end to end (run_query): results, JSON-ready values and errors.

run_query runs DuckDB in the sandbox's child process over the resolver's real Arrow data.
"""

from __future__ import annotations

import time

import pytest

from headrace.lakehouse.sql import (
    Column,
    QueryError,
    TableNotFound,
    run_query,
)
from tests.unit.lakehouse.sql.conftest import CUSTOMERS, DASHED, ORDERS, as_json


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
    assert as_json(result) == result.rows


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
    assert as_json(result) == result.rows


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
