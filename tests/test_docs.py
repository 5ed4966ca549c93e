"""docs/api.md's permission table lists every endpoint with the permission the code enforces."""

from __future__ import annotations

import re

from tests.conftest import REPO

_ROW = re.compile(r"^\| (GET|POST|PUT|PATCH|DELETE) \| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$")


def test_permission_table_matches_the_endpoints():
    import headrace.api.routes  # noqa: F401  (declares the endpoints)
    from headrace.api.registry import ENDPOINTS

    rows = {
        (m.group(1), m.group(2)): (m.group(3).strip(), m.group(4).strip())
        for line in (REPO / "docs" / "api.md").read_text().splitlines()
        if (m := _ROW.match(line))
    }
    expected = {}
    for spec in ENDPOINTS:
        if spec.permission is None:
            documented = rows.get((spec.method, spec.documented_path), ("", ""))[0]
            expected[(spec.method, spec.documented_path)] = (documented, "—")
            assert documented, f"{spec.method} {spec.documented_path} is not in docs/api.md"
        else:
            expected[(spec.method, spec.documented_path)] = (
                spec.permission.airflow_permission,
                spec.permission.scope.value,
            )

    assert rows == expected


def test_the_workflow_definition_in_the_docs_builds() -> None:
    """docs/workflows.md's full example is a valid definition (every step kind, a template)."""
    import yaml

    from headrace.workflows.builder import build_dag
    from headrace.workflows.plan import plan_data

    text = (REPO / "docs" / "workflows.md").read_text()
    example = re.search(r"```yaml\n(id: orders_elt.*?)```", text, re.S).group(1)
    dag = build_dag(plan_data(yaml.safe_load(example), "docs/workflows.md"))
    assert {t.task_id for t in dag.tasks} >= {"extract.load", "model", "quality", "done", "events.load"}
