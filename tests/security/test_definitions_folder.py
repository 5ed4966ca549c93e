"""User definitions never go into the source checkout.

Replays the finding "``make run`` writes deployed pipelines and workflows into the repository's own
``dags/workflows/``": what the APIs write lands in ``[headrace] definitions_folder`` (under
``AIRFLOW_HOME``); the shipped/hand-written ``[headrace] workflows_folder`` is only read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BASE, REPO

GOOD = "id: {id}\nsteps:\n  - {{id: a, kind: bash, bash_command: echo {id}}}\n"
FILES = "Ingest s3://raw/sec/*.csv into sec_lake.sales.orders, then check order_id is unique"


@pytest.fixture
def folders(airflow_home: Path) -> tuple[Path, Path]:
    """(workflows folder, definitions folder) of the test deployment (see tests/conftest.py)."""
    from headrace import config

    return config.workflows_folder(), config.definitions_folder()


def test_make_run_keeps_user_definitions_out_of_the_checkout(tmp_path: Path) -> None:
    """The environment scripts/run.sh sets: the repository's dags folder, nothing about workflows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env |= {"AIRFLOW_HOME": str(tmp_path / "home"), "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags")}
    code = "from headrace.workflows.repository import WorkflowRepository; print(WorkflowRepository().folder)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    written_to = Path(result.stdout.strip().splitlines()[-1])
    assert written_to == tmp_path / "home" / "headrace" / "definitions"
    assert not written_to.is_relative_to(REPO / "dags")


def test_generate_and_deploy_write_into_the_definitions_folder(
    client, admin_headers, folders: tuple[Path, Path]
) -> None:
    workflows, definitions = folders
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "sec_lake", "type": "iceberg"})
    generated = client.post(f"{BASE}/pipelines:generate", headers=admin_headers, json={"description": FILES})
    assert generated.status_code == 201, generated.json
    pipeline_id = generated.json["pipeline_id"]
    assert (definitions / ".drafts" / f"{pipeline_id}.yaml").is_file()
    assert not (workflows / ".drafts").exists()

    deployed = client.post(f"{BASE}/pipelines/{pipeline_id}:deploy", headers=admin_headers, json={})

    assert deployed.status_code == 200, deployed.json
    assert (definitions / f"{pipeline_id}.yaml").is_file()
    assert not (workflows / f"{pipeline_id}.yaml").exists()


def test_workflows_create_writes_into_the_definitions_folder(
    client, admin_headers, folders: tuple[Path, Path]
) -> None:
    workflows, definitions = folders
    body = {
        "name": "Kept out of the checkout",
        "requirements": {"data_source": "s3://raw/sec/*.csv", "target": "sec_lake.sales.kept"},
    }
    created = client.post(f"{BASE}/workflows", headers=admin_headers, json=body)

    assert created.status_code == 201, created.json
    assert (definitions / "kept_out_of_the_checkout.yaml").is_file()
    assert not (workflows / "kept_out_of_the_checkout.yaml").exists()


def test_the_api_never_overwrites_a_shipped_definition(
    client, admin_headers, folders: tuple[Path, Path]
) -> None:
    workflows, definitions = folders
    workflows.mkdir(parents=True, exist_ok=True)
    shipped = workflows / "shipped_by_hand.yaml"
    shipped.write_text(GOOD.format(id="shipped_by_hand"))

    listed = client.get(f"{BASE}/pipelines?per_page=100", headers=admin_headers).json
    assert "shipped_by_hand" in [p["pipeline_id"] for p in listed]  # read from both folders
    deployed = client.post(
        f"{BASE}/pipelines/shipped_by_hand:deploy", headers=admin_headers, json={"schedule": "@daily"}
    )
    body = {"name": "Shipped by hand", "requirements": {"data_source": "s3://r/x.csv", "target": "l.s.t"}}
    created = client.post(f"{BASE}/workflows", headers=admin_headers, json=body)

    assert deployed.status_code == 409, deployed.json
    assert deployed.json["error"]["code"] == "READ_ONLY_DEFINITION"
    assert "workflows folder" in deployed.json["error"]["message"]
    assert created.status_code == 409 and created.json["error"]["code"] == "WORKFLOW_EXISTS"
    assert shipped.read_text() == GOOD.format(id="shipped_by_hand")
    assert not (definitions / "shipped_by_hand.yaml").exists()


def test_the_loader_reads_both_folders_and_names_a_duplicate_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    workflows, definitions = tmp_path / "dags" / "workflows", tmp_path / "home" / "definitions"
    monkeypatch.setenv("AIRFLOW__HEADRACE__WORKFLOWS_FOLDER", str(workflows))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFINITIONS_FOLDER", str(definitions))
    workflows.mkdir(parents=True)
    definitions.mkdir(parents=True)
    for name in ("headrace_workflows.py", "headrace_workflow_errors.py"):
        shutil.copy(REPO / "dags" / name, tmp_path / "dags" / name)
    (workflows / "shipped.yaml").write_text(GOOD.format(id="shipped"))
    (definitions / "users.yaml").write_text(GOOD.format(id="users"))
    (definitions / "shadow.yaml").write_text(GOOD.format(id="shipped"))

    bag = DagBag(dag_folder=str(tmp_path / "dags"), safe_mode=True)

    assert sorted(bag.dags) == ["shipped", "users"]
    assert bag.dags["shipped"].get_task("a").bash_command == "echo shipped"
    [error] = bag.import_errors.values()
    assert f"{definitions / 'shadow.yaml'}: id: workflow id 'shipped' is already defined by" in error
    assert str(workflows / "shipped.yaml") in error
