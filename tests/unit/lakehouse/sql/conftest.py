"""Lakehouse tables for the SQL tests: real Arrow data (in-memory tables, a Parquet dataset on disk and a
record batch reader) behind a resolver that records what the query asked for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from headrace.lakehouse.sql import (
    TableNotFound,
    TableRef,
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


def as_json(result):
    return json.loads(json.dumps(result.rows, allow_nan=False))
