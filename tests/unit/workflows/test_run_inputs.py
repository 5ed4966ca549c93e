"""What run input may reach: identifier params (checked, quoted), no templated connection ids."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot

from headrace.workflows.builder import build_dag
from headrace.workflows.identifiers import identifier, select_all
from headrace.workflows.model import ParamSpec, param_problems
from headrace.workflows.plan import plan_data
from headrace.workflows.render import render
from headrace.workflows.run_inputs import connection_problems, sql_problems
from headrace.workflows.source import DefinitionError
from tests.unit.workflows.test_loader_and_render import _comparable, dagbag

TRANSFER = "airflow.providers.common.sql.operators.generic_transfer.GenericTransfer"
PARAMS = {
    "table": ParamSpec(type="identifier"),
    "city": ParamSpec(type="string"),
    "status": ParamSpec(type="string", enum=["new", "paid"]),
    "limit": ParamSpec(type="integer", default=10),
}


@pytest.mark.parametrize(
    ("value", "dialect", "sql"),
    [
        ("orders", None, '"orders"'),
        ("sales.orders", "postgres", '"sales"."orders"'),
        ("lake.sales.orders", "mysql", "`lake`.`sales`.`orders`"),
        ("dbo.Orders", "tsql", "[dbo].[Orders]"),
    ],
)
def test_the_identifier_filter_quotes_every_part(value: str, dialect: str | None, sql: str) -> None:
    assert identifier(value, dialect) == sql


@pytest.mark.parametrize(
    "value", ["x; DROP TABLE y", 'a"b', "a.b.c.d", "1abc", "", "a..b", "a b", None, 3, "orders\n"]
)
def test_the_identifier_filter_refuses_anything_else(value: object) -> None:
    with pytest.raises(ValueError, match="not an identifier"):
        identifier(value)


def test_select_all_is_built_by_sqlglot() -> None:
    assert select_all("sales") == "SELECT * FROM sales"
    [statement] = sqlglot.parse(select_all("c.s.a-b", "duckdb", quoted=True), read="duckdb")
    assert statement.sql(dialect="duckdb") == 'SELECT * FROM "c"."s"."a-b"'


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("SELECT * FROM {{ params.table | identifier }}", None),
        ("SELECT * FROM {{ params['table'] | identifier('postgres') }}", None),
        ("SELECT * FROM t WHERE status = '{{ params.status }}' LIMIT {{ params.limit }}", None),
        ("SELECT * FROM t WHERE day = '{{ ds }}'", None),
        ("SELECT * FROM {{ params.table }}", "params.table is a name: write {{ params.table | identifier }}"),
        ("SELECT * FROM {{ params.table | lower }}", "params.table is a name"),
        ("SELECT * FROM t WHERE c = '{{ params.city }}'", "params.city (type string) may not reach SQL"),
        ("SELECT * FROM {{ params.city | identifier }}", "declare it type: identifier"),
        ("SELECT * FROM {{ params.nope }}", "params.nope is not a declared param"),
        ("SELECT * FROM {{ params[name] }}", "params may only be used by name"),
        ("{% for k in params %}{{ k }}{% endfor %}", "params may only be used by name"),
        ("SELECT * FROM {{ dag_run.conf['t'] }}", "dag_run.conf is unchecked run input"),
        ("SELECT {{ params.table", "invalid template"),
    ],
)
def test_sql_takes_only_params_that_cannot_change_the_statement(sql: str, problem: str | None) -> None:
    problems = sql_problems(sql, PARAMS)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_connection_ids_may_not_be_templated() -> None:
    problems = connection_problems(
        {"conn_id": "{{ var.value.db }}", "aws_conn_ids": ["a", "{{ params.b }}"], "sql": "{{ params.x }}"}
    )
    assert [p.split(":")[0] for p in problems] == ["conn_id", "aws_conn_ids"]
    assert connection_problems({"source_conn_id": "pg_prod", "destination_conn_id": "mysql_default"}) == []


def test_identifier_params_are_checked_by_the_model() -> None:
    assert param_problems(PARAMS, {"table": "sales.orders"}) == []
    [(name, message)] = param_problems(PARAMS, {"table": "x; DROP TABLE y"})
    assert name == "table" and message.startswith("must be an identifier")
    with pytest.raises(ValueError, match="not an identifier"):
        ParamSpec(type="identifier", default="not a name")


def _transfer(sql: str, **arguments: str) -> dict:
    return {
        "id": "copy",
        "params": {"table": {"type": "identifier", "default": "sales"}},
        "steps": [
            {
                "id": "transfer",
                "kind": "operator",
                "operator": TRANSFER,
                "arguments": {
                    "sql": sql,
                    "destination_table": "{{ params.table | identifier('mysql') }}",
                    "source_conn_id": "pg",
                    "destination_conn_id": "my",
                    **arguments,
                },
            }
        ],
    }


def test_planning_refuses_each_unsafe_use_at_its_field() -> None:
    data = _transfer("SELECT * FROM {{ params.table }}", source_conn_id="{{ params.table }}")
    with pytest.raises(DefinitionError) as caught:
        plan_data(data, "inline")
    assert {p.field for p in caught.value.problems} == {"steps.0.arguments"}

    data = _transfer("SELECT * FROM {{ params.table }}")
    with pytest.raises(DefinitionError) as caught:
        plan_data(data, "inline")
    assert [p.field for p in caught.value.problems] == ["steps.0.arguments.sql"]

    transform = {"id": "m", "kind": "transform", "target": "l.s.t", "sql": "SELECT '{{ params.x }}'"}
    with pytest.raises(DefinitionError, match=r"steps\.0\.sql: params\.x is not a declared param"):
        plan_data({"id": "t", "steps": [transform]}, "inline")


def test_a_template_cannot_smuggle_params_into_sql() -> None:
    step = {
        "id": "model",
        "kind": "template",
        "template": "transform_check",
        "parameters": {
            "sql": "SELECT * FROM {{ params.t }}",
            "target": "l.s.t",
            "checks": [{"type": "row_count", "min": 1}],
        },
    }
    with pytest.raises(DefinitionError, match=r"steps\.0: template transform_check: params\.t is not"):
        plan_data({"id": "t", "steps": [step]}, "inline")


def test_the_dag_checks_and_quotes_the_identifier(tmp_path: Path) -> None:
    plan = plan_data(_transfer("SELECT * FROM {{ params.table | identifier('postgres') }}"), "inline")
    dag = build_dag(plan)
    param = dag.params.get_param("table")
    assert param.schema["type"] == "string" and param.schema["pattern"].startswith("^[A-Za-z_]")
    task = dag.get_task("transfer")
    env = dag.get_template_env()
    assert task.render_template(task.sql, {"params": {"table": "s.t"}}, env) == 'SELECT * FROM "s"."t"'
    with pytest.raises(ValueError, match="not an identifier"):
        task.render_template(task.sql, {"params": {"table": "t; DROP TABLE u"}}, env)

    rendered = tmp_path / "copy.py"
    rendered.write_text(render(plan))
    assert "from headrace.workflows.identifiers import identifier" in rendered.read_text()
    bag = dagbag(tmp_path)
    assert not bag.import_errors, bag.import_errors
    from_file = bag.dags["copy"]
    assert from_file.user_defined_filters == {"identifier": identifier}
    assert _comparable(from_file) == _comparable(dag)


def test_a_dag_without_identifier_params_gets_no_filter() -> None:
    data = {"id": "plain", "steps": [{"id": "a", "kind": "bash", "bash_command": "echo"}]}
    plan = plan_data(data, "inline")
    assert plan.filters == () and build_dag(plan).user_defined_filters is None
    assert "identifiers" not in render(plan)
