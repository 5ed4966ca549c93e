"""Run parameters never become SQL and never choose a connection.

Replays the finding "run parameters reach SQL and choose connections": a pipeline drafted from
"copy the data from Postgres to MySQL" took ``params.table`` into ``SELECT * FROM {{ params.table }}``,
``:run`` accepted ``{"table": "x; DROP TABLE y"}`` and ``source_conn_id`` was a run parameter.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlglot
import yaml
from sqlglot import exp

from tests.conftest import BASE, airflow_cli

COPY = "copy the data from Postgres to MySQL"
ATTACK = "x; DROP TABLE y"


@pytest.fixture
def definitions(airflow_home: Path) -> Path:
    from headrace import config

    return config.definitions_folder()


@pytest.fixture
def copy_pipeline(client, admin_headers) -> str:
    """The finding's pipeline, generated and deployed through the API, and parsed by Airflow."""
    generated = client.post(f"{BASE}/pipelines:generate", headers=admin_headers, json={"description": COPY})
    assert generated.status_code == 201, generated.json
    pipeline_id = generated.json["pipeline_id"]
    deployed = client.post(f"{BASE}/pipelines/{pipeline_id}:deploy", headers=admin_headers, json={})
    assert deployed.status_code == 200, deployed.json
    airflow_cli("dags", "reserialize")  # what the dag-processor does on the deploy's parse request
    return pipeline_id


def _run(client, headers, pipeline_id: str, params: dict):
    return client.post(f"{BASE}/pipelines/{pipeline_id}:run", headers=headers, json={"params": params})


def test_run_refuses_a_table_that_is_not_a_name(client, admin_headers, copy_pipeline: str) -> None:
    response = _run(client, admin_headers, copy_pipeline, {"table": ATTACK})

    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert error["code"] == "VALIDATION_ERROR"
    [detail] = error["details"]
    assert detail["field"] == "params.table" and "identifier" in detail["message"]


def test_connection_ids_are_fixed_not_run_parameters(client, admin_headers, copy_pipeline: str) -> None:
    definition = client.get(f"{BASE}/pipelines/{copy_pipeline}", headers=admin_headers).json["dag_definition"]
    arguments = definition["steps"][0]["arguments"]
    assert "{{" not in arguments["source_conn_id"] and "{{" not in arguments["destination_conn_id"]
    assert set(definition["params"]) == {"table"}

    response = _run(client, admin_headers, copy_pipeline, {"table": "orders", "source_conn_id": "other_db"})

    assert response.status_code == 400, response.json
    fields = [d["field"] for d in response.json["error"]["details"]]
    assert fields == ["params.source_conn_id"]


def test_airflow_itself_refuses_the_bad_table(copy_pipeline: str) -> None:
    """A trigger through Airflow's own UI or REST API checks the same schema (the DAG's Param)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import ParamValidationError
    from airflow.utils.types import DagRunTriggeredByType

    with pytest.raises(ParamValidationError, match="table"):
        trigger_dag(copy_pipeline, conf={"table": ATTACK}, triggered_by=DagRunTriggeredByType.REST_API)


def test_a_value_that_slips_through_is_quoted_or_refused_never_two_statements(copy_pipeline: str) -> None:
    from headrace.api.services.definitions import stored_plan
    from headrace.workflows.builder import build_dag

    dag = build_dag(stored_plan(copy_pipeline))
    [task] = dag.tasks
    env = dag.get_template_env()

    sql = task.render_template(task.sql, {"params": {"table": "public.orders"}}, env)
    assert sql == 'SELECT * FROM "public"."orders"'
    assert len(sqlglot.parse(sql, read="postgres")) == 1
    with pytest.raises(ValueError, match="not an identifier"):
        task.render_template(task.sql, {"params": {"table": ATTACK}}, env)


def test_a_definition_taking_connection_ids_from_params_is_refused(
    client, admin_headers, definitions: Path
) -> None:
    """A draft as the grammar used to write it: connection ids as run parameters. Deploy refuses it."""
    drafts = definitions / ".drafts"
    drafts.mkdir(parents=True, exist_ok=True)
    draft = {
        "id": "old_copy_draft",
        "params": {"source_conn_id": {"type": "string"}, "destination_conn_id": {"type": "string"}},
        "steps": [
            {
                "id": "transfer",
                "kind": "operator",
                "operator": "airflow.providers.common.sql.operators.generic_transfer.GenericTransfer",
                "arguments": {
                    "sql": "SELECT * FROM sales",
                    "destination_table": "sales",
                    "source_conn_id": "{{ params.source_conn_id }}",
                    "destination_conn_id": "{{ params.destination_conn_id }}",
                },
            }
        ],
    }
    (drafts / "old_copy_draft.yaml").write_text(yaml.safe_dump(draft))

    response = client.post(f"{BASE}/pipelines/old_copy_draft:deploy", headers=admin_headers, json={})

    assert response.status_code == 400, response.json
    details = response.json["error"]["details"]
    assert {d["field"] for d in details} == {"steps.0.arguments"}
    message = " ".join(d["message"] for d in details)
    assert "source_conn_id" in message and "destination_conn_id" in message
    assert "fixed in the definition" in message
    assert not (definitions / "old_copy_draft.yaml").exists()


def test_free_text_params_may_not_reach_sql(client, admin_headers, definitions: Path) -> None:
    definitions.mkdir(parents=True, exist_ok=True)
    (definitions / "free_text_sql.yaml").write_text(
        "id: free_text_sql\nparams:\n  city: {type: string, default: berlin}\nsteps:\n"
        "  - id: model\n    kind: transform\n    target: lake.sales.by_city\n"
        "    sql: \"SELECT * FROM lake.sales.orders WHERE city = '{{ params.city }}'\"\n"
    )

    response = client.post(f"{BASE}/pipelines/free_text_sql:deploy", headers=admin_headers, json={})

    assert response.status_code == 400, response.json
    [detail] = response.json["error"]["details"]
    assert detail["field"] == "steps.0.sql" and "params.city" in detail["message"]


def test_workflows_api_builds_the_copy_sql_from_quoted_names(client, admin_headers) -> None:
    from headrace.workflows.repository import WorkflowRepository

    body = {
        "name": "Copy order items securely",
        "requirements": {"data_source": "lake.sales.order-items", "target": "lake.marts.order_items"},
    }
    created = client.post(f"{BASE}/workflows", headers=admin_headers, json=body)
    assert created.status_code == 201, created.json

    written = WorkflowRepository().read(created.json["workflow_id"])
    sql = written["steps"][0]["sql"]
    [statement] = sqlglot.parse(sql, read="duckdb")
    [table] = statement.find_all(exp.Table)
    assert (table.catalog, table.db, table.name) == ("lake", "sales", "order-items")

    body = {
        "name": "Copy with a second statement",
        "requirements": {"data_source": "lake.sales.orders; DROP TABLE x", "target": "lake.marts.o"},
    }
    refused = client.post(f"{BASE}/workflows", headers=admin_headers, json=body)
    assert refused.status_code == 400
    assert [d["field"] for d in refused.json["error"]["details"]] == ["requirements.data_source"]
