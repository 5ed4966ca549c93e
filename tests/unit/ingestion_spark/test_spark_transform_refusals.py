"""A spark-engine transform over a table that is not there is refused before spark-submit, with the
lakehouse's own message, as the Arrow engine words it (no Spark or Java needed for these)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from headrace.ingestion.transform import run_transform
from headrace.lakehouse.sql import TableNotFound

ENGINES = {"arrow": "arrow", "spark": "spark:headrace_test_no_spark_connection"}


@pytest.fixture
def lakehouse(lakehouse):
    lakehouse.write("iceberg", "src", "orders", pa.table({"id": [1, 2]}))
    return lakehouse


MISSING_SCHEMA = "Table iceberg.nosuch.orders not found: Schema 'nosuch' not found in catalog 'iceberg'"
MISSING_CATALOG = "Table nope.src.orders not found: Catalog 'nope' not found"


@pytest.mark.parametrize(
    ("table", "engine_id", "message"),
    [
        ("iceberg.nosuch.orders", "arrow", MISSING_SCHEMA),
        ("iceberg.nosuch.orders", "spark", MISSING_SCHEMA),
        ("nope.src.orders", "arrow", MISSING_CATALOG),
        ("nope.src.orders", "spark", MISSING_CATALOG),
        ("iceberg.src.nope", "arrow", "Table iceberg.src.nope not found: Table 'iceberg.src.nope' not found"),
        ("iceberg.src.nope", "spark", "Table iceberg.src.nope not found"),  # said once, not twice
    ],
)
def test_a_missing_table_is_refused_in_the_lakehouses_words(lakehouse, table, engine_id, message):
    with pytest.raises(TableNotFound) as raised:
        run_transform(
            f"SELECT id FROM {table}",
            "delta.sales.out",
            lakehouse=lakehouse,
            job_id="j1",
            engine_id=engine_id,
            engines=ENGINES,
        )

    assert raised.value.message == message
