"""The loader's fast path gives what the plain path gave: PyYAML's values, lines, templates and pools
read once per load, and the garbage collector left as it was."""

from __future__ import annotations

import gc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from headrace.workflows.loader import load_folder
from headrace.workflows.source import parse_text, read_file
from tests.unit.workflows.test_definitions import write

YAML_DOCUMENTS = {
    "scalars": "a: 1\nb: 2.5\nc: .inf\nd: ~\ne: yes\nf: 0x1f\ng: 1_000\nh: '3'\ni: ''\nj: -7\n",
    "dates": "d: 2026-01-01\nt: 2026-01-01 10:00:00\nz: 2001-12-14t21:59:43.10-05:00\n",
    "anchors": "base: &b {x: [1, 2]}\nsame: *b\n",
    "merge keys": "base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n",
    "explicit tags": "a: !!str 12\nb: !!int '7'\nc: !!float 1\nd: !!binary aGVsbG8=\ne: !!set {x, y}\n",
    "duplicate keys": "{a: 1, a: 2}\n",
    "value key": "=: 1\n",
    "empty": "",
    "comment only": "# nothing\n",
    "nested": "a:\n  - b: c\n    d: [e, {f: g}]\n  - [1, [2, [3]]]\n",
    "collection key": "? [1, 2]\n: x\n",
}


@pytest.mark.parametrize("text", YAML_DOCUMENTS.values(), ids=YAML_DOCUMENTS.keys())
def test_yaml_gives_what_pyyamls_safe_loader_gives(text: str) -> None:
    try:
        expected = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        with pytest.raises(Exception, match="invalid YAML") as raised:
            parse_text(text, "f.yaml")
        assert str(exc.problem) in str(raised.value)  # type: ignore[attr-defined]
        return
    assert parse_text(text, "f.yaml") == expected


def test_an_alias_is_the_same_object_and_may_refer_to_itself() -> None:
    data = parse_text("base: &b {x: 1}\nsame: *b\nloop: &l [*l]\n", "f.yaml")
    assert data["same"] is data["base"]
    assert data["loop"][0] is data["loop"]


def test_a_definition_with_anchors_merge_keys_and_dates_builds(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        """\
        id: anchored
        start_date: 2026-03-01 06:30:00
        steps:
          - &echo {id: first, kind: bash, bash_command: echo one, configuration: {max_retries: 2}}
          - <<: *echo
            id: second
            depends_on: [first]
        """,
    )
    result = load_folder(tmp_path)
    assert not result.problems
    dag = result.dags["anchored"]
    assert dag.start_date == datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    assert dag.get_task("second").bash_command == "echo one"
    assert dag.get_task("second").retries == 2
    assert dag.get_task("second").upstream_task_ids == {"first"}


def test_windows_line_endings_load_and_problems_keep_their_lines(tmp_path: Path) -> None:
    good = "id: crlf\r\nstart_date: 2026-01-01\r\nsteps:\r\n  - {id: a, kind: bash, bash_command: echo}\r\n"
    bad = "id: crlf_bad\r\nsteps:\r\n  - id: a\r\n    kind: bash\r\n    bash_comand: echo\r\n"
    (tmp_path / "good.yaml").write_bytes(good.encode())
    (tmp_path / "bad.yaml").write_bytes(bad.encode())
    assert read_file(tmp_path / "good.yaml") == (tmp_path / "good.yaml").read_text(encoding="utf-8")

    result = load_folder(tmp_path)

    assert list(result.dags) == ["crlf"]
    assert result.dags["crlf"].start_date.date() == date(2026, 1, 1)
    problems = [str(p) for p in result.problems]
    assert f"{tmp_path / 'bad.yaml'}:3: steps.0.bash_command: Field required" in problems
    assert (
        f"{tmp_path / 'bad.yaml'}:5: steps.0.bash_comand: unknown key 'bash_comand'"
        " (did you mean 'bash_command'?)"
    ) in problems


def test_a_deployment_template_serves_every_definition_of_a_load(tmp_path: Path) -> None:
    write(
        tmp_path / "templates",
        "greet.yaml",
        """\
        template: greet
        parameters: {who: {type: string}}
        steps:
          - {id: hello, kind: bash, bash_command: "echo hello ${who}"}
        """,
    )
    for who in ("ann", "bob"):
        write(
            tmp_path,
            f"{who}.yaml",
            f"id: {who}\nsteps:\n  - {{id: g, kind: template, template: greet, "
            f"parameters: {{who: {who}}}}}\n",
        )

    dags = load_folder(tmp_path).dags

    assert {dag_id: dag.get_task("g.hello").bash_command for dag_id, dag in dags.items()} == {
        "ann": "echo hello ann",
        "bob": "echo hello bob",
    }


def test_a_broken_template_file_fails_each_definition_of_the_load(tmp_path: Path) -> None:
    write(tmp_path / "templates", "broken.yaml", "template: broken\nsteps: []\n")
    write(tmp_path, "a.yaml", "id: a\nsteps:\n  - {id: x, kind: bash, bash_command: echo}\n")
    write(tmp_path, "b.yaml", "id: b\nsteps:\n  - {id: x, kind: bash, bash_command: echo}\n")

    result = load_folder(tmp_path)

    assert result.dags == {}
    assert [Path(p.file).name for p in result.problems] == ["a.yaml", "b.yaml"]
    assert all("steps" in p.message and "ValidationError" in p.message for p in result.problems)


def test_priority_pools_apply_to_every_definition_of_a_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW__HEADRACE__PRIORITY_POOLS", "high=fast_lane; low=slow_lane")
    for name, priority in (("h1", "high"), ("h2", "high"), ("l", "low"), ("m", "medium")):
        write(
            tmp_path,
            f"{name}.yaml",
            f"id: {name}\npriority: {priority}\nsteps:\n  - {{id: a, kind: bash, bash_command: echo}}\n",
        )

    dags = load_folder(tmp_path).dags

    pools = {dag_id: dag.get_task("a").pool for dag_id, dag in dags.items()}
    assert pools == {"h1": "fast_lane", "h2": "fast_lane", "l": "slow_lane", "m": "default_pool"}


@pytest.mark.parametrize("enabled", [True, False])
def test_the_loader_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path, enabled: bool) -> None:
    write(tmp_path, "a.yaml", "id: a\nsteps:\n  - {id: x, kind: bash, bash_command: echo}\n")
    write(tmp_path, "bad.yaml", "id: [\n")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        result = load_folder(tmp_path)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
    assert list(result.dags) == ["a"] and len(result.problems) == 1


def test_retry_delay_and_timeout_still_become_durations(tmp_path: Path) -> None:
    write(
        tmp_path,
        "d.yaml",
        "id: d\nconfiguration: {retry_delay: 90, timeout: 600}\nsteps:\n"
        "  - {id: a, kind: bash, bash_command: echo, configuration: {timeout: 60}}\n",
    )
    task = load_folder(tmp_path).dags["d"].get_task("a")
    assert (task.retry_delay, task.execution_timeout) == (timedelta(seconds=90), timedelta(seconds=60))
