"""Data-quality checks evaluated on real Iceberg, Delta and Hive-style tables, and TableCheckOperator.

One table of six rows, written through each format: two rows share ``order_id`` 3 (and 4 share
their ``status``), one row has a null ``status``, one a status outside the accepted list.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from headrace.lakehouse.checks import CheckError, NotNull, run_checks
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse
from headrace.lakehouse.sql import QueryError

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ORDERS = pa.table(
    {
        "order_id": [1, 2, 3, 3, 4, 5],
        "status": ["new", "paid", "paid", "paid", None, "lost"],
        "country": ["de", "fr", None, "fr", "de", "de"],
        "updated_at": pa.array(
            [NOW - timedelta(hours=h) for h in (50, 40, 30, 20, 10, 2)], pa.timestamp("us", "UTC")
        ),
        "day": pa.array([(NOW - timedelta(days=d)).date() for d in (5, 4, 3, 3, 2, 1)], pa.date32()),
    }
)
FORMATS = [t.value for t in CatalogType]


@pytest.fixture
def lakehouse(lakehouse: Lakehouse) -> Lakehouse:
    """The shared lakehouse (tests/unit/conftest.py) with ``sales.orders`` in every catalog."""
    for catalog in FORMATS:
        lakehouse.write(catalog, "sales", "orders", ORDERS)
    return lakehouse


def outcome(report, index: int) -> tuple[bool, int]:
    result = report.results[index]
    return result.passed, result.failing_rows


@pytest.mark.parametrize("catalog", FORMATS)
def test_each_check_passes_and_fails_with_exact_failing_rows(lakehouse, catalog):
    checks = [
        {"type": "row_count", "min": 1, "max": 6},
        {"type": "row_count", "min": 10},
        {"type": "row_count", "max": 2},
        {"type": "not_null", "columns": ["order_id", "updated_at"]},
        {"type": "not_null", "columns": ["status", "country"]},
        {"type": "unique", "columns": ["order_id", "country"]},
        {"type": "unique", "columns": ["order_id"]},
        {"type": "unique", "columns": ["status"]},
        {"type": "accepted_values", "column": "status", "values": ["new", "paid", "lost"]},
        {"type": "accepted_values", "column": "status", "values": ["new", "paid"]},
        {"type": "accepted_values", "column": "order_id", "values": [1, 2, 3]},
        {"type": "freshness", "column": "updated_at", "max_age_seconds": 3 * 3600},
        {"type": "freshness", "column": "updated_at", "max_age_seconds": 3600},
        {"type": "freshness", "column": "day", "max_age_seconds": 2 * 86400},
    ]

    report = run_checks(lakehouse, f"{catalog}.sales.orders", checks, now=NOW)

    assert report.row_count == 6 and report.table == f"{catalog}.sales.orders"
    assert [outcome(report, i) for i in range(len(checks))] == [
        (True, 0),
        (False, 4),  # 6 rows, 10 expected
        (False, 4),  # 6 rows, 2 at most
        (True, 0),
        (False, 2),  # status null in one row, country in another
        (True, 0),  # (3, None) and (3, fr) differ
        (False, 2),  # both rows of order 3
        (False, 3),  # the three "paid" rows (one null status is alone)
        (True, 0),  # nulls are not checked
        (False, 1),  # "lost"
        (False, 2),  # 4 and 5
        (True, 0),  # newest is 2 h old
        (False, 1),  # freshness fails as a whole
        (True, 0),  # a date: newest day started 1 day and 12 h ago
    ]
    assert "lost" in report.results[9].message
    payload = report.as_dict()
    assert payload["records_processed"] == 6 and payload["failed"] == 8 and payload["passed"] is False
    assert payload["checks"][6] == {
        "type": "unique",
        "passed": False,
        "failing_rows": 2,
        "message": "2 row(s) share their order_id with another row (1 duplicated value(s))",
    }


def test_models_schema_table_names_and_an_empty_table(lakehouse):
    lakehouse.write("iceberg", "sales", "empty", ORDERS.slice(0, 0))
    checks = [NotNull(type="not_null", columns=["status"]), {"type": "row_count", "min": 1}]

    report = run_checks(lakehouse, "sales.empty", checks, default_catalog="iceberg")
    stale = run_checks(
        lakehouse,
        "sales.empty",
        [{"type": "freshness", "column": "updated_at", "max_age_seconds": 60}],
        "iceberg",
    )

    assert [outcome(report, 0), outcome(report, 1)] == [(True, 0), (False, 1)]
    assert outcome(stale, 0) == (False, 1) and stale.results[0].message == "updated_at has no value"


def test_values_are_parameters_not_sql(lakehouse):
    report = run_checks(
        lakehouse,
        "hive.sales.orders",
        [
            {
                "type": "accepted_values",
                "column": "status",
                "values": ["new') OR 1=1 --", "paid", "lost", "new"],
            }
        ],
    )

    assert outcome(report, 0) == (True, 0)


@pytest.mark.parametrize(
    ("check", "field", "words"),
    [
        ({"type": "not_null", "columns": ["status", "colour"]}, "checks[0].columns", "'colour'"),
        ({"type": "unique", "columns": ["Order_ID"]}, "checks[0].columns", "'Order_ID'"),
        ({"type": "accepted_values", "column": "nope", "values": [1]}, "checks[0].column", "'nope'"),
        ({"type": "freshness", "column": "status", "max_age_seconds": 1}, "checks[0].column", "timestamp"),
        ({"type": "accepted_values", "column": "order_id", "values": ["x"]}, "checks[0].values", "order_id"),
    ],
)
def test_a_check_that_cannot_be_evaluated_names_its_field(lakehouse, check, field, words):
    with pytest.raises(CheckError) as raised:
        run_checks(lakehouse, "delta.sales.orders", [check])

    assert raised.value.field == field and words in raised.value.message


@pytest.mark.parametrize(
    ("table", "checks", "error", "field"),
    [
        ("delta.sales.missing", [], "TABLE_NOT_FOUND", "table"),
        ("sales.orders", [], "INVALID_TABLE", "table"),
        ("delta.sales.bad name", [], "INVALID_TABLE", "table"),
        ("delta.sales.orders", [{"type": "row_count"}], "INVALID_CHECK", "checks"),
        ("delta.sales.orders", [{"type": "sum", "column": "x"}], "INVALID_CHECK", "checks"),
    ],
)
def test_bad_tables_and_checks_are_errors(lakehouse, table, checks, error, field):
    with pytest.raises(QueryError) as raised:
        run_checks(lakehouse, table, checks)

    assert (raised.value.code, raised.value.field) == (error, field)
