"""Drafting a workflow definition from one sentence: the grammar, its warnings, and a valid result."""

from __future__ import annotations

import pytest

from headrace.workflows.drafting import GENERIC_TRANSFER, Draft, DraftError, default_vocabulary, draft
from headrace.workflows.model import WorkflowDefinition
from headrace.workflows.plan import plan_data

SALES = "Load sales data from PostgreSQL to ClickHouse daily"
ORDERS = (
    "Ingest s3://raw/orders/*.csv into iceberg_data.sales.orders every hour, then check order_id is unique"
)


def vocabulary(**connections: list[str]):
    return default_vocabulary(catalogs=["iceberg_data"], connections=connections)


def valid(result: Draft) -> Draft:
    """The draft's definition passes the same checks a definition file does, operators included."""
    WorkflowDefinition.model_validate(result.definition)
    plan_data(result.definition, "draft")
    return result


def checks_of(result: Draft) -> list[dict]:
    (step,) = [s for s in result.definition["steps"] if s["kind"] == "check"]
    return step["checks"]


def test_a_database_to_database_sentence_becomes_a_generic_transfer():
    result = valid(draft(SALES, vocabulary(), project="sales"))

    definition = result.definition
    assert result.name == definition["id"] == "sales_postgres_to_clickhouse"
    assert result.description == definition["description"] == "PostgreSQL to ClickHouse sync"
    assert definition["schedule"] == "@daily"
    assert definition["tags"] == ["generated"]
    assert definition["project"] == "sales"
    assert definition["paused"] is True
    (step,) = definition["steps"]
    assert step["kind"] == "operator"
    assert step["operator"] == GENERIC_TRANSFER
    assert step["arguments"] == {
        "sql": "SELECT * FROM sales",
        "destination_table": "sales",
        "source_conn_id": "postgres_default",
        "destination_conn_id": "clickhouse_default",
    }
    # No connection exists: connection ids are never run parameters (whoever triggers a run must not
    # pick the database); the draft uses Airflow's default names and says what to create or name.
    assert "params" not in definition
    assert any(w.startswith("source_conn_id:") and '"postgres_default"' in w for w in result.warnings)
    assert any(w.startswith("destination_conn_id:") and "clickhouse" in w for w in result.warnings)
    assert not any(w.startswith("could not place") for w in result.warnings)


def test_the_only_connection_of_a_type_is_used():
    result = valid(draft(SALES, vocabulary(postgres=["pg_prod"], clickhouse=["ch_a", "ch_b"])))

    arguments = result.definition["steps"][0]["arguments"]
    assert arguments["source_conn_id"] == "pg_prod"
    assert arguments["destination_conn_id"] == "clickhouse_default"
    assert "params" not in result.definition
    assert not any("source_conn_id" in w for w in result.warnings)
    assert any("ch_a, ch_b" in w and "does not exist" in w for w in result.warnings)


def test_the_sentence_may_name_the_connection():
    sentence = "Load sales data from PostgreSQL connection pg_b to ClickHouse conn ch_a daily"
    result = valid(draft(sentence, vocabulary(postgres=["pg_a", "pg_b"], clickhouse=["ch_a", "ch_b"])))

    arguments = result.definition["steps"][0]["arguments"]
    assert (arguments["source_conn_id"], arguments["destination_conn_id"]) == ("pg_b", "ch_a")
    assert not any("conn_id" in w or w.startswith("could not place") for w in result.warnings)


def test_without_a_table_noun_the_table_is_a_parameter():
    result = valid(draft("Copy from mysql to postgres", vocabulary(mysql=["m"], postgres=["p"])))

    arguments = result.definition["steps"][0]["arguments"]
    # A name from the run: checked as an identifier, quoted in each database's own way.
    assert arguments["sql"] == "SELECT * FROM {{ params.table | identifier('mysql') }}"
    assert arguments["destination_table"] == "{{ params.table | identifier('postgres') }}"
    assert result.definition["params"]["table"]["type"] == "identifier"
    assert any('"table"' in w for w in result.warnings)


def test_a_table_from_the_sentence_is_quoted_by_sqlglot_when_it_needs_it():
    sentence = "Copy from postgres table raw.order-items to mysql table marts.items"
    result = valid(draft(sentence, vocabulary(mysql=["m"], postgres=["p"])))
    arguments = result.definition["steps"][0]["arguments"]
    assert arguments["sql"] == 'SELECT * FROM raw."order-items"'
    assert arguments["destination_table"] == "marts.items"


def test_files_into_a_lakehouse_table_with_a_check():
    result = valid(draft(ORDERS, vocabulary()))

    assert result.warnings == []
    definition = result.definition
    assert definition["schedule"] == "@hourly"
    ingest, check = definition["steps"]
    assert ingest["kind"] == "ingest"
    assert ingest["source"] == {"file_paths": "s3://raw/orders/*.csv", "file_type": "csv"}
    assert ingest["target"] == {"catalog": "iceberg_data", "schema": "sales", "table": "orders"}
    assert check["kind"] == "check"
    assert check["table"] == "iceberg_data.sales.orders"
    assert check["checks"] == [{"type": "unique", "columns": ["order_id"]}]
    assert check["depends_on"] == [ingest["id"]]


def test_file_type_from_a_word_and_a_two_part_table_in_the_only_catalog():
    result = valid(draft("load json files from s3://raw/events/ into table events.raw hourly", vocabulary()))

    (ingest,) = result.definition["steps"]
    assert ingest["source"] == {"file_paths": "s3://raw/events/", "file_type": "json"}
    assert ingest["target"]["catalog"] == "iceberg_data"
    assert result.warnings == ['assumed catalog "iceberg_data" for "events.raw" (the only known catalog)']


def test_an_unknown_catalog_is_used_with_a_warning():
    result = valid(draft("Ingest s3://raw/o/*.parquet into lake.sales.orders", vocabulary()))

    assert result.definition["steps"][0]["target"]["catalog"] == "lake"
    assert any('catalog "lake"' in w and "not a known" in w for w in result.warnings)


def test_words_no_rule_uses_are_listed():
    result = valid(draft(SALES + " with magic compression, somehow", vocabulary()))

    assert 'could not place "magic compression"' in result.warnings
    assert 'could not place "somehow"' in result.warnings


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("check that id and email are not null", [{"type": "not_null", "columns": ["id", "email"]}]),
        (
            "check status in (new, paid, shipped)",
            [{"type": "accepted_values", "column": "status", "values": ["new", "paid", "shipped"]}],
        ),
        (
            "check status is one of new, paid",
            [{"type": "accepted_values", "column": "status", "values": ["new", "paid"]}],
        ),
        ("check at least 100 rows", [{"type": "row_count", "min": 100}]),
        ("ensure between 10 and 1,000 rows", [{"type": "row_count", "min": 10, "max": 1000}]),
        (
            "check updated_at is fresher than 1 day",
            [{"type": "freshness", "column": "updated_at", "max_age_seconds": 86400}],
        ),
        (
            "verify updated_at within 6 hours",
            [{"type": "freshness", "column": "updated_at", "max_age_seconds": 21600}],
        ),
        (
            "check order_id is unique and status is one of new, paid; make sure the table is not empty",
            [
                {"type": "unique", "columns": ["order_id"]},
                {"type": "accepted_values", "column": "status", "values": ["new", "paid"]},
                {"type": "row_count", "min": 1},
            ],
        ),
    ],
)
def test_checks(clause, expected):
    result = valid(draft(f"Ingest s3://raw/o/*.csv into iceberg_data.s.o, then {clause}", vocabulary()))

    assert checks_of(result) == expected
    assert result.warnings == []


@pytest.mark.parametrize(
    ("words", "schedule"),
    [
        ("daily at 2am", "0 2 * * *"),
        ("at 02:00 daily", "0 2 * * *"),
        ("every day at 14:30", "30 14 * * *"),
        ("every 15 minutes", "every 15 minutes"),
        ("every hour", "@hourly"),
        ("weekly", "@weekly"),
        ("every monday at 9pm", "0 21 * * 1"),
        ('on cron "*/5 * * * *"', "*/5 * * * *"),
        ("", None),
    ],
)
def test_schedules(words, schedule):
    result = valid(draft(f"Load s3://raw/o/*.csv into iceberg_data.s.o {words}", vocabulary()))

    assert result.definition["schedule"] == schedule
    assert result.warnings == []


def test_a_transform_needs_explicit_sql():
    sentence = (
        "Ingest s3://raw/o/*.csv into iceberg_data.s.o, then aggregate totals into iceberg_data.marts.totals "
        "with sql `SELECT day, sum(amount) AS total FROM iceberg_data.s.o GROUP BY day`, "
        "then check day is unique"
    )
    result = valid(draft(sentence, vocabulary()))

    ingest, transform, check = result.definition["steps"]
    assert transform["kind"] == "transform"
    assert transform["sql"] == "SELECT day, sum(amount) AS total FROM iceberg_data.s.o GROUP BY day"
    assert transform["target"] == "iceberg_data.marts.totals"
    assert transform["depends_on"] == [ingest["id"]]
    assert check["table"] == "iceberg_data.marts.totals"
    assert check["depends_on"] == [transform["id"]]
    # Without SQL nothing is invented: the words stay unplaced.
    plain = draft("Ingest s3://raw/o/*.csv into iceberg_data.s.o, then aggregate totals by day", vocabulary())
    assert [s["kind"] for s in plain.definition["steps"]] == ["ingest"]
    assert plain.warnings == ['could not place "aggregate totals by day"']


def test_what_headrace_cannot_express_is_an_error_naming_it():
    with pytest.raises(DraftError, match="cannot load from PostgreSQL into a lakehouse table"):
        draft("Copy customers from Postgres into iceberg_data.crm.customers", vocabulary())
    with pytest.raises(DraftError, match="file type is unknown"):
        draft("Copy s3://raw/x/ into iceberg_data.a.b", vocabulary())
    with pytest.raises(DraftError, match=r'cannot ingest from "orders\.csv"'):
        draft("Load orders.csv into iceberg_data.a.b", vocabulary())


def test_gibberish_is_an_error_saying_what_is_expected():
    with pytest.raises(DraftError, match=r"expected a source .* and a target") as caught:
        draft("blorp zzz quux", vocabulary())
    assert 'could not place "blorp zzz quux"' in str(caught.value)
    with pytest.raises(DraftError):
        draft("   ", vocabulary())


def test_the_same_sentence_gives_the_same_draft():
    sentence = ORDERS + " and check that id is not null at 2am, with extra words"
    first = draft(sentence, vocabulary())

    assert all(draft(sentence, vocabulary()) == first for _ in range(3))


def test_workflow_id_overrides_the_name():
    result = valid(draft(SALES, vocabulary(), workflow_id="my.sync-1"))

    assert result.definition["id"] == "my.sync-1"
    assert result.name == "sales_postgres_to_clickhouse"
    with pytest.raises(DraftError, match="not a valid workflow id"):
        draft(SALES, vocabulary(), workflow_id="bad id!")
