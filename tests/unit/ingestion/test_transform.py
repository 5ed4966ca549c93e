"""SQL transforms (DuckDB engine) into real Iceberg, Delta and Hive-style tables, and the two operators.

Sources are an Iceberg ``orders`` table and a Delta ``countries`` table; each target is read back
with its own library (pyiceberg, deltalake, pyarrow). The operators run their real ``execute`` on a
lakehouse configured through ``[headrace]`` settings; only the task instance is a stand-in that
records XComs (a DAG run would need a migrated metadata DB and a DAG bundle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from airflow.sdk.exceptions import AirflowFailException

from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.transform import ERROR_XCOM_KEY, run_transform
from headrace.lakehouse.models import CatalogType
from headrace.lakehouse.service import Lakehouse
from headrace.lakehouse.sql import QueryError
from headrace.operators.checks import REPORT_XCOM_KEY, TableCheckOperator
from headrace.operators.transform import SqlTransformOperator
from tests.unit.ingestion.helpers import read_back, tree

FORMATS = [t.value for t in CatalogType]
ORDERS = pa.table(
    {"id": [1, 2, 3, 4], "country": ["de", "fr", "de", "xx"], "amount": [10.0, 20.0, None, 5.0]}
)
COUNTRIES = pa.table({"code": ["de", "fr"], "name": ["Germany", "France"]})
JOINED = (
    "SELECT o.id, c.name AS country, coalesce(o.amount, 0) * 2 AS doubled "
    "FROM iceberg.src.orders o JOIN delta.src.countries c ON o.country = c.code"
)  # ids 1, 2, 3
# DuckDB reads 1.0 as a decimal; a double column takes doubles only
UPDATES = "SELECT 3 AS id, 'Spain' AS country, 1e0 AS doubled UNION ALL SELECT 9, 'Italy', 2e0"


@pytest.fixture
def lakehouse(lakehouse: Lakehouse) -> Lakehouse:
    """The shared lakehouse (tests/unit/conftest.py) with the two source tables."""
    lakehouse.write("iceberg", "src", "orders", ORDERS)
    lakehouse.write("delta", "src", "countries", COUNTRIES)
    return lakehouse


def rows(tmp_path: Path, catalog: str, table: str = "out") -> list[tuple[Any, ...]]:
    back = read_back(tmp_path, catalog, catalog, table).sort_by("id")
    return list(zip(*(back.column(name).to_pylist() for name in ("id", "country", "doubled")), strict=True))


BEFORE = [(1, "Germany", 20.0), (2, "France", 40.0), (3, "Germany", 0.0)]
MERGED = [(1, "Germany", 20.0), (2, "France", 40.0), (3, "Spain", 1.0), (9, "Italy", 2.0)]


@pytest.mark.parametrize("catalog", FORMATS)
@pytest.mark.parametrize(
    ("mode", "expected_new", "expected_existing"),
    [
        (
            "append",
            [(3, "Spain", 1.0), (9, "Italy", 2.0)],
            sorted([*BEFORE, (3, "Spain", 1.0), (9, "Italy", 2.0)]),
        ),
        ("overwrite", [(3, "Spain", 1.0), (9, "Italy", 2.0)], [(3, "Spain", 1.0), (9, "Italy", 2.0)]),
        ("merge", [(3, "Spain", 1.0), (9, "Italy", 2.0)], MERGED),
    ],
)
def test_write_modes_into_a_new_and_an_existing_table(
    lakehouse, tmp_path, catalog, mode, expected_new, expected_existing
):
    keys = ["id"] if mode == "merge" else None
    new = run_transform(
        UPDATES, f"{catalog}.sales.fresh", lakehouse=lakehouse, job_id="new", write_mode=mode, merge_keys=keys
    )
    first = run_transform(JOINED, f"{catalog}.sales.out", lakehouse=lakehouse, job_id="first")
    second = run_transform(
        UPDATES,
        f"{catalog}.sales.out",
        lakehouse=lakehouse,
        job_id="second",
        write_mode=mode,
        merge_keys=keys,
    )

    assert rows(tmp_path, catalog, "fresh") == expected_new
    assert sorted(rows(tmp_path, catalog)) == expected_existing
    assert (new.rows_written, first.rows_written, second.rows_written) == (2, 3, 2)
    assert second.records_processed == 2 and second.engine == "arrow" and second.job_id == "second"
    assert second.target == f"{catalog}.sales.out" and not second.already_committed
    assert second.version is not None and second.version != first.version


@pytest.mark.parametrize("catalog", FORMATS)
def test_a_retry_with_the_same_job_id_writes_nothing(lakehouse, tmp_path, catalog):
    first = run_transform(
        JOINED, f"{catalog}.sales.out", lakehouse=lakehouse, job_id="j", write_mode="append"
    )
    files = tree(tmp_path / "wh")

    again = run_transform(
        JOINED, f"{catalog}.sales.out", lakehouse=lakehouse, job_id="j", write_mode="append"
    )

    assert again.already_committed and (again.version, again.rows_written) == (first.version, 3)
    assert tree(tmp_path / "wh") == files and len(rows(tmp_path, catalog)) == 3


@pytest.mark.parametrize("catalog", FORMATS)
@pytest.mark.parametrize(
    ("sql", "words"),
    [
        (
            "SELECT id, CAST(country AS INTEGER) AS country, 1.0 AS doubled FROM iceberg.src.orders",
            "Conversion",
        ),
        ("SELECT id, colour FROM iceberg.src.orders", "colour"),
        ("SELECT id, 'x' AS country, 1 AS doubled FROM iceberg.src.missing", "iceberg.src.missing"),
    ],
)
def test_a_failing_query_leaves_the_target_unchanged(lakehouse, tmp_path, catalog, sql, words):
    run_transform(JOINED, f"{catalog}.sales.out", lakehouse=lakehouse, job_id="first")
    files = tree(tmp_path / "wh")

    with pytest.raises(QueryError, match=words) as raised:
        run_transform(sql, f"{catalog}.sales.out", lakehouse=lakehouse, job_id="second")

    assert raised.value.field == "sql"
    assert tree(tmp_path / "wh") == files and rows(tmp_path, catalog) == BEFORE


def test_a_failing_commit_leaves_the_target_unchanged(lakehouse, tmp_path):
    run_transform(JOINED, "delta.sales.out", lakehouse=lakehouse, job_id="first")
    files = tree(tmp_path / "wh")
    duplicates = "SELECT 1 AS id, 'a' AS country, 1e0 AS doubled UNION ALL SELECT 1, 'b', 2e0"

    with pytest.raises(IngestionFailed, match="not unique"):
        run_transform(
            duplicates,
            "delta.sales.out",
            lakehouse=lakehouse,
            job_id="x",
            write_mode="merge",
            merge_keys=["id"],
        )

    assert tree(tmp_path / "wh") == files and rows(tmp_path, "delta") == BEFORE


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM iceberg.src.orders",
        "INSERT INTO iceberg.src.orders VALUES (5, 'de', 1.0)",
        "CREATE TABLE iceberg.src.x AS SELECT 1",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT 1; DROP TABLE iceberg.src.orders",
    ],
)
def test_non_read_only_sql_is_refused_before_anything_is_written(lakehouse, tmp_path, sql):
    with pytest.raises(QueryError) as raised:
        run_transform(sql, "hive.sales.out", lakehouse=lakehouse, job_id="j")

    assert raised.value.field == "sql" and raised.value.code in ("READ_ONLY", "MULTIPLE_STATEMENTS")
    assert not (tmp_path / "wh" / "hive" / "sales").exists()


@pytest.mark.parametrize(
    ("target", "options", "field"),
    [
        ("out", {}, "target"),
        ("sales.out", {}, "target"),
        ("hive.sales.bad name", {}, "target"),
        ("hive.sales.out", {"write_mode": "upsert"}, "write_mode"),
        ("hive.sales.out", {"write_mode": "merge"}, "merge_keys"),
        ("hive.sales.out", {"write_mode": "merge", "merge_keys": [""]}, "merge_keys"),
    ],
)
def test_bad_targets_name_their_field(lakehouse, target, options, field):
    with pytest.raises(QueryError) as raised:
        run_transform("SELECT 1 AS id", target, lakehouse=lakehouse, job_id="j", **options)

    assert raised.value.field == field


def test_other_refusals(lakehouse):
    with pytest.raises(IngestionFailed, match="Catalog 'nope' not found"):
        run_transform("SELECT 1 AS id", "nope.sales.out", lakehouse=lakehouse, job_id="j")
    with pytest.raises(IngestionFailed, match="Unknown engine_id 'gpu'"):
        run_transform("SELECT 1 AS id", "hive.sales.out", lakehouse=lakehouse, job_id="j", engine_id="gpu")
    with pytest.raises(IngestionFailed, match="Invalid job id"):
        run_transform("SELECT 1 AS id", "hive.sales.out", lakehouse=lakehouse, job_id="a b")
    with pytest.raises(QueryError, match="more than once"):
        run_transform("SELECT 1 AS id, 2 AS ID", "hive.sales.out", lakehouse=lakehouse, job_id="j")
    with pytest.raises(IngestionFailed, match="Merge key 'id' is not a column"):
        run_transform(
            "SELECT 1 AS x",
            "hive.sales.o",
            lakehouse=lakehouse,
            job_id="j",
            write_mode="merge",
            merge_keys=["id"],
        )


def test_default_catalog_for_tables_and_target(lakehouse, tmp_path):
    result = run_transform(
        "SELECT id, 'c' AS country, amount AS doubled FROM src.orders WHERE amount > 6",
        "sales.out",
        lakehouse=lakehouse,
        job_id="j",
        default_catalog="iceberg",
    )

    assert result.target == "iceberg.sales.out" and rows(tmp_path, "iceberg") == [
        (1, "c", 10.0),
        (2, "c", 20.0),
    ]


# ----------------------------------------------------------------------------------------- operators
class RecordingTaskInstance:
    """Stands in for Airflow's task instance: the operators only read ids and push XComs."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.map_index = -1
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def run_task(
    operator, run_id: str = "manual__2025-06-01T00:00:00+00:00"
) -> tuple[Any, RecordingTaskInstance]:
    ti = RecordingTaskInstance(operator.task_id)
    context = {"run_id": run_id, "ti": ti, "ds": "2025-06-01", "params": operator.params}
    operator.render_template_fields(context)
    return operator.execute(context), ti


@pytest.fixture
def configured(lakehouse, tmp_path, monkeypatch) -> Lakehouse:
    """The lakehouse as the operators' LakehouseHook finds it: through ``[headrace]`` settings."""
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFAULT_ENGINE", "arrow")
    return lakehouse


def test_sql_transform_operator_writes_once_per_run_and_task(configured, tmp_path):
    def operator() -> SqlTransformOperator:
        return SqlTransformOperator(
            task_id="load_out",
            sql="SELECT id, country, amount AS doubled FROM src.orders WHERE id <= {{ params.top }}",
            target="{{ params.schema }}.out",
            write_mode="append",
            default_catalog="iceberg",
            params={"top": 2, "schema": "sales"},
        )

    result, ti = run_task(operator())
    rerun, _ = run_task(operator())
    other_run, _ = run_task(operator(), run_id="scheduled__2025-06-02T00:00:00+00:00")

    assert result["records_processed"] == result["rows_written"] == 2 and not result["already_committed"]
    assert result["job_id"].startswith("manual__2025-06-01T00_00_00_00_00.load_out")
    assert set(result) == {
        "target", "rows_written", "records_processed", "version", "duration_seconds", "engine", "job_id",
        "already_committed",
    }  # fmt: skip
    assert rerun["already_committed"] and rerun["version"] == result["version"]
    assert other_run["job_id"] != result["job_id"] and not other_run["already_committed"]
    assert len(rows(tmp_path, "iceberg")) == 4 and ti.xcom == {}


def test_sql_transform_operator_fails_without_retry_naming_the_field(configured):
    operator = SqlTransformOperator(task_id="bad", sql="DROP TABLE iceberg.src.orders", target="hive.s.t")

    with pytest.raises(AirflowFailException, match=r"^sql: Only read-only") as raised:
        run_task(operator)

    assert "DROP" in str(raised.value)


def test_table_check_operator_returns_the_report_or_fails_with_it(configured):
    passing = TableCheckOperator(
        task_id="check_orders",
        table="iceberg.src.orders",
        checks=[{"type": "unique", "columns": ["id"]}, {"type": "row_count", "min": 1}],
    )
    failing = TableCheckOperator(
        task_id="check_countries",
        table="{{ params.table }}",
        default_catalog="iceberg",
        checks=[
            {"type": "not_null", "columns": ["amount"]},
            {"type": "accepted_values", "column": "country", "values": ["de", "fr"]},
        ],
        params={"table": "src.orders"},
    )

    report, _ = run_task(passing)
    with pytest.raises(AirflowFailException) as raised:
        run_task(failing)

    assert report["records_processed"] == 4 and report["failed"] == 0 and len(report["checks"]) == 2
    message = str(raised.value)
    assert "2 of 2 check(s) failed on iceberg.src.orders" in message
    assert "not_null (1 failing row(s))" in message and "accepted_values (1 failing row(s))" in message


def test_table_check_operator_pushes_the_report_of_a_failure(configured):
    operator = TableCheckOperator(
        task_id="c", table="iceberg.src.orders", checks=[{"type": "row_count", "max": 1}]
    )
    ti = RecordingTaskInstance("c")

    with pytest.raises(AirflowFailException):
        operator.execute({"run_id": "r", "ti": ti})

    assert ti.xcom[REPORT_XCOM_KEY]["checks"] == [
        {"type": "row_count", "passed": False, "failing_rows": 3, "message": "4 row(s); at most 1 expected"}
    ]
    assert ti.xcom[REPORT_XCOM_KEY]["failed"] == 1 and ERROR_XCOM_KEY not in ti.xcom


def test_a_bad_check_is_an_error_when_the_dag_is_built():
    with pytest.raises(ValueError, match=r"checks\[0\]\.columns"):
        TableCheckOperator(task_id="c", table="a.b.c", checks=[{"type": "unique", "columns": []}])
    with pytest.raises(ValueError, match="checks"):
        TableCheckOperator(task_id="c", table="a.b.c", checks=[{"type": "median"}])


def test_a_string_filter_reads_a_merged_delta_table(lakehouse, tmp_path):
    """delta-rs merges write string_view files; queries and transforms filter such tables all the same."""
    run_transform(JOINED, "delta.sales.out", lakehouse=lakehouse, job_id="first")
    run_transform(
        UPDATES, "delta.sales.out", lakehouse=lakehouse, job_id="merge", write_mode="merge", merge_keys=["id"]
    )

    found = lakehouse.query("SELECT id FROM delta.sales.out WHERE country = 'Spain' OR country = 'Italy'")
    assert sorted(r[0] for r in found.rows) == [3, 9]
    run_transform(
        "SELECT * FROM delta.sales.out WHERE country <> 'Germany'",
        "delta.sales.copy",
        lakehouse=lakehouse,
        job_id="c",
    )
    assert sorted(read_back(tmp_path, "delta", "delta", "copy").column("id").to_pylist()) == [2, 3, 9]
