"""The ``job`` step of workflow definitions: a JobExecutionOperator task, its binary fixed at deploy time."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from headrace.operators.job_execution import JobExecutionOperator
from headrace.workflows.builder import build_dag
from headrace.workflows.model import WorkflowDefinition
from headrace.workflows.plan import plan_data, plan_file
from headrace.workflows.render import render
from headrace.workflows.source import DefinitionError
from tests.unit.workflows.test_definitions import write
from tests.unit.workflows.test_loader_and_render import _comparable, cli, dagbag

SHA = hashlib.sha256(b"#!/bin/sh\necho hi\n").hexdigest()
DEFINITION = f"""\
id: jobs_flow
params:
  day: {{type: string, default: "2026-01-01"}}
steps:
  - id: crunch
    kind: job
    binary_url: https://binaries.example/crunch
    binary_sha256: {SHA}
    arguments: ["--day", "{{{{ params.day }}}}"]
    env_variables: {{MODE: fast}}
    priority: foreground
    api_conn_id: headrace_api_prod
    configuration: {{max_retries: 2}}
  - id: local
    kind: job
    depends_on: [crunch]
    mode: inline
    binary_url: https://binaries.example/local
    binary_sha256: {SHA}
"""


def _job(**fields) -> dict:
    step = {"id": "run", "kind": "job", "binary_url": "https://b.example/x", "binary_sha256": SHA, **fields}
    return {"id": "t", "steps": [step]}


def test_a_job_step_becomes_a_job_execution_operator_with_its_fields(tmp_path: Path) -> None:
    dag = build_dag(plan_file(write(tmp_path, "jobs.yaml", DEFINITION)))

    crunch, local = dag.get_task("crunch"), dag.get_task("local")
    assert isinstance(crunch, JobExecutionOperator) and isinstance(local, JobExecutionOperator)
    assert crunch.binary_url == "https://binaries.example/crunch" and crunch.binary_sha256 == SHA
    assert crunch.arguments == ["--day", "{{ params.day }}"]  # rendered at run time, like any field
    assert crunch.env_variables == {"MODE": "fast"}
    assert (crunch.priority, crunch.mode, crunch.api_conn_id) == ("foreground", "queue", "headrace_api_prod")
    assert crunch.retries == 2
    assert (local.mode, local.priority, local.api_conn_id) == ("inline", "background", "headrace_api_default")
    assert local.upstream_task_ids == {"crunch"}


def test_the_rendered_dag_file_builds_the_same_job_tasks(tmp_path: Path) -> None:
    plan = plan_file(write(tmp_path / "workflows", "jobs.yaml", DEFINITION))
    rendered = tmp_path / "dags" / "jobs_flow.py"
    rendered.parent.mkdir()
    rendered.write_text(render(plan))

    bag = dagbag(rendered.parent)

    assert not bag.import_errors, bag.import_errors
    assert "from headrace.operators.job_execution import JobExecutionOperator" in rendered.read_text()
    assert _comparable(bag.dags["jobs_flow"]) == _comparable(build_dag(plan))


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"api_conn_id": "{{ params.conn }}"}, "steps.0.api_conn_id", "connection ids are fixed"),
        ({"binary_url": "https://b.example/{{ params.v }}"}, "steps.0.binary_url", "binary is fixed"),
        ({"binary_sha256": "{{ params.sha }}"}, "steps.0.binary_sha256", "binary is fixed"),
        ({"binary_sha256": "abc123"}, "steps.0.binary_sha256", "64 hex digits"),
        ({"mode": "remote"}, "steps.0.mode", "'queue' or 'inline'"),
        ({"priority": "urgent"}, "steps.0.priority", "'foreground', 'background' or 'best_effort'"),
        ({"binary_sha": SHA}, "steps.0.binary_sha", "did you mean 'binary_sha256'?"),
    ],
)
def test_a_bad_job_step_is_refused_at_its_field(fields: dict, field: str, message: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        plan_data(_job(**fields), "inline")
    problems = {p.field: p.message for p in caught.value.problems}
    assert field in problems and message in problems[field], problems


def test_run_params_may_reach_arguments_and_environment() -> None:
    plan = plan_data(_job(arguments=["{{ params.day }}"], env_variables={"DAY": "{{ ds }}"}), "inline")
    assert plan.tasks[0].arguments["arguments"] == ["{{ params.day }}"]
    assert plan.tasks[0].arguments["env_variables"] == {"DAY": "{{ ds }}"}


def test_the_editor_schema_knows_the_job_step() -> None:
    result = cli("schema")
    assert result.returncode == 0
    validator = jsonschema.Draft202012Validator(json.loads(result.stdout))
    assert not list(validator.iter_errors(_job(mode="inline", arguments=["a"])))
    assert list(validator.iter_errors(_job(mode="elsewhere")))
    assert WorkflowDefinition.model_validate(_job()).steps[0].kind == "job"
