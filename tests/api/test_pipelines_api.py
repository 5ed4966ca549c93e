"""pipelines-api over the real Flask app and metadata DB: generate, deploy, run, status (no scheduler)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests import llm_fake
from tests.conftest import BASE, airflow_cli

ORDERS = "Ingest s3://raw/orders/*.csv into pipes_lake.sales.orders every hour, then check order_id is unique"


@pytest.fixture
def workflows_folder(airflow_home: Path) -> Path:
    """Hand-written definitions: the API reads them, never writes there."""
    return airflow_home / "workflows"


@pytest.fixture
def definitions_folder(airflow_home: Path) -> Path:
    """Where the API writes drafts and deployed definitions (tests/conftest.py sets it)."""
    return airflow_home / "definitions"


@pytest.fixture
def generate(client, admin_headers):
    """POST /pipelines:generate, with the catalog ORDERS names in place (409 when it already is)."""
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "pipes_lake", "type": "iceberg"})

    def call(description: str, **extra):
        return client.post(
            f"{BASE}/pipelines:generate", headers=admin_headers, json={"description": description, **extra}
        )

    return call


def test_generate_answers_the_contract_fields_and_keeps_a_draft(generate, definitions_folder: Path) -> None:
    response = generate(ORDERS, project_id="proj_123")

    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) >= {"pipeline_id", "name", "description", "code", "dag_definition", "validation"}
    assert body["validation"] == {"status": "passed", "warnings": []}
    definition = body["dag_definition"]
    assert definition["schedule"] in ("@hourly", "hourly", "every hour")
    assert definition["project"] == "proj_123"
    kinds = [step["kind"] for step in definition["steps"]]
    assert kinds == ["ingest", "check"]
    assert "IngestionOperator(" in body["code"] and "TableCheckOperator(" in body["code"]
    compile(body["code"], "generated.py", "exec")
    draft = definitions_folder / ".drafts" / f"{body['pipeline_id']}.yaml"
    assert yaml.safe_load(draft.read_text())["id"] == body["pipeline_id"]
    assert not (definitions_folder / f"{body['pipeline_id']}.yaml").exists()  # not deployed yet


def test_generate_lists_what_it_could_not_place(generate) -> None:
    body = generate("Load sales data from PostgreSQL to ClickHouse daily with extra sparkle").json
    assert body["validation"]["status"] == "passed_with_warnings"
    warnings = " ".join(body["validation"]["warnings"])
    assert "sparkle" in warnings
    assert "source_conn_id" in warnings  # no postgres connection exists: left to the user, not invented


def test_generate_refuses_a_description_with_nothing_to_build(generate) -> None:
    response = generate("make it nice please")
    assert response.status_code == 400
    error = response.json["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"][0]["field"] == "description"
    assert error["request_id"] == response.headers["X-Request-ID"]


def test_deploy_writes_the_definition_and_run_triggers_it_with_params(
    client, admin_headers, generate, definitions_folder: Path
) -> None:
    pipeline_id = generate(ORDERS, options={"validate": True}).json["pipeline_id"]

    deployed = client.post(
        f"{BASE}/pipelines/{pipeline_id}:deploy",
        headers=admin_headers,
        json={"environment": "staging", "schedule": "0 2 * * *"},
    )

    assert deployed.status_code == 200, deployed.json
    assert deployed.json["status"] == "deployed" and deployed.json["schedule"] == "0 2 * * *"
    written = yaml.safe_load((definitions_folder / f"{pipeline_id}.yaml").read_text())
    assert written["paused"] is False and "environment:staging" in written["tags"]
    assert not (definitions_folder / ".drafts" / f"{pipeline_id}.yaml").exists()

    airflow_cli("dags", "reserialize")  # what the dag-processor does on the priority parse request
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        assert session.get(DagModel, pipeline_id).is_paused is False

    run = client.post(f"{BASE}/pipelines/{pipeline_id}:run", headers=admin_headers, json={"params": {}})
    assert run.status_code == 202, run.json
    assert run.json["status"] == "queued"

    status = client.get(f"{BASE}/pipelines/{pipeline_id}/status", headers=admin_headers).json
    assert status["run_id"] == run.json["run_id"]
    assert status["status"] == "queued" and status["progress"] == 0
    assert status["estimated_completion"] is None  # no earlier successful run to learn from


def test_deploy_checks_the_schedule(client, admin_headers, generate) -> None:
    pipeline_id = generate(ORDERS).json["pipeline_id"]
    response = client.post(
        f"{BASE}/pipelines/{pipeline_id}:deploy", headers=admin_headers, json={"schedule": "0 25 * * *"}
    )
    assert response.status_code == 400
    detail = response.json["error"]["details"][0]
    assert detail["field"] == "schedule" and "cron" in detail["message"]
    assert detail["error"] == detail["message"]  # the contract's name for it


def test_run_refuses_unknown_or_mistyped_params(client, admin_headers, workflows_folder: Path) -> None:
    workflows_folder.mkdir(parents=True, exist_ok=True)
    (workflows_folder / "with_params.yaml").write_text(
        "id: with_params\nparams:\n  day: {type: string, default: '2026-01-01'}\n"
        "  limit: {type: integer, default: 5}\nsteps:\n  - {id: a, kind: bash, bash_command: echo}\n"
    )
    response = client.post(
        f"{BASE}/pipelines/with_params:run",
        headers=admin_headers,
        json={"params": {"limit": "many", "dya": "x"}},
    )
    assert response.status_code == 400
    fields = {d["field"]: d["message"] for d in response.json["error"]["details"]}
    assert fields["params.limit"] == "must be of type integer"
    assert "did you mean 'day'" in fields["params.dya"]


def test_a_draft_cannot_run(client, admin_headers, generate) -> None:
    pipeline_id = generate(ORDERS).json["pipeline_id"]
    response = client.post(f"{BASE}/pipelines/{pipeline_id}:run", headers=admin_headers, json={})
    assert response.status_code == 409 and "deploy it first" in response.json["error"]["message"]


def test_list_pages_with_headers(client, admin_headers, generate) -> None:
    for _ in range(3):
        generate(ORDERS)
    first = client.get(f"{BASE}/pipelines?page=1&per_page=2", headers=admin_headers)
    assert first.status_code == 200
    total = int(first.headers["X-Total-Count"])
    assert total >= 3 and len(first.json) == 2
    assert (first.headers["X-Page"], first.headers["X-Per-Page"]) == ("1", "2")
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    last_page = -(-total // 2)
    last = client.get(f"{BASE}/pipelines?page={last_page}&per_page=2", headers=admin_headers)
    assert 'rel="prev"' in last.headers["Link"] and 'rel="next"' not in last.headers["Link"]


def test_get_and_unknown_pipeline(client, admin_headers, generate) -> None:
    pipeline_id = generate(ORDERS).json["pipeline_id"]
    got = client.get(f"{BASE}/pipelines/{pipeline_id}", headers=admin_headers).json
    assert got["status"] == "draft" and got["dag_definition"]["id"] == pipeline_id
    missing = client.get(f"{BASE}/pipelines/nope", headers=admin_headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_a_viewer_reads_but_cannot_generate_or_deploy(client, viewer_headers, generate) -> None:
    pipeline_id = generate(ORDERS).json["pipeline_id"]
    assert client.get(f"{BASE}/pipelines/{pipeline_id}", headers=viewer_headers).status_code == 200
    denied = client.post(f"{BASE}/pipelines:generate", headers=viewer_headers, json={"description": ORDERS})
    assert denied.status_code == 403 and denied.json["error"]["code"] == "PERMISSION_DENIED"
    deploy = client.post(f"{BASE}/pipelines/{pipeline_id}:deploy", headers=viewer_headers, json={})
    assert deploy.status_code == 403


def test_no_credentials_is_401(client) -> None:
    response = client.get(f"{BASE}/pipelines")
    assert response.status_code == 401 and response.json["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_run_checks_an_identifier_param(client, admin_headers, workflows_folder: Path) -> None:
    workflows_folder.mkdir(parents=True, exist_ok=True)
    (workflows_folder / "with_identifier.yaml").write_text(
        "id: with_identifier\nparams:\n  table: {type: identifier, default: sales.orders}\nsteps:\n"
        "  - {id: a, kind: bash, bash_command: echo}\n"
    )
    response = client.post(
        f"{BASE}/pipelines/with_identifier:run", headers=admin_headers, json={"params": {"table": "a b"}}
    )
    assert response.status_code == 400
    [detail] = response.json["error"]["details"]
    assert detail["field"] == "params.table" and detail["message"].startswith("must be an identifier")


def test_deploy_fixes_connection_ids(client, admin_headers, definitions_folder: Path) -> None:
    generated = client.post(
        f"{BASE}/pipelines:generate",
        headers=admin_headers,
        json={"description": "Load invoices data from PostgreSQL to MySQL"},
    ).json
    pipeline_id = generated["pipeline_id"]
    unknown = client.post(
        f"{BASE}/pipelines/{pipeline_id}:deploy",
        headers=admin_headers,
        json={"connections": {"aws_conn_id": "x"}},
    )
    assert unknown.status_code == 400
    assert [d["field"] for d in unknown.json["error"]["details"]] == ["connections.aws_conn_id"]
    templated = client.post(
        f"{BASE}/pipelines/{pipeline_id}:deploy",
        headers=admin_headers,
        json={"connections": {"source_conn_id": "{{ params.x }}"}},
    )
    assert templated.status_code == 400
    assert templated.json["error"]["details"][0]["field"].startswith("connections.source_conn_id")

    deployed = client.post(
        f"{BASE}/pipelines/{pipeline_id}:deploy",
        headers=admin_headers,
        json={"connections": {"source_conn_id": "pg_invoices", "destination_conn_id": "my_invoices"}},
    )

    assert deployed.status_code == 200, deployed.json
    written = yaml.safe_load((definitions_folder / f"{pipeline_id}.yaml").read_text())
    arguments = written["steps"][0]["arguments"]
    assert (arguments["source_conn_id"], arguments["destination_conn_id"]) == ("pg_invoices", "my_invoices")


# ------------------------------------------------------------------------------- with an LLM backend
fake_llm = llm_fake.fake_llm

LLM_DEFINITION = {
    "id": "nightly_orders_report",
    "schedule": "@daily",
    "steps": [{"id": "report", "kind": "bash", "bash_command": "echo report"}],
}


def test_generate_uses_the_llm_definition_once_it_passes_the_checks(generate, fake_llm) -> None:
    fake_llm.answer = json.dumps(
        {"name": "Nightly orders report", "description": "A report", "warnings": ["no recipients given"],
         "definition": LLM_DEFINITION}
    )  # fmt: skip
    response = generate("Every night, write the orders report")

    assert response.status_code == 201, response.json
    body = response.json
    assert body["name"] == "Nightly orders report"
    assert body["dag_definition"]["steps"] == LLM_DEFINITION["steps"]
    assert body["validation"] == {"status": "passed_with_warnings", "warnings": ["no recipients given"]}
    (call,) = fake_llm.seen
    assert call["path"] == "/v1/chat/completions" and call["auth"] == "Bearer sk-test-key-123"
    assert "Every night, write the orders report" in json.dumps(call["body"]["messages"])
    assert "pipes_lake" in call["body"]["messages"][0]["content"]  # the catalogs it may name


@pytest.mark.parametrize(
    "answer, reason",
    [
        ("I cannot help with that", "not a JSON object"),
        (json.dumps({"definition": {"id": "x", "steps": []}}), "invalid (steps)"),
        (json.dumps({"definition": {**LLM_DEFINITION, "schedule": "whenever"}}), "invalid (schedule)"),
    ],
)
def test_an_unusable_llm_answer_falls_back_to_the_grammar(generate, fake_llm, answer, reason) -> None:
    fake_llm.answer = answer
    body = generate(ORDERS).json

    assert [step["kind"] for step in body["dag_definition"]["steps"]] == ["ingest", "check"]  # the grammar's
    first = body["validation"]["warnings"][0]
    assert first.startswith("LLM not used:") and reason in first, first


def test_an_llm_timeout_falls_back_to_the_grammar(generate, fake_llm) -> None:
    fake_llm.answer, fake_llm.delay = json.dumps({"definition": LLM_DEFINITION}), 3.0
    body = generate(ORDERS).json

    assert [step["kind"] for step in body["dag_definition"]["steps"]] == ["ingest", "check"]
    assert "no answer within 1 s" in body["validation"]["warnings"][0]
