"""The gate every generated query passes: one read-only statement over the allowed tables."""

from __future__ import annotations

import pytest

from headrace.nlq.validate import UnsafeQuery, check

ALLOWED = {"orders", "customers"}


@pytest.mark.parametrize("dialect", ["postgres", "mysql"])
@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("DELETE FROM orders", "only SELECT"),
        ("SELECT 1; DROP TABLE orders", "exactly one statement"),
        ("SELECT * FROM secrets", "not among the allowed"),
        ("SELECT * FROM orders JOIN pg_catalog.pg_authid ON true", "not among the allowed"),
        ("SELECT pg_sleep(10)", "pg_sleep"),
        ("SELECT SLEEP(10)", "sleep"),
        ("SELECT * INTO copy FROM orders", "INTO"),
        ("SELECT * FROM orders FOR UPDATE", "LOCK"),
        ("WITH x AS (SELECT * FROM payroll) SELECT * FROM x", "payroll"),
        ("", "empty"),
        ("SELEC * FRM orders", ""),
    ],
)
def test_refused(sql: str, why: str, dialect: str) -> None:
    with pytest.raises(UnsafeQuery) as caught:
        check(sql, dialect, ALLOWED)
    assert why.lower() in str(caught.value).lower()


def test_accepted_and_rendered_in_the_dialect() -> None:
    sql = 'WITH recent AS (SELECT * FROM "orders") SELECT COUNT(*) FROM recent JOIN "customers" ON true'
    assert '"orders"' in check(sql, "postgres", ALLOWED)
    assert "`orders`" in check("SELECT * FROM `orders`", "mysql", ALLOWED)
