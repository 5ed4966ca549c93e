"""HeadraceJobTrigger: waits in the triggerer until a job of the queue has ended.

A deferred ``JobExecutionOperator`` holds no worker slot while an executor runs its binary: this
trigger polls ``GET /jobs/{id}`` over async HTTP and fires once, with what the task needs to finish
(status, exit code, the tail of stdout, the error message), so resuming needs no further request.

Only the connection id is serialized (trigger kwargs are stored in the metadata database); the
API key is read in the triggerer, through the secrets backends, when the trigger runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from headrace.hooks.headrace_api import HeadraceApiError, HeadraceApiHook

TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
STDOUT_TAIL_CHARS = 4096
# Consecutive polls that got no answer (or a 429 or 5xx) before the trigger gives up.
MAX_TRANSIENT_ERRORS = 60  # five minutes at the default poll interval: an api-server restart


def tail(text: str | None, size: int = STDOUT_TAIL_CHARS) -> str:
    """The last ``size`` characters of ``text`` (what the task log and XCom can hold)."""
    return (text or "")[-size:]


def job_outcome(job: dict[str, Any]) -> dict[str, Any]:
    """The event (and the operator's result) of an ended job: ``status`` success or error."""
    status = job.get("status")
    outcome = {
        "status": "success" if status == "completed" else "error",
        "job_id": job.get("id"),
        "job_status": status,
        "exit_code": job.get("exit_code"),
        "stdout_tail": tail(job.get("stdout")),
        "stderr_tail": tail(job.get("stderr")),
    }
    if status != "completed":
        outcome["message"] = failure_message(job)
    return outcome


def failure_message(job: dict[str, Any]) -> str:
    """The job's own error message first; otherwise what is known about how it ended."""
    if job.get("error_message"):
        return f"Job {job.get('id')} {job.get('status')}: {job['error_message']}"
    if job.get("status") == "cancelled":
        return f"Job {job.get('id')} was cancelled"
    return f"Job {job.get('id')} {job.get('status')} with exit code {job.get('exit_code')}"


class HeadraceJobTrigger(BaseTrigger):
    """Fire once job ``job_id`` is completed, failed or cancelled.

    :param job_id: id of the job in the queue
    :param api_conn_id: the ``headrace_api`` connection the job was submitted through
    :param poll_interval: seconds between two ``GET /jobs/{id}``
    """

    def __init__(self, job_id: str, api_conn_id: str, poll_interval: float = 5.0) -> None:
        super().__init__()
        self.job_id = job_id
        self.api_conn_id = api_conn_id
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {"job_id": self.job_id, "api_conn_id": self.api_conn_id, "poll_interval": self.poll_interval},
        )

    def hook(self) -> HeadraceApiHook:
        return HeadraceApiHook(api_conn_id=self.api_conn_id)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        errors = 0
        last_status = None
        while True:
            try:
                job = await hook.aget_job(self.job_id)
            except HeadraceApiError as exc:
                errors = errors + 1 if exc.transient else MAX_TRANSIENT_ERRORS
                self.log.warning("Job %s: GET /jobs/%s failed: %s", self.job_id, self.job_id, exc)
                if errors >= MAX_TRANSIENT_ERRORS:
                    message = f"Job {self.job_id} could not be followed: {exc}"
                    yield TriggerEvent({"status": "error", "job_id": self.job_id, "message": message})
                    return
            else:
                errors = 0
                if job.get("status") in TERMINAL_STATUSES:
                    yield TriggerEvent(job_outcome(job))
                    return
                if job.get("status") != last_status:
                    last_status = job.get("status")
                    self.log.info("Job %s is %s", self.job_id, last_status)
            await asyncio.sleep(self.poll_interval)

    async def on_kill(self) -> None:
        """A user stopped the deferred task (mark failed, clear): stop its job too, even a running one."""
        try:
            await self.hook().acancel_job(self.job_id, force=True)
        except HeadraceApiError as exc:  # it has ended meanwhile
            self.log.info("Job %s not cancelled: %s", self.job_id, exc)
