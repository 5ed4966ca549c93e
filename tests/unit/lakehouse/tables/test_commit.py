"""Commit guarantees per format: one commit or none, job ids, skips, write modes, schema rules.

Jobs run through the Arrow ingestion engine, as users run them: the errors they see are the
ingestion's (IngestionFailed), raised from the table layer's CommitFailed.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.ingestion.engine import ArrowEngine, run_ingestion
from headrace.ingestion.results import IngestionFailed
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.tables import base, hive_dataset, staging
from tests.unit.ingestion.helpers import (
    ROWS,
    json_lines,
    make_spec,
    parquet_bytes,
    put,
    read_back,
    rows_of,
    tree,
)

FORMATS = [t.value for t in CatalogType]


def ingest(store, lakehouse, catalog, paths, job_id, *, file_type="json", source=None, **target):
    spec = make_spec(catalog, "t", paths, file_type, source=source, **target)
    return run_ingestion(spec, job_id=job_id, lakehouse=lakehouse, store=store)


def table_dir(tmp_path, catalog):
    return tmp_path / "wh" / catalog / "sales" / "t"


def snapshot(tmp_path, catalog):
    """Everything that says what the table is: its rows and its version (and file set)."""
    files = tree(tmp_path / "wh" / catalog)  # every data, metadata and log file of the catalog
    if catalog == "iceberg":
        table = SqlCatalog("iceberg", uri=f"sqlite:///{tmp_path / 'catalog.db'}").load_table(("sales", "t"))
        return files, table.current_snapshot().snapshot_id, rows_of(table.scan().to_arrow())
    return files, rows_of(read_back(tmp_path, catalog, catalog, "t"))


def staging_left(tmp_path, job: str = "job-2") -> list[str]:
    """Files a failed job left: staging folders (Iceberg: ``data/headrace-<job>``) or pending commits."""
    return [p for p in tree(tmp_path / "wh") if "_staging" in p or f"headrace-{job}" in p or "pending" in p]


@pytest.mark.parametrize("catalog", FORMATS)
def test_a_retried_job_returns_its_commit_and_writes_nothing(store, lakehouse, tmp_path, catalog):
    uri = put(store, "a.jsonl", json_lines(ROWS))
    first = ingest(store, lakehouse, catalog, uri, "job-1")
    before = snapshot(tmp_path, catalog)

    again = ingest(store, lakehouse, catalog, uri, "job-1")

    assert again.already_committed and not first.already_committed
    assert (again.version, again.rows_written, again.files) == (first.version, 3, [uri])
    assert snapshot(tmp_path, catalog) == before
    store.delete("raw", "a.jsonl")  # the source may be gone by the retry: the commit answers first
    assert ingest(store, lakehouse, catalog, uri, "job-1").already_committed


@pytest.mark.parametrize("catalog", FORMATS)
def test_files_loaded_by_an_earlier_job_are_skipped(store, lakehouse, tmp_path, catalog):
    a = put(store, "in/a.jsonl", json_lines(ROWS[:2]))
    ingest(store, lakehouse, catalog, a, "job-a")
    b = put(store, "in/b.jsonl", json_lines(ROWS[2:]))

    result = ingest(store, lakehouse, catalog, "s3://raw/in/*.jsonl", "job-b")

    assert (result.files, result.skipped_files, result.rows_written) == ([b], [a], 1)
    assert [r["id"] for r in rows_of(read_back(tmp_path, catalog, catalog, "t"))] == [1, 2, 3]

    nothing = ingest(store, lakehouse, catalog, "s3://raw/in/*.jsonl", "job-c")
    assert not nothing.committed and nothing.skipped_files == [a, b] and nothing.version == result.version

    again = ingest(store, lakehouse, catalog, a, "job-d", source={"skip_loaded_files": False})
    assert again.rows_written == 2 and len(read_back(tmp_path, catalog, catalog, "t")) == 5


@pytest.mark.parametrize("catalog", FORMATS)
def test_overwrite_replaces_every_row_in_one_commit(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    new = put(store, "b.jsonl", json_lines([{"id": 9, "name": "new", "amount": 0.5}]))

    result = ingest(store, lakehouse, catalog, new, "job-2", write_mode="overwrite")

    assert rows_of(read_back(tmp_path, catalog, catalog, "t")) == [{"id": 9, "name": "new", "amount": 0.5}]
    if catalog == "delta":
        assert result.version == "1"
    if catalog == "hive":
        assert result.version == "2"
        assert not any(p.startswith("part-job-1") for p in tree(table_dir(tmp_path, catalog)))
    # after an overwrite, files of earlier loads are no longer "loaded": loading a.jsonl again adds it
    assert ingest(store, lakehouse, catalog, "s3://raw/a.jsonl", "job-3").rows_written == 3


@pytest.mark.parametrize("catalog", FORMATS)
def test_merge_upserts_on_the_key(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    changes = [{"id": 2, "name": "bea", "amount": 20.0}, {"id": 4, "name": "dan", "amount": 4.0}]

    result = ingest(
        store,
        lakehouse,
        catalog,
        put(store, "b.jsonl", json_lines(changes)),
        "job-2",
        write_mode="merge",
        merge_keys=["id"],
    )

    assert result.rows_written == 2
    assert rows_of(read_back(tmp_path, catalog, catalog, "t"), columns=["id", "name"]) == [
        {"id": 1, "name": "ann"},
        {"id": 2, "name": "bea"},
        {"id": 3, "name": "cyd"},
        {"id": 4, "name": "dan"},
    ]


@pytest.mark.parametrize("catalog", FORMATS)
def test_merge_refuses_repeated_keys(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    before = snapshot(tmp_path, catalog)
    dup = put(store, "b.jsonl", json_lines([{"id": 5, "name": "x"}, {"id": 5, "name": "y"}]))

    with pytest.raises(IngestionFailed, match="Merge keys are not unique"):
        ingest(store, lakehouse, catalog, dup, "job-2", write_mode="merge", merge_keys=["id"])

    assert snapshot(tmp_path, catalog) == before and staging_left(tmp_path) == []


@pytest.mark.parametrize("catalog", FORMATS)
def test_new_columns_are_added(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS[:1])), "job-1")
    more = [{"id": 7, "name": "gus", "amount": 1.0, "city": "Oslo", "geo": {"lat": 1.5}}]

    ingest(store, lakehouse, catalog, put(store, "b.jsonl", json_lines(more)), "job-2")

    if catalog == "hive":
        fs, path = pafs.LocalFileSystem(), str(table_dir(tmp_path, catalog))
        back = hive_dataset(fs, path).to_table()  # plain discovery takes the first file's schema
    else:
        back = read_back(tmp_path, catalog, catalog, "t")
    assert rows_of(back, columns=["id", "city", "geo"]) == [
        {"id": 1, "city": None, "geo": None},
        {"id": 7, "city": "Oslo", "geo": {"lat": 1.5}},
    ]


@pytest.mark.parametrize("catalog", FORMATS)
@pytest.mark.parametrize(
    ("row", "column", "types"),
    [
        ({"id": "seven"}, "id", "varchar in s3://raw/b.jsonl but bigint"),
        ({"id": 8, "name": {"first": "x"}}, "name", "row(first varchar) in s3://raw/b.jsonl but varchar"),
    ],
)
def test_incompatible_types_are_refused_and_the_table_kept(
    store, lakehouse, tmp_path, catalog, row, column, types
):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    before = snapshot(tmp_path, catalog)

    with pytest.raises(IngestionFailed) as failure:
        ingest(store, lakehouse, catalog, put(store, "b.jsonl", json_lines([row])), "job-2")

    assert str(failure.value) == f"Column '{column}' has type {types} in table {catalog}.sales.t"
    assert failure.value.file == "s3://raw/b.jsonl"
    assert snapshot(tmp_path, catalog) == before and staging_left(tmp_path) == []


@pytest.mark.parametrize("catalog", FORMATS)
def test_without_schema_evolution_a_new_column_is_an_error(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    with pytest.raises(IngestionFailed) as failure:
        ingest(
            store,
            lakehouse,
            catalog,
            put(store, "b.jsonl", json_lines([{"id": 5, "color": "red"}])),
            "job-2",
            schema_evolution=False,
        )
    assert "Column 'color' of s3://raw/b.jsonl is not in table" in str(failure.value)


@pytest.mark.parametrize(("catalog", "widened"), [("iceberg", True), ("delta", False), ("hive", True)])
def test_widening_a_stored_type(store, lakehouse, tmp_path, catalog, widened):
    narrow = pa.table({"id": pa.array([1], pa.int32()), "v": pa.array([1.5], pa.float32())})
    wide = pa.table({"id": pa.array([2**40], pa.int64()), "v": pa.array([2.5], pa.float64())})
    ingest(
        store,
        lakehouse,
        catalog,
        put(store, "a.parquet", parquet_bytes(narrow)),
        "job-1",
        file_type="parquet",
    )
    # narrower into wider always casts: int32 file into the int32 table, then into a widened one
    wide_uri = put(store, "b.parquet", parquet_bytes(wide))
    if not widened:
        with pytest.raises(IngestionFailed, match=r"Column 'id' has type bigint .* integer .*cannot widen"):
            ingest(store, lakehouse, catalog, wide_uri, "job-2", file_type="parquet")
        return
    ingest(store, lakehouse, catalog, wide_uri, "job-2", file_type="parquet")
    ingest(
        store,
        lakehouse,
        catalog,
        put(store, "c.parquet", parquet_bytes(narrow)),
        "job-3",
        file_type="parquet",
    )
    if catalog == "hive":
        back = hive_dataset(pafs.LocalFileSystem(), str(table_dir(tmp_path, catalog))).to_table()
    else:
        back = read_back(tmp_path, catalog, catalog, "t")
    assert back.schema.field("id").type == pa.int64() and back.schema.field("v").type == pa.float64()
    assert sorted(back.column("id").to_pylist()) == [1, 1, 2**40]


def test_iceberg_partition_transforms(store, lakehouse, tmp_path):
    rows = [
        {"id": i, "name": f"name{i}", "ts": f"2024-03-0{i % 3 + 1}T0{i}:00:00", "amount": 1.0}
        for i in range(1, 7)
    ]
    partition_by = [
        {"column": "ts", "transform": "day"},
        {"column": "id", "transform": "bucket", "param": 4},
        {"column": "name", "transform": "truncate", "param": 2},
    ]
    ingest(
        store,
        lakehouse,
        "iceberg",
        put(store, "p.jsonl", json_lines(rows)),
        "job-1",
        partition_by=partition_by,
    )

    table = SqlCatalog("iceberg", uri=f"sqlite:///{tmp_path / 'catalog.db'}").load_table(("sales", "t"))
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [
        ("ts_day", "day"),
        ("id_bucket", "bucket[4]"),
        ("name_trunc", "truncate[2]"),
    ]
    assert len(table.scan().to_arrow()) == 6
    assert len({task.file.partition for task in table.scan().plan_files()}) > 1
    meta = lakehouse.table_metadata("iceberg", "sales", "t")
    assert [p.transform for p in meta.partitioning] == ["day", "bucket[4]", "truncate[2]"]


@pytest.mark.parametrize("catalog", ["delta", "hive"])
def test_identity_partitions_on_delta_and_hive(store, lakehouse, tmp_path, catalog):
    rows = [
        {"id": 1, "region": "eu"},
        {"id": 2, "region": "us"},
        {"id": 3, "region": "eu"},
        {"id": 4, "region": None},
    ]
    ingest(
        store,
        lakehouse,
        catalog,
        put(store, "r.jsonl", json_lines(rows)),
        "job-1",
        partition_by=[{"column": "region"}],
    )
    ingest(store, lakehouse, catalog, put(store, "s.jsonl", json_lines([{"id": 5, "region": "us"}])), "job-2")

    folders = {p.split("/")[0] for p in tree(table_dir(tmp_path, catalog)) if p.startswith("region=")}
    assert {"region=eu", "region=us"} <= folders
    if catalog == "delta":
        assert DeltaTable(str(table_dir(tmp_path, catalog))).metadata().partition_columns == ["region"]
    back = read_back(tmp_path, catalog, catalog, "t")
    assert rows_of(back, columns=["id", "region"]) == [*rows, {"id": 5, "region": "us"}]


@pytest.mark.parametrize("catalog", ["delta", "hive"])
def test_non_identity_transforms_are_refused_outside_iceberg(store, lakehouse, tmp_path, catalog):
    with pytest.raises(IngestionFailed, match=r"target.partition_by: .* identity partitioning only, not day"):
        ingest(
            store,
            lakehouse,
            catalog,
            put(store, "a.jsonl", json_lines(ROWS)),
            "job-1",
            partition_by=[{"column": "ts", "transform": "day"}],
        )
    assert not table_dir(tmp_path, catalog).exists()


@pytest.mark.parametrize("catalog", FORMATS)
@pytest.mark.parametrize("write_mode", ["append", "overwrite", "merge"])
def test_a_failure_right_before_the_commit_leaves_the_table_as_it_was(
    store, lakehouse, tmp_path, monkeypatch, catalog, write_mode
):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    before = snapshot(tmp_path, catalog)
    new = put(store, "b.jsonl", json_lines([{"id": 2, "name": "x", "extra": True}, {"id": 8, "name": "y"}]))

    def fail(table):
        raise RuntimeError("injected after the data files were written")

    monkeypatch.setattr(base, "before_commit", fail)
    with pytest.raises(IngestionFailed, match="injected"):
        ingest(
            store,
            lakehouse,
            catalog,
            new,
            "job-2",
            write_mode=write_mode,
            merge_keys=["id"] * (write_mode == "merge"),
        )

    assert snapshot(tmp_path, catalog) == before
    assert staging_left(tmp_path) == []
    monkeypatch.undo()
    assert ingest(store, lakehouse, catalog, new, "job-2").rows_written == 2  # and the job can run again


@pytest.mark.parametrize("catalog", FORMATS)
def test_a_failure_on_a_new_table_creates_nothing(store, lakehouse, tmp_path, monkeypatch, catalog):
    monkeypatch.setattr(base, "before_commit", lambda table: (_ for _ in ()).throw(RuntimeError("injected")))
    with pytest.raises(IngestionFailed):
        ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")

    assert lakehouse.tree(catalog) == [] or all(node.tables == [] for node in lakehouse.tree(catalog))
    assert [p for p in tree(tmp_path / "wh" / catalog) if not p.startswith("sales/")] == []
    assert [p for p in tree(tmp_path / "wh" / catalog) if p.endswith(".parquet")] == []


@pytest.mark.parametrize("catalog", FORMATS)
def test_a_corrupt_second_file_fails_the_job_naming_it(store, lakehouse, tmp_path, catalog):
    ingest(store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    before = snapshot(tmp_path, catalog)
    put(store, "in/1.jsonl", json_lines([{"id": 4}]))
    put(store, "in/2.jsonl", b'{"id": 5}\n{"id": \n')

    with pytest.raises(IngestionFailed) as failure:
        ingest(store, lakehouse, catalog, "s3://raw/in/*", "job-2")

    assert failure.value.file == "s3://raw/in/2.jsonl" and "s3://raw/in/2.jsonl" in str(failure.value)
    assert snapshot(tmp_path, catalog) == before and staging_left(tmp_path) == []


@pytest.mark.parametrize("catalog", FORMATS)
def test_a_failure_while_the_format_writes_leaves_the_table_as_it_was(
    store, lakehouse, tmp_path, monkeypatch, catalog
):
    # Iceberg rewrites (rather than adopts) staged files for partitioned tables
    partition_by = [{"column": "id", "transform": "bucket", "param": 2}] if catalog == "iceberg" else []
    ingest(
        store, lakehouse, catalog, put(store, "a.jsonl", json_lines(ROWS)), "job-1", partition_by=partition_by
    )
    before = snapshot(tmp_path, catalog)
    new = put(store, "b.jsonl", json_lines([{"id": 10 + i, "note": 1.5} for i in range(50)]))
    calls = {"n": 0}
    conform = staging.conform_batch

    def failing_conform(batch, schema):  # the commit streams staged rows: fail after 9 batches of 5
        calls["n"] += 1
        if calls["n"] > 9:
            raise OSError("disk full (injected)")
        return conform(batch, schema)

    monkeypatch.setattr(staging, "conform_batch", failing_conform)
    written: list[str] = []
    if catalog == "iceberg":
        from headrace.lakehouse.tables import iceberg

        original = iceberg._dataframe_to_data_files

        def recording(**kwargs):
            for data_file in original(**kwargs):
                written.append(data_file.file_path)
                yield data_file

        monkeypatch.setattr(iceberg, "_dataframe_to_data_files", recording)
    spec = make_spec(catalog, "t", new, "json", write_mode="overwrite")

    with pytest.raises(IngestionFailed, match="injected"):
        ArrowEngine(batch_rows=5).run(spec, job_id="job-2", lakehouse=lakehouse, store=store)

    assert snapshot(tmp_path, catalog) == before and staging_left(tmp_path) == []
    if catalog == "iceberg":  # pyiceberg had written data files (one chunk is 8 batches): all deleted
        assert written and not any((tmp_path / p.removeprefix("file://")).exists() for p in written)


def test_create_if_missing_off_and_unknown_catalog(store, lakehouse):
    uri = put(store, "a.jsonl", json_lines(ROWS))
    with pytest.raises(IngestionFailed, match=r"^Table delta.sales.t does not exist$"):
        ingest(store, lakehouse, "delta", uri, "job-1", create_if_missing=False)
    with pytest.raises(IngestionFailed, match=r"^Catalog 'nope' not found$"):
        ingest(store, lakehouse, "nope", uri, "job-1")


def test_wrong_content_fails_naming_the_file(store, lakehouse):
    uri = put(store, "fake.parquet", b"id,name\n1,a\n")
    with pytest.raises(IngestionFailed) as failure:
        ingest(store, lakehouse, "iceberg", uri, "job-1", file_type="parquet")
    assert failure.value.file == uri and str(failure.value).startswith(f"{uri}: File content is not PARQUET")


def test_hive_readers_ignore_staging_and_commit_folders(store, lakehouse, tmp_path):
    ingest(store, lakehouse, "hive", put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    folder = table_dir(tmp_path, "hive")
    (folder / "_staging" / "other-job").mkdir(parents=True)
    (folder / "_staging" / "other-job" / "part-0.parquet").write_bytes(parquet_bytes(pa.table({"id": [99]})))
    assert (folder / "_headrace" / "commits" / "job-1.json").exists()

    assert len(ds.dataset(str(folder), format="parquet", partitioning="hive").to_table()) == 3
    assert lakehouse.table_metadata("hive", "sales", "t").row_count == 3


def test_hive_recovers_a_commit_a_dead_process_left_pending(store, lakehouse, tmp_path, monkeypatch):
    from headrace.lakehouse.tables import hive

    ingest(store, lakehouse, "hive", put(store, "a.jsonl", json_lines(ROWS)), "job-1")
    before = snapshot(tmp_path, "hive")
    settle = hive.HiveTable.settle
    monkeypatch.setattr(hive.HiveTable, "settle", lambda self, token, pending: None)  # the process "dies"
    monkeypatch.setattr(base, "before_commit", lambda table: (_ for _ in ()).throw(SystemExit(1)))
    with pytest.raises(SystemExit):
        ingest(store, lakehouse, "hive", put(store, "b.jsonl", json_lines([{"id": 4}])), "job-2")
    assert any("pending" in p for p in tree(table_dir(tmp_path, "hive")))  # moved files, no marker
    monkeypatch.setattr(hive.HiveTable, "settle", settle)
    monkeypatch.setattr(base, "before_commit", lambda table: None)

    result = ingest(store, lakehouse, "hive", "s3://raw/b.jsonl", "job-2")  # the retry undoes, then loads

    assert result.rows_written == 1 and not result.already_committed
    assert rows_of(read_back(tmp_path, "hive", "hive", "t"), columns=["id"]) == [
        {"id": i} for i in (1, 2, 3, 4)
    ]
    assert before[1] != rows_of(read_back(tmp_path, "hive", "hive", "t"))
    assert not any("pending" in p or "_staging" in p for p in tree(table_dir(tmp_path, "hive")))
