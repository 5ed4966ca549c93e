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
            documented = rows.get((spec.method, spec.openapi_path), ("", ""))[0]
            expected[(spec.method, spec.openapi_path)] = (documented, "—")
            assert documented, f"{spec.method} {spec.openapi_path} is not in docs/api.md"
        else:
            expected[(spec.method, spec.openapi_path)] = (
                spec.permission.airflow_permission,
                spec.permission.scope.value,
            )

    assert rows == expected
