"""The commit step on its own, as an engine that writes its own Parquet files (Spark) would use it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from headrace.ingestion.files import ResolvedFile
from headrace.lakehouse.tables import CommitFailed, base, commit_parquet_files
from tests.unit.ingestion.helpers import ROWS, make_spec, read_back, rows_of, table_of, tree

SOURCE = ResolvedFile("s3://raw/in/rows.csv", "raw", "in/rows.csv", 123, "2024-01-01T00:00:00+00:00")


def spark_output(folder, name: str = "part-00000.parquet", table: pa.Table | None = None) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    pq.write_table(table if table is not None else table_of(ROWS), path)
    return path.as_uri()


def iceberg_files(tmp_path) -> set[str]:
    table = SqlCatalog("iceberg", uri=f"sqlite:///{tmp_path / 'catalog.db'}").load_table(("sales", "t"))
    return {task.file.file_path for task in table.scan().plan_files()}


def test_iceberg_adopts_files_of_an_unpartitioned_table(lakehouse, tmp_path):
    staged = spark_output(tmp_path / "wh" / "iceberg" / "sales" / "t" / "data" / "spark-1")
    spec = make_spec("iceberg", "t", SOURCE.uri, "csv")

    result = commit_parquet_files(spec.target, "spark-1", lakehouse.open("iceberg"), [staged], [SOURCE])

    assert (result.rows_written, result.files, result.bytes_read) == (3, [SOURCE.uri], 123)
    assert iceberg_files(tmp_path) == {staged}  # added as it is, not rewritten
    assert rows_of(read_back(tmp_path, "iceberg", "iceberg", "t")) == ROWS

    again = commit_parquet_files(spec.target, "spark-1", lakehouse.open("iceberg"), [staged], [SOURCE])
    assert again.already_committed and again.version == result.version
    assert iceberg_files(tmp_path) == {staged}  # the retry did not delete the table's data file
    assert len(read_back(tmp_path, "iceberg", "iceberg", "t")) == 3


@pytest.mark.parametrize(
    ("catalog", "target"),
    [
        ("iceberg", {"partition_by": [{"column": "id", "transform": "bucket", "param": 2}]}),
        ("delta", {}),
        ("hive", {"partition_by": [{"column": "name"}]}),
    ],
)
def test_other_cases_rewrite_and_delete_the_staged_files(lakehouse, tmp_path, catalog, target):
    narrow = pa.table(
        {"id": pa.array([1, 2], pa.int32()), "name": ["a", "b"], "ts": pa.array([1, 2], pa.timestamp("ns"))}
    )
    staged = [spark_output(tmp_path / "spark", f"part-{i}.parquet", narrow) for i in range(2)]
    spec = make_spec(catalog, "t", SOURCE.uri, "csv", **target)

    result = commit_parquet_files(spec.target, "spark-2", lakehouse.open(catalog), staged, [SOURCE])

    assert result.rows_written == 4 and tree(tmp_path / "spark") == []
    back = read_back(tmp_path, catalog, catalog, "t")
    assert sorted(back.column("id").to_pylist()) == [1, 1, 2, 2]
    assert back.schema.field("ts").type == pa.timestamp("us")  # normalized for every format


def test_a_failed_commit_deletes_the_staged_files_and_keeps_the_table(lakehouse, tmp_path, monkeypatch):
    folder = tmp_path / "wh" / "iceberg" / "sales" / "t" / "data" / "spark-3"
    staged = spark_output(folder)
    monkeypatch.setattr(base, "before_commit", lambda table: (_ for _ in ()).throw(RuntimeError("injected")))

    with pytest.raises(CommitFailed, match="injected"):
        commit_parquet_files(
            make_spec("iceberg", "t", SOURCE.uri, "csv").target,
            "spark-3",
            lakehouse.open("iceberg"),
            [staged],
            [SOURCE],
        )

    assert tree(folder) == [] and lakehouse.tree("iceberg") == []  # not even the namespace
