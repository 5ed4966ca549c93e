"""Two folders: shipped/hand-written definitions (read only) and the ones users deploy (written)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headrace.workflows.loader import configured_folders, load_folders
from headrace.workflows.repository import ReadOnlyDefinition, WorkflowRepository
from tests.unit.workflows.test_definitions import write
from tests.unit.workflows.test_loader_and_render import cli

GOOD = "id: {id}\nsteps:\n  - {{id: a, kind: bash, bash_command: echo {text}}}\n"


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    shipped, users = tmp_path / "dags" / "workflows", tmp_path / "home" / "definitions"
    monkeypatch.setenv("AIRFLOW__HEADRACE__WORKFLOWS_FOLDER", str(shipped))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFINITIONS_FOLDER", str(users))
    write(shipped, "shipped.yaml", GOOD.format(id="shipped", text="from the checkout"))
    return shipped, users


def test_the_repository_reads_both_and_writes_only_the_definitions_folder(folders: tuple[Path, Path]) -> None:
    shipped, users = folders
    repo = WorkflowRepository()
    path = repo.write({"id": "mine", "steps": []})

    assert path == users / "mine.yaml"
    assert repo.ids() == ["mine", "shipped"]
    assert repo.path_of("shipped") == shipped / "shipped.yaml" and repo.read_only("shipped") is not None
    assert repo.read_only("mine") is None
    assert repo.templates_folder == shipped / "templates"
    with pytest.raises(ReadOnlyDefinition, match="workflows folder"):
        repo.write({"id": "shipped", "steps": []})
    assert (shipped / "shipped.yaml").read_text() == GOOD.format(id="shipped", text="from the checkout")
    assert sorted(p.name for p in shipped.iterdir()) == ["shipped.yaml"]


def test_drafts_live_in_the_definitions_folder(folders: tuple[Path, Path]) -> None:
    _, users = folders
    repo = WorkflowRepository()
    assert repo.write({"id": "draft_one", "steps": []}, draft=True) == users / ".drafts" / "draft_one.yaml"
    assert repo.ids(draft=True) == ["draft_one"] and "draft_one" not in repo.ids()
    repo.remove_draft("draft_one")
    assert repo.ids(draft=True) == []


def test_one_folder_named_twice_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__HEADRACE__WORKFLOWS_FOLDER", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__HEADRACE__DEFINITIONS_FOLDER", str(tmp_path / "."))
    write(tmp_path, "a.yaml", GOOD.format(id="a", text="a"))
    assert configured_folders() == [tmp_path]
    repo = WorkflowRepository()
    assert repo.read_only("a") is None  # the same folder: written by the API as before
    assert repo.write({"id": "a", "steps": []}) == tmp_path / "a.yaml"


def test_the_loader_keeps_the_shipped_definition_of_a_duplicate_id(folders: tuple[Path, Path]) -> None:
    shipped, users = folders
    write(users, "again.yaml", GOOD.format(id="shipped", text="from a user"))
    write(users, "users.yaml", GOOD.format(id="users", text="u"))

    result = load_folders(configured_folders())

    assert sorted(result.dags) == ["shipped", "users"]
    assert result.dags["shipped"].get_task("a").bash_command == "echo from the checkout"
    [problem] = result.problems
    assert problem.file == str(users / "again.yaml") and problem.field == "id"
    assert problem.message == f"workflow id 'shipped' is already defined by {shipped / 'shipped.yaml'}"


def test_validate_without_a_path_checks_both_folders(folders: tuple[Path, Path]) -> None:
    _, users = folders
    write(users, "users.yaml", GOOD.format(id="users", text="u"))
    write(users, "again.yaml", GOOD.format(id="shipped", text="again"))

    result = cli("validate")

    assert result.returncode == 1
    assert "shipped.yaml: ok: DAG shipped" in result.stdout and "users.yaml: ok: DAG users" in result.stdout
    assert "again.yaml: id: workflow id 'shipped' is already defined by" in result.stderr
    assert "2 valid, 1 invalid" in result.stderr


def test_render_finds_an_id_in_either_folder(folders: tuple[Path, Path]) -> None:
    _, users = folders
    write(users, "users.yaml", GOOD.format(id="users", text="u"))
    for workflow_id in ("shipped", "users"):
        result = cli("render", workflow_id)
        assert result.returncode == 0, result.stderr
        assert f"dag_id={workflow_id!r}" in result.stdout
