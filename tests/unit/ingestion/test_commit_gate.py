"""The engine's ``before_commit`` gate: asked once, after every row is staged, before the commit.

It is where a cancel stops a job (see headrace.api.services.ingestion_jobs.cancel): a gate that
raises leaves every format's table as it was.
"""

from __future__ import annotations

import pytest

from headrace.ingestion.engine import run_ingestion
from headrace.ingestion.results import IngestionCancelled
from tests.unit.ingestion.helpers import ROWS, json_lines, make_spec, put, read_back, rows_of


@pytest.mark.parametrize("catalog", ["iceberg", "delta", "hive"])
def test_a_gate_that_raises_leaves_the_table_unchanged(store, lakehouse, tmp_path, catalog):
    first = put(store, "gate/first.jsonl", json_lines(ROWS[:1]))
    second = put(store, "gate/second.jsonl", json_lines(ROWS))
    run_ingestion(make_spec(catalog, "gated", first, "json"), job_id="one", lakehouse=lakehouse, store=store)

    def cancelled() -> None:
        raise IngestionCancelled("Cancelled by ann before the table commit; the table is unchanged")

    with pytest.raises(IngestionCancelled):
        run_ingestion(
            make_spec(catalog, "gated", second, "json"),
            job_id="two",
            lakehouse=lakehouse,
            store=store,
            before_commit=cancelled,
        )

    assert rows_of(read_back(tmp_path, catalog, catalog, "gated")) == ROWS[:1]


def test_the_gate_is_asked_once_after_every_row_is_read(store, lakehouse, tmp_path):
    uri = put(store, "gate/rows.jsonl", json_lines(ROWS))
    calls = []

    result = run_ingestion(
        make_spec("iceberg", "asked", uri, "json"),
        job_id="asked",
        lakehouse=lakehouse,
        store=store,
        before_commit=lambda: calls.append("gate"),
    )
    again = run_ingestion(  # a retry of a committed job returns its result, nothing to gate
        make_spec("iceberg", "asked", uri, "json"),
        job_id="asked",
        lakehouse=lakehouse,
        store=store,
        before_commit=lambda: calls.append("again"),
    )

    assert calls == ["gate"]
    assert result.rows_written == len(ROWS) and again.already_committed
    assert rows_of(read_back(tmp_path, "iceberg", "iceberg", "asked")) == ROWS
