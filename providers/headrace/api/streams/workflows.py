"""The WebSocket's ``workflow_status`` messages, computed once per process from the event log.

Airflow's runs and task instances reach the log as ``source="airflow"`` events (jobs and subjobs,
see headrace/listeners/translate.py). This hub is one subscriber of the event fan-out: for each run
a batch of events touches, it reads the run once (status, progress, current step, as the workflows
API's GET /workflows/{id} computes them) and publishes a message when something changed.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from headrace.api.streams import fanout

log = logging.getLogger(__name__)


def _run_of(event: Any) -> tuple[str, str] | None:
    metadata = event.metadata or {}
    if event.source != "airflow" or not metadata.get("dag_id") or not metadata.get("run_id"):
        return None
    if event.entity_type == "job" and metadata.get("headrace") not in ("workflow", None):
        return None  # the ingestion DAG is no workflow
    return metadata["dag_id"], metadata["run_id"]


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def workflow_message(dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The ``workflow_status`` of one run of a workflow DAG; None for a DAG that is no workflow."""
    from headrace.api.services import workflow_runs
    from headrace.api.services.definitions import stored_plan
    from headrace.api.services.workflows.common import status_of

    try:
        plan = stored_plan(dag_id)
    except Exception:  # a definition that no longer reads: its runs are still reported, by task count
        plan = None
        log.debug("Workflow %s: definition unreadable", dag_id, exc_info=True)
    view = workflow_runs.get_run(dag_id, run_id)
    if view is None or (plan is None and not _is_workflow_dag(dag_id)):
        return None
    total = len(plan.tasks) if plan is not None else len(view.tasks)
    current = view.current
    return {
        "type": "workflow_status",
        "workflow_id": dag_id,
        "status": status_of(view),
        "progress": round(100 * view.finished_tasks / total) if total else 0,
        "current_step": current.task_id if current else None,
        "timestamp": _timestamp(),
    }


def _is_workflow_dag(dag_id: str) -> bool:
    from headrace.workflows.repository import WorkflowRepository

    return WorkflowRepository().path_of(dag_id) is not None


class WorkflowHub(fanout.Hub):
    def __init__(self, events: fanout.EventFanout) -> None:
        super().__init__()
        self.events = events
        self.last: dict[str, dict[str, Any]] = {}  # workflow_id -> its last message (without timestamp)

    async def produce(self) -> None:
        source = fanout.Subscriber(accepts=lambda event: _run_of(event) is not None)
        self.events.add(source)
        try:
            while self.subscribers:
                item = await fanout.next_item(source, 1.0)
                if item is None:
                    continue
                if fanout.is_closed(item):  # we fell behind: start again from the live end
                    self.events.remove(source)
                    source = fanout.Subscriber(accepts=source.accepts)
                    self.events.add(source)
                    continue
                batch = [item]
                while not source.queue.empty():
                    extra = source.queue.get_nowait()
                    if not fanout.is_closed(extra):
                        batch.append(extra)
                runs = list(dict.fromkeys(run for run in map(_run_of, batch) if run is not None))
                for message in await asyncio.to_thread(self._messages, runs):
                    self.publish(message)
        finally:
            self.events.remove(source)

    def _messages(self, runs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        messages = []
        for dag_id, run_id in runs:
            try:
                message = workflow_message(dag_id, run_id)
            except Exception:
                log.exception("Could not read run %s of workflow %s", run_id, dag_id)
                continue
            if message is None:
                continue
            key = {k: v for k, v in message.items() if k != "timestamp"}
            if self.last.get(dag_id) != key:
                self.last[dag_id] = key
                messages.append(message)
        return messages


def hub() -> WorkflowHub:
    return fanout.shared("workflows", lambda: WorkflowHub(fanout.events()))
