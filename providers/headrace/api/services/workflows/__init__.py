"""Workflows: a definition created from requirements, followed through its latest DagRun.

Authoring (:mod:`.authoring`), listing (:mod:`.listing`), following and cancelling one run
(:mod:`.progress`) and run metrics (:mod:`.metrics`) are apart; the routes call the names below.
"""

from __future__ import annotations

from headrace.api.services.workflows.authoring import agents, create, workflow_id_for
from headrace.api.services.workflows.common import WorkflowNotFound
from headrace.api.services.workflows.listing import list_workflows
from headrace.api.services.workflows.metrics import metrics
from headrace.api.services.workflows.progress import cancel, get

__all__ = [
    "WorkflowNotFound",
    "agents",
    "cancel",
    "create",
    "get",
    "list_workflows",
    "metrics",
    "workflow_id_for",
]
