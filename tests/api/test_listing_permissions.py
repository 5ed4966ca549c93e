"""Lists keep to the DAG ids the caller may read: the services list only what the route's filter keeps.

The routes bind :func:`headrace.api.security.readable_dag_ids` to the caller; here the filter is one
that keeps a single id, as an auth manager would for a user allowed one DAG (the FAB end-to-end test
shows the real auth manager doing so). Definitions are written through the real API and listed from
the real definitions folder and metadata database.
"""

from __future__ import annotations

import uuid

from headrace.api.datamodels.workflows import WorkflowListQuery
from headrace.api.services import pipelines, workflows
from tests.conftest import BASE


def _keep(allowed: str):
    seen: list[set[str]] = []

    def readable(dag_ids: set[str]) -> set[str]:
        seen.append(set(dag_ids))
        return {allowed} & dag_ids

    readable.seen = seen
    return readable


def test_pipelines_list_only_the_readable_dags(client, admin_headers) -> None:
    client.post(f"{BASE}/catalog", headers=admin_headers, json={"name": "perm_lake", "type": "iceberg"})
    ids = []
    for _ in range(2):
        response = client.post(
            f"{BASE}/pipelines:generate",
            headers=admin_headers,
            json={"description": "Ingest s3://raw/orders/*.csv into perm_lake.sales.orders daily"},
        )
        assert response.status_code == 201, response.json
        ids.append(response.json["pipeline_id"])

    readable = _keep(ids[1])
    items, total = pipelines.list_pipelines(page=1, per_page=100, readable_dag_ids=readable)

    assert [p.pipeline_id for p in items] == [ids[1]] and total == 1
    assert set(ids) <= readable.seen[0]  # asked about every pipeline, drafts included


def test_workflows_list_only_the_readable_dags(client, admin_headers) -> None:
    ids = []
    for _ in range(2):
        body = {
            "name": f"Perm orders {uuid.uuid4().hex[:8]}",
            "requirements": {"data_source": "s3://landing/orders/*.csv", "target": "lake.sales.orders"},
        }
        response = client.post(f"{BASE}/workflows", headers=admin_headers, json=body)
        assert response.status_code == 201, response.json
        ids.append(response.json["workflow_id"])

    listed = workflows.list_workflows(WorkflowListQuery(limit=100), readable_dag_ids=_keep(ids[0]))

    assert [w.workflow_id for w in listed.workflows] == [ids[0]]
    assert listed.pagination.total == 1
