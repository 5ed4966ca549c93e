"""The spark engine with a real spark-submit in local mode (Java 17), into each table format.

Spark starts slowly (about 10 s per spark-submit), so each load runs once per module and several
tests look at it: CSV into Iceberg (also the ledger, retries and a failed job), JSON lines plus a JSON
array into Delta, Parquet into a partitioned Hive-style table. Retries and refusals never start Spark.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyiceberg.catalog.sql import SqlCatalog

from headrace.ingestion.engine import run_ingestion
from headrace.ingestion.engines import engine_for
from headrace.ingestion.results import IngestionFailed, IngestionResult
from headrace.ingestion.spark import JOB_SCRIPT, SparkEngine
from headrace.ingestion.spark.engine import STAGING_FOLDER, pyspark_submit
from headrace.ingestion.spec import IngestionSpec
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import LocalObjectStore

pytestmark = pytest.mark.spark

BUCKET = "raw"
NO_CONNECTION = "headrace_test_no_spark_connection"  # never defined: local mode

CSV_A = (
    "id;name;amount;at\r\n"
    "1;ann, a;1.5;2024-01-01 10:00:00\r\n"
    "2;NA;2;2024-01-02 11:30:00\r\n"
    '3;"cyd;x";NA;2024-01-03 00:00:00\r\n'
)
CSV_B = 'id;name;amount;at\r\n4;"dee ""q""";3;NA\r\n'
CSV_BAD = "id;name;amount;at\r\n5;eve;1.0;2024-01-05 00:00:00;surplus\r\n"
CSV_PROPERTIES = {"field_delimiter": ";", "null_value": "NA"}
JSON_LINES = '{"id": 1, "name": "ann", "info": {"score": 1.5}}\n{"id": 2, "name": "bob"}\n'
JSON_ARRAY = json.dumps([{"id": 3, "name": "cyd", "info": {"score": 2.5}}, {"id": 4}], indent=2)


class Env:
    """One lakehouse (a catalog of each type) and a local object store, shared by the module."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lakehouse = Lakehouse(
            LakehouseSettings(catalog_uri=f"sqlite:///{root / 'c.db'}", warehouse=str(root / "wh"))
        )
        for catalog_type in CatalogType:
            self.lakehouse.create_catalog(catalog_type.value, catalog_type)
        self.store = LocalObjectStore(root / "storage")
        self.store.create_bucket(BUCKET)
        self.engine = SparkEngine(NO_CONNECTION)
        self.timings: list[float] = []

    def put(self, key: str, data: str | bytes) -> str:
        self.store.put(BUCKET, key, io.BytesIO(data.encode() if isinstance(data, str) else data))
        return f"s3://{BUCKET}/{key}"

    def run(self, spec: IngestionSpec, job_id: str, engine: SparkEngine | None = None) -> IngestionResult:
        started = time.monotonic()
        try:
            return (engine or self.engine).run(
                spec, job_id=job_id, lakehouse=self.lakehouse, store=self.store
            )
        finally:
            self.timings.append(time.monotonic() - started)

    def iceberg(self, table: str) -> Any:
        catalog = SqlCatalog(
            "iceberg",
            uri=f"sqlite:///{self.root / 'c.db'}",
            warehouse=(self.root / "wh" / "iceberg").as_uri(),
        )
        return catalog.load_table(("sales", table))

    def delta(self, table: str) -> pa.Table:
        return DeltaTable(str(self.root / "wh" / "delta" / "sales" / table)).to_pyarrow_dataset().to_table()

    def hive(self, table: str) -> pa.Table:
        path = self.root / "wh" / "hive" / "sales" / table
        return ds.dataset(str(path), format="parquet", partitioning="hive").to_table()

    def files_under(self, *parts: str) -> list[str]:
        folder = self.root.joinpath(*parts)
        return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def spec_of(
    catalog: str,
    table: str,
    paths: str | list[str],
    file_type: str,
    *,
    source: dict[str, Any] | None = None,
    execute_config: dict[str, Any] | None = None,
    **target: Any,
) -> IngestionSpec:
    return IngestionSpec.model_validate(
        {
            "target": {"catalog": catalog, "schema": "sales", "table": table, **target},
            "source": {"file_paths": paths, "file_type": file_type, **(source or {})},
            "execute_config": execute_config,
        }
    )


def spark_processes() -> list[psutil.Process]:
    """Spark JVMs or drivers started by this test process that are still running."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spark" in command.lower() or "java" in command.lower():
            found.append(child)
    return found


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    env = Env(tmp_path_factory.mktemp("spark-engine"))
    yield env
    print(f"\nspark engine runs (s): {[round(t, 1) for t in env.timings]}")
    deadline = time.monotonic() + 10
    while spark_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert spark_processes() == [], "a Spark process outlived its job"


@pytest.fixture(scope="module")
def csv_load(env: Env) -> tuple[IngestionSpec, IngestionResult]:
    paths = [env.put("csv/a.csv", CSV_A), env.put("csv/b.csv", CSV_B)]
    spec = spec_of(
        "iceberg", "orders", "s3://raw/csv/*.csv", "csv", source={"file_format_properties": CSV_PROPERTIES}
    )
    result = env.run(spec, "job-csv-1")
    assert result.files == paths
    return spec, result


@pytest.fixture(scope="module")
def json_load(env: Env) -> IngestionResult:
    env.put("json/lines.json", JSON_LINES)
    env.put("json/array.json", JSON_ARRAY)
    return env.run(spec_of("delta", "people", "s3://raw/json/", "json"), "job-json-1")


@pytest.fixture(scope="module")
def parquet_load(env: Env) -> IngestionResult:
    first = pa.table({"id": [1, 2], "region": ["eu", "us"], "amount": [1.5, 2.5]})
    second = pa.table({"id": [3], "region": ["eu"], "amount": [3.5], "extra": pa.array([7], pa.int32())})
    for name, table in (("p1.parquet", first), ("p2.parquet", second)):
        sink = io.BytesIO()
        pq.write_table(table, sink)
        env.put(f"parquet/{name}", sink.getvalue())
    spec = spec_of(
        "hive", "sales", "s3://raw/parquet/*.parquet", "parquet", partition_by=[{"column": "region"}]
    )
    return env.run(spec, "job-parquet-1")


# -- CSV into Iceberg ------------------------------------------------------------------------------


def test_run_ingestion_runs_the_spark_engine_that_engine_id_names(env):
    """What ``engine_id: spark`` does for a user: the job runs on Spark, so Spark's refusals apply."""
    env.put("avro/by-id.avro", b"Obj\x01")
    engine = engine_for("spark", {"arrow": "arrow", "spark": f"spark:{NO_CONNECTION}"})
    spec = spec_of("iceberg", "by_id", "s3://raw/avro/by-id.avro", "avro")

    with pytest.raises(IngestionFailed, match="The spark engine cannot read avro files"):
        run_ingestion(spec, job_id="job-by-id-1", lakehouse=env.lakehouse, store=env.store, engine=engine)


def test_csv_with_a_custom_delimiter_into_iceberg(env, csv_load):
    _, result = csv_load
    assert result.rows_written == 4 and result.committed and not result.already_committed
    table = env.iceberg("orders").scan().to_arrow().sort_by("id")
    assert table.schema.field("id").type == pa.int64()  # Spark's int widened, as the Arrow engine reads it
    assert table.schema.field("at").type == pa.timestamp("us")  # text without zone: no zone
    assert table.to_pylist() == [
        {"id": 1, "name": "ann, a", "amount": 1.5, "at": datetime(2024, 1, 1, 10)},
        {"id": 2, "name": None, "amount": 2.0, "at": datetime(2024, 1, 2, 11, 30)},
        {"id": 3, "name": "cyd;x", "amount": None, "at": datetime(2024, 1, 3)},
        {"id": 4, "name": 'dee "q"', "amount": 3.0, "at": None},
    ]


def test_iceberg_records_the_job_and_adopts_sparks_files(env, csv_load):
    _, result = csv_load
    table = env.iceberg("orders")
    snapshot = table.current_snapshot()
    assert snapshot.summary["headrace.job-id"] == "job-csv-1"
    assert str(snapshot.snapshot_id) == result.version
    data_files = [task.file.file_path for task in table.scan().plan_files()]
    assert data_files and all("/data/spark-job-csv-1/part-" in path for path in data_files)
    # Spark's .crc files and the job's result file are gone; only the adopted data files stay.
    leftovers = env.files_under("wh", "iceberg", "sales", "orders", "data")
    assert leftovers == sorted(f"spark-job-csv-1/{path.rsplit('/', 1)[1]}" for path in data_files)


def test_a_retry_of_the_same_job_id_loads_nothing_twice(env, csv_load):
    spec, result = csv_load
    again = env.run(spec, "job-csv-1")
    assert env.timings[-1] < 5  # answered from the table's ledger: no spark-submit
    assert again.already_committed and again.version == result.version
    assert again.rows_written == result.rows_written == 4
    assert len(env.iceberg("orders").scan().to_arrow()) == 4


def test_a_new_job_skips_files_loaded_before(env, csv_load):
    spec, result = csv_load
    skipped = env.run(spec, "job-csv-2")
    assert env.timings[-1] < 5
    assert (skipped.committed, skipped.rows_written, skipped.files) == (False, 0, [])
    assert skipped.skipped_files == result.files and skipped.version == result.version


def test_a_corrupt_file_fails_the_job_and_leaves_the_table_unchanged(env, csv_load):
    before = env.iceberg("orders").current_snapshot().snapshot_id
    files_before = env.files_under("wh", "iceberg", "sales", "orders")
    good = env.put("bad/good.csv", CSV_B.replace("4;", "6;"))
    bad = env.put("bad/broken.csv", CSV_BAD)
    spec = spec_of("iceberg", "orders", [good, bad], "csv", source={"file_format_properties": CSV_PROPERTIES})

    with pytest.raises(IngestionFailed) as failed:
        env.run(spec, "job-bad-1")

    assert "Spark job failed" in failed.value.message and "Malformed" in failed.value.message
    assert failed.value.file == bad and bad in failed.value.message  # named as the job named it
    assert "\tat " not in failed.value.message and "JVM stacktrace" not in failed.value.message
    assert env.iceberg("orders").current_snapshot().snapshot_id == before
    assert env.files_under("wh", "iceberg", "sales", "orders") == files_before  # no staging left


# -- JSON into Delta, Parquet into Hive-style ------------------------------------------------------


def test_json_lines_and_a_json_array_into_delta(env, json_load):
    assert json_load.rows_written == 4 and len(json_load.files) == 2
    table = env.delta("people").sort_by("id")
    assert table.column("id").to_pylist() == [1, 2, 3, 4]
    assert table.column("name").to_pylist() == ["ann", "bob", "cyd", None]
    assert table.column("info").to_pylist() == [{"score": 1.5}, None, {"score": 2.5}, None]
    history = DeltaTable(str(env.root / "wh" / "delta" / "sales" / "people")).history()
    assert history[0]["headrace.job_id"] == "job-json-1"
    assert not (env.root / "wh" / STAGING_FOLDER).exists()  # staging removed after the commit


def test_parquet_into_a_partitioned_hive_style_table(env, parquet_load):
    assert parquet_load.rows_written == 3
    table = env.hive("sales").sort_by("id")
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert table.column("region").to_pylist() == ["eu", "us", "eu"]
    assert table.column("extra").to_pylist() == [None, None, 7]  # Parquet schemas merged
    folders = {path.split("/")[0] for path in env.files_under("wh", "hive", "sales", "sales")}
    assert {"region=eu", "region=us"} <= folders
    assert not (env.root / "wh" / STAGING_FOLDER).exists()


# -- refusals and failures -------------------------------------------------------------------------


def test_avro_is_refused_before_anything_runs(env):
    env.put("avro/rows.avro", b"Obj\x01")
    with pytest.raises(IngestionFailed, match="spark-avro"):
        env.run(spec_of("iceberg", "avro_rows", "s3://raw/avro/rows.avro", "avro"), "job-avro-1")
    assert env.timings[-1] < 5


def test_a_failing_spark_submit_reports_its_output_and_cleans_up(env, parquet_load):
    engine = SparkEngine(NO_CONNECTION, local_master="nowhere")  # spark-submit refuses the master
    spec = spec_of("hive", "never", "s3://raw/parquet/p1.parquet", "parquet")
    with pytest.raises(IngestionFailed, match=r"spark-submit failed: .*Master must either be"):
        env.run(spec, "job-nowhere-1", engine)
    assert not (env.root / "wh" / "hive" / "sales" / "never").exists()
    assert not (env.root / "wh" / STAGING_FOLDER).exists()


# -- hook configuration (no spark-submit) ----------------------------------------------------------


def command(
    engine: SparkEngine, spec: IngestionSpec, args_file: Path = Path("/tmp/x/args.json")
) -> tuple[list[str], dict[str, str]]:
    hook, env = engine.submit_hook(spec, "tok", args_file)
    return hook._build_spark_submit_command(str(JOB_SCRIPT)), env


def conf_values(cmd: list[str]) -> dict[str, str]:
    pairs = [cmd[i + 1].split("=", 1) for i, arg in enumerate(cmd) if arg == "--conf"]
    return dict(pairs)


EXECUTE = {
    "driver_memory": "1G",
    "driver_cores": 1,
    "executor_memory": "2G",
    "executor_cores": 3,
    "num_executors": 4,
}


def test_without_a_spark_connection_the_job_runs_locally():
    spec = spec_of("iceberg", "t", "s3://raw/x.csv", "csv", execute_config=EXECUTE)
    cmd, env = command(SparkEngine(NO_CONNECTION), spec)
    binary, home = pyspark_submit()
    assert cmd[0] == binary and env["SPARK_HOME"] == home
    assert cmd[cmd.index("--master") + 1] == "local[*]"
    assert cmd[-2:] == [str(JOB_SCRIPT), "/tmp/x/args.json"]
    conf = conf_values(cmd)
    assert conf["spark.ui.enabled"] == "false" and conf["spark.driver.cores"] == "1"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert conf["spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs"] == "false"
    assert conf["spark.pyspark.python"] == conf["spark.pyspark.driver.python"]
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    for flag, value in [
        ("--driver-memory", "1G"),
        ("--executor-memory", "2G"),
        ("--executor-cores", "3"),
        ("--num-executors", "4"),
    ]:
        assert cmd[cmd.index(flag) + 1] == value
    assert "--packages" not in cmd and "--deploy-mode" not in cmd


def test_a_spark_connection_names_the_master_and_may_name_the_binary(monkeypatch):
    spec = spec_of("iceberg", "t", "s3://raw/x.csv", "csv")
    connection = {"conn_type": "spark", "host": "spark://master", "port": 7077}
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps(connection))
    monkeypatch.delenv("SPARK_LOCAL_IP", raising=False)

    cmd, env = command(SparkEngine(), spec)
    assert cmd[0] == pyspark_submit()[0]
    assert cmd[cmd.index("--master") + 1] == "spark://master:7077"
    conf = conf_values(cmd)
    assert "spark.pyspark.python" not in conf and "SPARK_LOCAL_IP" not in env
    assert "spark.pyspark.driver.python" in conf  # client mode: the driver runs on this worker

    extra = {"spark-binary": "spark3-submit", "deploy-mode": "cluster"}
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", json.dumps({**connection, "extra": extra}))
    monkeypatch.delenv("SPARK_HOME", raising=False)
    cmd, env = command(SparkEngine(), spec)
    assert cmd[0] == "spark3-submit" and "SPARK_HOME" not in env
    assert cmd[cmd.index("--deploy-mode") + 1] == "cluster"
    assert cmd[cmd.index("--files") + 1] == "/tmp/x/args.json" and cmd[-1] == "args.json"
    assert "spark.pyspark.driver.python" not in conf_values(cmd)
