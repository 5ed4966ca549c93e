"""Profile and preview over real PostgreSQL and MariaDB shops and a lakehouse table."""

from __future__ import annotations

import uuid

import pyarrow as pa
import pytest
import sqlalchemy as sa

from tests.api import sources_helpers
from tests.api.sources_helpers import register
from tests.conftest import BASE

shop_db = sources_helpers.shop_db  # the module-scoped shops, one per database


@pytest.fixture(scope="module")
def source(app, shop_db):
    kind, engine, database = shop_db
    client = app.test_client()
    from tests.conftest import token_for

    headers = {"Authorization": f"Bearer {token_for('admin')}"}
    source_id = register(client, headers, kind, database, f"Profiled {uuid.uuid4().hex[:8]}").json[
        "source_id"
    ]
    yield source_id, engine
    client.delete(f"{BASE}/data-sources/{source_id}", headers=headers)


def _profile(client, headers, **body):
    return client.post(f"{BASE}/data/profile", headers=headers, json=body)


def test_profile_figures_match_the_database(client, admin_headers, source) -> None:
    source_id, engine = source
    response = _profile(client, admin_headers, source=source_id, table="customers", sample_size=10)
    assert response.status_code == 200, response.json
    body = response.json
    with engine.connect() as c:
        count = c.execute(sa.text("SELECT COUNT(*) FROM customers")).scalar()
        null_countries = c.execute(sa.text("SELECT COUNT(*) FROM customers WHERE country IS NULL")).scalar()
        distinct_countries = c.execute(sa.text("SELECT COUNT(DISTINCT country) FROM customers")).scalar()
    assert body["row_count"] == count == 30
    columns = {c["name"]: c for c in body["columns"]}
    assert list(columns) == ["id", "name", "email", "country", "created_at"]
    assert columns["id"]["unique"] is True and columns["id"]["unique_basis"] == "declared"
    assert columns["email"]["unique"] is True and columns["email"]["unique_basis"] == "declared"
    assert columns["name"]["unique"] is True and columns["name"]["unique_basis"] == "full_table"  # proven
    assert columns["country"]["unique"] is False
    assert columns["country"]["nullable"] is True and columns["country"]["null_count"] == null_countries
    assert columns["country"]["distinct_count"] == distinct_countries
    assert columns["email"]["nullable"] is False and "varchar" in columns["email"]["type"]
    stats = body["statistics"]
    assert stats["basis"] == "full_table" and stats["rows_examined"] == count
    assert stats["null_percentage"] == pytest.approx(100 * null_countries / (count * 5), abs=1e-3)
    assert stats["duplicate_percentage"] == 0 and stats["size_mb"] > 0
    recs = body["recommendations"]
    assert recs["partition_column"] == "created_at" and recs["partitioning"] == "none"
    reasons = {r["column"]: r["reason"] for r in recs["reasons"]}
    assert "30 rows" in reasons["created_at"] or "created_at" in recs["indexing"]

    orders = _profile(client, admin_headers, source=source_id, table="orders").json
    assert orders["row_count"] == 300
    assert "created_at" in orders["recommendations"]["indexing"]
    # Foreign keys: MariaDB indexes them itself, PostgreSQL does not.
    fk_reason = [r for r in orders["recommendations"]["reasons"] if r["column"] == "customer_id"]
    if engine.dialect.name == "postgresql":
        assert fk_reason and "foreign key to customers" in fk_reason[0]["reason"]
    else:
        assert not fk_reason


def test_preview_returns_the_rows(client, admin_headers, source) -> None:
    source_id, engine = source
    response = client.get(
        f"{BASE}/data/preview",
        headers=admin_headers,
        query_string={"source": source_id, "table": "products", "limit": 5},
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert body["columns"] == ["id", "name", "category", "price"]
    assert body["row_count"] == len(body["rows"]) == 5
    with engine.connect() as c:
        ids = {r[0] for r in c.execute(sa.text("SELECT id FROM products"))}
    assert {r[0] for r in body["rows"]} <= ids
    view = client.get(
        f"{BASE}/data/preview",
        headers=admin_headers,
        query_string={"source": source_id, "table": "paid_orders"},
    )
    assert view.status_code == 200 and view.json["columns"] == ["id", "customer_id", "total_amount"]


@pytest.mark.parametrize(
    "table",
    [
        "customers; DROP TABLE orders",
        "customers--",
        'customers" OR "1"="1',
        "no_such_table",
        "information_schema.tables",
        "pg_catalog.pg_authid",
    ],
)
def test_table_injection_and_unknown_tables_are_400(client, admin_headers, source, table) -> None:
    source_id, engine = source
    response = _profile(client, admin_headers, source=source_id, table=table)
    assert response.status_code == 400, response.json
    assert response.json["error"]["details"][0]["field"] == "table"
    preview = client.get(
        f"{BASE}/data/preview", headers=admin_headers, query_string={"source": source_id, "table": table}
    )
    assert preview.status_code == 400
    with engine.connect() as c:  # nothing was dropped
        assert c.execute(sa.text("SELECT COUNT(*) FROM orders")).scalar() == 300


def test_unknown_source_is_404(client, admin_headers) -> None:
    response = _profile(client, admin_headers, source="no_such_source_or_catalog", table="t")
    assert response.status_code == 404 and response.json["error"]["code"] == "DATA_SOURCE_NOT_FOUND"


def test_lakehouse_table_profile_and_preview(client, admin_headers) -> None:
    from headrace.api.services.lakehouse import lakehouse

    name = f"prof_{uuid.uuid4().hex[:8]}"
    service = lakehouse()
    created = client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": name, "type": "iceberg"})
    assert created.status_code in (200, 201), created.json
    try:
        data = pa.table(
            {
                "id": pa.array(range(50), pa.int64()),
                "kind": pa.array(["a", "b", None, "a", "b"] * 10),
                "at": pa.array(
                    [
                        pa.scalar(1_700_000_000_000_000 + i * 3_600_000_000, pa.timestamp("us")).as_py()
                        for i in range(50)
                    ]
                ),
            }
        )
        service.write(name, "main", "events", data)
        body = _profile(client, admin_headers, source=name, table="main.events").json
        assert body["row_count"] == 50
        columns = {c["name"]: c for c in body["columns"]}
        assert columns["id"]["unique"] is True and columns["id"]["unique_basis"] == "full_table"
        assert columns["kind"]["null_count"] == 10 and columns["kind"]["distinct_count"] == 2
        assert body["recommendations"]["partition_column"] == "at"
        preview = client.get(
            f"{BASE}/data/preview",
            headers=admin_headers,
            query_string={"source": name, "table": "main.events", "limit": 3},
        ).json
        assert preview["columns"] == ["id", "kind", "at"] and len(preview["rows"]) == 3
        bad = _profile(client, admin_headers, source=name, table="main.nope")
        assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "table"
    finally:
        client.delete(f"{BASE}/catalog/{name}?force=true", headers=admin_headers)
