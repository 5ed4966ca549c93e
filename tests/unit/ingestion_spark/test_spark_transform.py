"""A SQL transform on the spark engine: real spark-submit in local mode (Java 17), Spark SQL over the
Parquet files of an Iceberg, a Delta, a Hive-style and an empty Iceberg table, committed to Delta.

Each spark-submit takes 10 s or more, so there are two: one transform (then a retry, which must not
start Spark) and one failing query (the target stays as it was).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.transform import run_transform
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings

pytestmark = pytest.mark.spark

ENGINES = {"arrow": "arrow", "spark": "spark:headrace_test_no_spark_connection"}  # no such connection
SQL = """
    SELECT o.id, c.name AS country, o.amount * 2 AS doubled, t.tier, r.reason
    FROM iceberg.src.orders AS o
    JOIN delta.src.countries AS c ON o.country = c.code
    JOIN hive.src.tiers AS t ON t.id = o.id
    LEFT JOIN iceberg.src.refunds AS r ON r.order_id = o.id
    WHERE o.amount IS NOT NULL
"""


@pytest.fixture(scope="module")
def lakehouse(tmp_path_factory: pytest.TempPathFactory) -> Lakehouse:
    root = tmp_path_factory.mktemp("spark-transform")
    lakehouse = Lakehouse(
        LakehouseSettings(catalog_uri=f"sqlite:///{root / 'c.db'}", warehouse=str(root / "wh"))
    )
    for catalog_type in CatalogType:
        lakehouse.create_catalog(catalog_type.value, catalog_type)
    orders = {"id": [1, 2, 3, 4], "country": ["de", "fr", "de", "xx"], "amount": [1.5, 2.0, None, 4.0]}
    lakehouse.write("iceberg", "src", "orders", pa.table(orders))
    lakehouse.write(
        "iceberg",
        "src",
        "refunds",
        pa.table({"order_id": pa.array([], pa.int64()), "reason": pa.array([], pa.string())}),
    )
    lakehouse.write(
        "delta", "src", "countries", pa.table({"code": ["de", "fr"], "name": ["Germany", "France"]})
    )
    lakehouse.write("hive", "src", "tiers", pa.table({"id": [1, 2, 3], "tier": ["gold", "silver", "gold"]}))
    return lakehouse


def delta_rows(lakehouse: Lakehouse) -> list[dict]:
    location = lakehouse.open("delta").location.child("sales", "out").uri
    return DeltaTable(location).to_pyarrow_table().sort_by("id").to_pylist()


def test_spark_sql_transform_commits_once(lakehouse):
    result = run_transform(
        SQL, "delta.sales.out", lakehouse=lakehouse, job_id="spark-1", engine_id="spark", engines=ENGINES
    )
    again = run_transform(
        SQL, "delta.sales.out", lakehouse=lakehouse, job_id="spark-1", engine_id="spark", engines=ENGINES
    )

    assert (result.rows_written, result.records_processed, result.engine) == (2, 2, "spark")
    assert delta_rows(lakehouse) == [
        {"id": 1, "country": "Germany", "doubled": 3.0, "tier": "gold", "reason": None},
        {"id": 2, "country": "France", "doubled": 4.0, "tier": "silver", "reason": None},
    ]
    assert again.already_committed and again.version == result.version and again.duration_seconds < 5


def test_a_failing_spark_query_leaves_the_target_unchanged(lakehouse):
    before = delta_rows(lakehouse)

    with pytest.raises(IngestionFailed, match="Spark SQL failed") as raised:
        run_transform(
            "SELECT id, colour FROM iceberg.src.orders",
            "delta.sales.out",
            lakehouse=lakehouse,
            job_id="spark-2",
            engine_id="spark",
            engines=ENGINES,
        )

    assert "colour" in str(raised.value) and "iceberg.src.orders" in str(raised.value)
    assert delta_rows(lakehouse) == before
    staging = Path(lakehouse.open("delta").location.uri).parent / ".headrace-staging"
    assert not staging.exists() or not any(p.is_file() for p in staging.rglob("*"))
