"""A small shop (customers, products, orders, order items) in throwaway PostgreSQL and MariaDB
databases, for the data-source, profiling and natural-language tests.

Orders are spread over the 500 days up to today, so that "last month" and "this year" always hold
some; every order's ``total_amount`` is the sum of its items' ``amount``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.postgres import temporary_database

MARIADB = "mysql+pymysql://root@127.0.0.1:3306"
COUNTRIES = ["Germany", "France", "Spain", "Italy", "Poland"]
CATEGORIES = ["books", "games", "music", "garden"]
STATUSES = ["new", "paid", "shipped", "cancelled"]

DDL = [
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, email VARCHAR(255) NOT NULL"
    " UNIQUE, country VARCHAR(50), created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, category VARCHAR(50) NOT NULL,"  # noqa: E501
    " price DECIMAL(10,2) NOT NULL)",
    "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),"
    " status VARCHAR(20) NOT NULL, total_amount DECIMAL(12,2) NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id),"
    " product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL, amount DECIMAL(12,2) NOT NULL)",  # noqa: E501
    "CREATE VIEW paid_orders AS SELECT id, customer_id, total_amount FROM orders WHERE status = 'paid'",
]


def rows(today: date | None = None) -> dict[str, list[dict]]:
    rnd = random.Random(14)
    now = datetime.combine(today or date.today(), datetime.min.time()) + timedelta(hours=12)
    customers = [
        {
            "id": i,
            "name": f"Customer {i:02d}",
            "email": f"c{i}@shop.example",
            "country": None if i % 11 == 0 else COUNTRIES[i % len(COUNTRIES)],
            "created_at": now - timedelta(days=rnd.randint(0, 700), minutes=i),
        }
        for i in range(1, 31)
    ]
    products = [
        {
            "id": i,
            "name": f"Product {i:02d}",
            "category": CATEGORIES[i % 4],
            "price": Decimal(f"{5 + i * 3}.{i:02d}"),
        }
        for i in range(1, 13)
    ]
    orders, items = [], []
    item_id = 1
    for i in range(1, 301):
        created = now - timedelta(days=rnd.randint(0, 500), minutes=rnd.randint(0, 600), seconds=i)
        total = Decimal("0")
        for _ in range(rnd.randint(1, 3)):
            product = rnd.choice(products)
            quantity = rnd.randint(1, 4)
            amount = product["price"] * quantity
            items.append(
                {
                    "id": item_id,
                    "order_id": i,
                    "product_id": product["id"],
                    "quantity": quantity,
                    "amount": amount,
                }
            )
            item_id += 1
            total += amount
        orders.append(
            {
                "id": i,
                "customer_id": rnd.randint(1, 30),
                "status": rnd.choice(STATUSES),
                "total_amount": total,
                "created_at": created,
            }
        )
    return {"customers": customers, "products": products, "orders": orders, "order_items": items}


def fill(engine: sa.Engine) -> None:
    metadata = sa.MetaData()
    with engine.begin() as connection:
        for statement in DDL:
            connection.execute(sa.text(statement))
        metadata.reflect(connection, only=["customers", "products", "orders", "order_items"])
        for name, values in rows().items():
            connection.execute(metadata.tables[name].insert(), values)


@contextmanager
def mariadb_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty MariaDB database on 127.0.0.1:3306 (root, no password), dropped after."""
    admin = sa.create_engine(f"{MARIADB}/", isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE `{name}`"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"no MariaDB on 127.0.0.1:3306: {exc}")
    try:
        yield f"{MARIADB}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()


@contextmanager
def shop(kind: str) -> Iterator[tuple[sa.Engine, str]]:
    """``(engine, database name)`` of a filled shop in ``postgres`` or ``mariadb``."""
    context = temporary_database("hr_shop") if kind == "postgres" else mariadb_database("hr_shop")
    with context as url:
        engine = sa.create_engine(url)
        try:
            fill(engine)
            yield engine, url.rsplit("/", 1)[1]
        finally:
            engine.dispose()
