"""Listing workflows: the definitions the caller may read, with their latest run, filtered and paged.

The caller's permissions arrive as a filter of DAG ids (bound in the route), so this module never
sees who is asking, only what they may read.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from headrace.api.datamodels.workflows import Pagination, WorkflowList, WorkflowListQuery, WorkflowSummary
from headrace.api.services import workflow_runs
from headrace.api.services.definitions import ReadableDagIds
from headrace.api.services.workflows.common import aware, status_of
from headrace.workflows.model import Priority
from headrace.workflows.repository import WorkflowRepository


def _created_at(data: dict[str, Any]) -> datetime | None:
    value = data.get("created_at")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def list_workflows(query: WorkflowListQuery, *, readable_dag_ids: ReadableDagIds) -> WorkflowList:
    """Newest first; only the workflows whose DAG id ``readable_dag_ids`` keeps."""
    definitions = WorkflowRepository().definitions()
    readable = readable_dag_ids(set(definitions))
    summaries = []
    for workflow_id, data in definitions.items():
        if workflow_id not in readable:
            continue
        view = workflow_runs.latest_run(workflow_id)
        total = len(view.tasks) if view else 0
        summary = WorkflowSummary(
            workflow_id=workflow_id,
            name=str(data.get("name") or workflow_id),
            status=status_of(view),
            priority=_priority(data),
            created_at=_created_at(data),
            progress=round(100 * view.finished_tasks / total) if view and total else 0,
        )
        if _matches(summary, query):
            summaries.append(summary)
    summaries.sort(key=lambda s: s.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    page = summaries[query.offset : query.offset + query.limit]
    return WorkflowList(
        workflows=page,
        pagination=Pagination(
            total=len(summaries),
            limit=query.limit,
            offset=query.offset,
            has_next=query.offset + len(page) < len(summaries),
        ),
    )


def _priority(data: dict[str, Any]) -> Priority:
    try:
        return Priority(data.get("priority", "medium"))
    except ValueError:
        return Priority.MEDIUM


def _matches(summary: WorkflowSummary, query: WorkflowListQuery) -> bool:
    if query.status is not None and summary.status != query.status:
        return False
    if query.priority is not None and summary.priority != query.priority:
        return False
    created = summary.created_at
    if query.created_after is not None and (created is None or created <= aware(query.created_after)):
        return False
    return not (
        query.created_before is not None and (created is None or created >= aware(query.created_before))
    )
