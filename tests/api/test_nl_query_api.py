"""POST /nl-query on real PostgreSQL and MariaDB shops: the generated SQL is executed and its result
compared with hand-written SQL's; injection attempts; the LLM backend against a loopback fake that
speaks the OpenAI chat-completions protocol."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

import pytest
import sqlalchemy as sa
import sqlglot

from tests import llm_fake
from tests.api import sources_helpers
from tests.api.sources_helpers import register
from tests.conftest import BASE, token_for

shop_db = sources_helpers.shop_db  # the module-scoped shops, one per database

TABLES = ["customers", "products", "orders", "order_items"]
SINCE = (dt.date.today() - dt.timedelta(days=200)).isoformat()
YEAR = dt.date.today().year

# Date boundaries written in each database's own date functions (not by the engine under test).
BOUNDS = {
    "postgresql": {
        "lm": "date_trunc('month', current_date) - interval '1 month'",
        "tm": "date_trunc('month', current_date)",
        "ty": "date_trunc('year', current_date)",
        "ny": "date_trunc('year', current_date) + interval '1 year'",
        "month": "date_trunc('month', created_at)",
    },
    "mysql": {
        "lm": "DATE_FORMAT(CURRENT_DATE - INTERVAL 1 MONTH, '%Y-%m-01')",
        "tm": "DATE_FORMAT(CURRENT_DATE, '%Y-%m-01')",
        "ty": "DATE_FORMAT(CURRENT_DATE, '%Y-01-01')",
        "ny": "DATE_FORMAT(CURRENT_DATE + INTERVAL 1 YEAR, '%Y-01-01')",
        "month": "DATE_FORMAT(created_at, '%Y-%m-01')",
    },
}
_TOP = (
    "SELECT c.id, c.name, SUM(oi.amount) AS t FROM customers c JOIN orders o ON o.customer_id = c.id "
    "JOIN order_items oi ON oi.order_id = o.id {where} GROUP BY c.id, c.name ORDER BY t DESC, c.id LIMIT {n}"
)
# (question, hand-written SQL, whether the order of rows matters, compare only the last column)
CASES = [
    ("How many customers are there?", "SELECT COUNT(*) FROM customers", False, False),
    (
        "How many orders were placed last month?",
        "SELECT COUNT(*) FROM orders WHERE created_at >= {lm} AND created_at < {tm}",
        False,
        False,
    ),
    ("Count orders by status", "SELECT status, COUNT(*) FROM orders GROUP BY status", False, False),
    (
        "Number of customers per country",
        "SELECT country, COUNT(*) FROM customers GROUP BY country",
        False,
        False,
    ),
    (
        "Total amount of orders this year",
        "SELECT SUM(total_amount) FROM orders WHERE created_at >= {ty} AND created_at < {ny}",
        False,
        False,
    ),
    ("Average price of products", "SELECT AVG(price) FROM products", False, False),
    ("Top 5 customers by total amount", _TOP.format(where="", n=5), True, False),
    (
        "Top 3 products by quantity sold",
        "SELECT p.id, p.name, SUM(oi.quantity) AS q FROM products p JOIN order_items oi ON oi.product_id = p.id "  # noqa: E501
        "GROUP BY p.id, p.name ORDER BY q DESC, p.id LIMIT 3",
        True,
        False,
    ),
    (
        "Show the 10 most recent orders",
        "SELECT * FROM orders ORDER BY created_at DESC, id DESC LIMIT 10",
        True,
        False,
    ),
    (
        f"How many orders since {SINCE}",
        f"SELECT COUNT(*) FROM orders WHERE created_at >= '{SINCE}'",
        False,
        False,
    ),
    (
        "Orders with status 'shipped' last month",
        "SELECT * FROM orders WHERE status = 'shipped' AND created_at >= {lm} AND created_at < {tm}",
        False,
        False,
    ),
    (
        "Total amount by category",
        "SELECT p.category, SUM(oi.amount) FROM order_items oi JOIN products p ON p.id = oi.product_id GROUP BY p.category",  # noqa: E501
        False,
        False,
    ),
    (
        "Show me top 10 customers by total purchase amount last month",
        _TOP.format(where="WHERE o.created_at >= {lm} AND o.created_at < {tm}", n=10),
        True,
        False,
    ),
    (
        "How many distinct customers placed orders this year",
        "SELECT COUNT(DISTINCT customer_id) FROM orders WHERE created_at >= {ty} AND created_at < {ny}",
        False,
        False,
    ),
    ("Most expensive 3 products", "SELECT * FROM products ORDER BY price DESC, id DESC LIMIT 3", True, False),
    ("What is the maximum price of products", "SELECT MAX(price) FROM products", False, False),
    ("List products in category books", "SELECT * FROM products WHERE category = 'books'", False, False),
    ("Orders with total amount over 300", "SELECT * FROM orders WHERE total_amount > 300", False, False),
    (
        "Average total amount of orders per customer country",
        "SELECT c.country, AVG(o.total_amount) FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY c.country",  # noqa: E501
        False,
        False,
    ),
    (
        "Number of orders per month",
        "SELECT {month} AS m, COUNT(*) FROM orders GROUP BY m ORDER BY m",
        True,
        True,
    ),
    (
        f"How many orders in {YEAR}",
        "SELECT COUNT(*) FROM orders WHERE created_at >= {ty} AND created_at < {ny}",
        False,
        False,
    ),
    ("Cheapest product", "SELECT * FROM products ORDER BY price, id LIMIT 1", True, False),
    (
        "How many orders with status cancelled",
        "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'",
        False,
        False,
    ),
    (
        "Total quantity by category",
        "SELECT p.category, SUM(oi.quantity) FROM order_items oi JOIN products p ON p.id = oi.product_id GROUP BY p.category",  # noqa: E501
        False,
        False,
    ),
]


def _norm(value):
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 2)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _rows(connection, sql: str, ordered: bool, last_only: bool) -> list:
    rows = [tuple(_norm(v) for v in r) for r in connection.execute(sa.text(sql))]
    if last_only:
        rows = [r[-1:] for r in rows]
    return rows if ordered else sorted(rows, key=repr)


@pytest.fixture(scope="module")
def source(app, shop_db):
    kind, engine, database = shop_db
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    source_id = register(client, headers, kind, database, f"Asked {uuid.uuid4().hex[:8]}").json["source_id"]
    yield source_id, engine
    client.delete(f"{BASE}/data-sources/{source_id}", headers=headers)


def _ask(client, headers, question, source_id=None, tables=TABLES):
    body = {"question": question, "schema": {"tables": tables}}
    if source_id:
        body["source"] = source_id
    return client.post(f"{BASE}/nl-query", headers=headers, json=body)


def test_questions_give_the_hand_written_answers(client, admin_headers, source) -> None:
    source_id, engine = source
    bounds = BOUNDS[engine.dialect.name]
    failures = []
    with engine.connect() as c:
        for question, expected_sql, ordered, last_only in CASES:
            response = _ask(client, admin_headers, question, source_id)
            assert response.status_code == 200, (question, response.json)
            body = response.json
            assert body["engine"] == "builtin" and body["dialect"] == (
                "postgres" if engine.dialect.name == "postgresql" else "mysql"
            )
            got = _rows(c, body["sql"], ordered, last_only)
            want = _rows(c, expected_sql.format(**bounds), ordered, last_only)
            if got != want:
                failures.append((question, body["sql"], got[:3], want[:3]))
            assert body["estimated_rows"] is not None and body["estimated_time_ms"] is not None, body
    assert not failures, failures
    assert len(CASES) >= 20


def test_unused_phrases_and_explanation(client, admin_headers, source) -> None:
    source_id, _ = source
    body = _ask(
        client, admin_headers, "Show me top 10 customers by total purchase amount last month", source_id
    ).json
    assert body["unused_phrases"] == ["purchase"]
    assert "last month" in body["explanation"] and "customers" in body["explanation"]


@pytest.mark.parametrize(
    "question",
    [
        "How many customers; DROP TABLE orders",
        "List customers where name is 'x'' OR 1=1 --'",
        "Delete all orders",
        "Show orders with status '; DELETE FROM orders; --'",
    ],
)
def test_injection_in_the_question_never_writes(client, admin_headers, source, question) -> None:
    source_id, engine = source
    response = _ask(client, admin_headers, question, source_id)
    assert response.status_code in (200, 400), response.json
    if response.status_code == 200:
        dialect = "postgres" if engine.dialect.name == "postgresql" else "mysql"
        statements = sqlglot.parse(response.json["sql"], read=dialect)
        assert len(statements) == 1 and isinstance(statements[0], sqlglot.exp.Select), response.json["sql"]
        with engine.connect() as c:
            c.execute(sa.text(response.json["sql"])).fetchall()
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar() == 300


def test_tables_outside_the_catalog_and_bad_input(client, admin_headers, source) -> None:
    source_id, _ = source
    unknown = _ask(client, admin_headers, "How many secrets", source_id, tables=["customers", "secrets"])
    assert unknown.status_code == 400 and unknown.json["error"]["details"][0]["field"] == "schema.tables.1"
    injected = _ask(client, admin_headers, "How many", source_id, tables=["customers; DROP TABLE orders"])
    assert injected.status_code == 400 and injected.json["error"]["details"][0]["field"].startswith(
        "schema.tables"
    )
    nothing = _ask(client, admin_headers, "What is the weather like", source_id)
    assert nothing.status_code == 400 and nothing.json["error"]["details"][0]["field"] == "question"
    assert _ask(client, admin_headers, "How many customers", "no_such_source").status_code == 404
    assert client.post(f"{BASE}/nl-query", json={"question": "x"}).status_code == 401


def test_inline_schema_without_a_source(client, admin_headers) -> None:
    tables = [
        {
            "name": "users",
            "columns": [{"name": "id", "type": "integer"}, {"name": "country", "type": "text"}],
        },
        {
            "name": "visits",
            "columns": [{"name": "id", "type": "integer"}, {"name": "user_id", "type": "integer"}],
        },
    ]
    body = _ask(client, admin_headers, "Number of visits per user country", tables=tables).json
    assert "JOIN" in body["sql"] and '"visits"."user_id" = "users"."id"' in body["sql"]
    assert body["estimated_rows"] is None


# ----------------------------------------------------------------------------------- LLM backend
fake_llm = llm_fake.fake_llm


def test_llm_answer_is_validated_and_used(client, admin_headers, source, fake_llm) -> None:
    source_id, engine = source
    fake_llm.answer = json.dumps(
        {"sql": "SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'", "explanation": "Paid orders."}
    )
    body = _ask(client, admin_headers, "How many paid orders are there?", source_id).json
    assert body["engine"] == "llm" and body["fallback_reason"] is None
    assert body["explanation"] == "Paid orders."
    with engine.connect() as c:
        got = c.execute(sa.text(body["sql"])).scalar()
        assert got == c.execute(sa.text("SELECT COUNT(*) FROM orders WHERE status = 'paid'")).scalar()
    (call,) = fake_llm.seen
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer sk-test-key-123"
    assert call["body"]["model"] == "test-model" and call["body"]["messages"][1]["content"].startswith(
        "How many"
    )
    assert "order_items" in call["body"]["messages"][0]["content"]
    assert "sk-test-key-123" not in json.dumps(body)


@pytest.mark.parametrize(
    "answer",
    [
        "```sql\nDELETE FROM orders\n```",
        json.dumps({"sql": "SELECT * FROM orders; DROP TABLE customers"}),
        json.dumps({"sql": "SELECT * FROM pg_shadow"}),
        "I cannot help with that.",
    ],
)
def test_invalid_llm_sql_is_rejected_and_the_builtin_answers(
    client, admin_headers, source, fake_llm, answer
) -> None:
    source_id, engine = source
    fake_llm.answer = answer
    body = _ask(client, admin_headers, "How many orders", source_id).json
    assert body["engine"] == "builtin" and body["fallback_reason"]
    assert "rejected" in body["fallback_reason"] or "no SQL" in body["fallback_reason"]
    with engine.connect() as c:
        assert c.execute(sa.text(body["sql"])).scalar() == 300
        assert c.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar() == 30


def test_llm_timeout_falls_back(client, admin_headers, source, fake_llm) -> None:
    source_id, _ = source
    fake_llm.answer = json.dumps({"sql": "SELECT 1"})
    fake_llm.delay = 3.0
    body = _ask(client, admin_headers, "How many customers", source_id).json
    assert body["engine"] == "builtin" and "no answer within 1 s" in body["fallback_reason"]
