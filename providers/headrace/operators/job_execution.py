"""JobExecutionOperator: run a job binary (URL + sha256) from a DAG, queued or inline.

``mode="queue"`` submits the job to Headrace's job queue through its REST API (a ``headrace_api``
connection) and defers on :class:`~headrace.triggers.job.HeadraceJobTrigger`: no worker slot is held
while a ``headrace executor`` runs the binary. ``mode="inline"`` runs it in the task itself, with
the executor's own code (:func:`headrace.jobs.execution.execute`), so both modes download, verify
and run a binary the same way.

Either way the task pushes the job id, exit code and the tail of stdout to XCom and fails with the
job's error message when the job does not complete.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from airflow.configuration import AIRFLOW_HOME
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException
from pydantic import ValidationError

from headrace import config
from headrace.hooks.headrace_api import HeadraceApiError, HeadraceApiHook
from headrace.jobs import execution
from headrace.jobs.validation import problems, validate_submission
from headrace.operators.failures import fail_task, push_xcom
from headrace.triggers.job import (
    MAX_TRANSIENT_ERRORS,
    TERMINAL_STATUSES,
    HeadraceJobTrigger,
    job_outcome,
    tail,
)

# XCom keys the operator pushes (besides its return value).
XCOM_JOB_ID = "job_id"  # the queue's job id (None in inline mode: no job was queued)
XCOM_EXIT_CODE = "exit_code"
XCOM_STDOUT_TAIL = "stdout_tail"  # the last STDOUT_TAIL_CHARS characters of stdout
ERROR_XCOM_KEY = "job_error"  # the message the task failed with

MODES = ("queue", "inline")
DEFAULT_JOB_TYPE = "airflow"  # executors started with --types airflow take the jobs of DAGs


def _templated(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class JobExecutionOperator(BaseOperator):
    """Run the binary at ``binary_url`` (if it hashes to ``binary_sha256``) with ``arguments``.

    Returns ``{"job_id", "status", "exit_code"}``; pushes ``job_id``, ``exit_code`` and
    ``stdout_tail`` to XCom. A job that fails or is cancelled fails the task with its error message
    (no retry: the same binary and arguments fail the same way); an unreachable API is retried.
    Called outside an Airflow task (a context without ``ti``, e.g. in a test) it pushes no XCom and
    returns the same dict; use ``mode="inline"`` or ``deferrable=False`` there, as no triggerer resumes
    a deferred task.

    :param binary_url: URL of the executable; must match ``[headrace] job_binary_url_allowlist``
    :param binary_sha256: SHA-256 (hex) of the binary; a mismatch is never executed
    :param arguments: command-line arguments of the binary
    :param env_variables: environment of the binary (besides a minimal ``PATH`` and ``HOME``)
    :param priority: ``foreground``, ``background`` or ``best_effort`` (queue mode)
    :param mode: ``queue`` (an executor runs it) or ``inline`` (this task runs it)
    :param job_type: the job's ``type`` in the queue, which executors may claim by (default ``airflow``)
    :param api_conn_id: the ``headrace_api`` connection of queue mode; fixed, never templated
    :param deferrable: queue mode waits in the triggerer (default); ``False`` polls in the task
    :param poll_interval: seconds between two looks at the queued job
    """

    template_fields: Sequence[str] = (
        "binary_url",
        "binary_sha256",
        "arguments",
        "env_variables",
        "priority",
        "mode",
        "job_type",
    )
    template_fields_renderers = {"arguments": "json", "env_variables": "json"}
    ui_color = "#fde2c8"

    def __init__(
        self,
        *,
        binary_url: str,
        binary_sha256: str,
        arguments: list[str] | None = None,
        env_variables: dict[str, str] | None = None,
        priority: str = "background",
        mode: str = "queue",
        job_type: str | None = None,
        api_conn_id: str = HeadraceApiHook.default_conn_name,
        # True, not [operators] default_deferrable: the point of queue mode is not to hold a slot.
        deferrable: bool = True,
        poll_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not _templated(mode) and mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if _templated(api_conn_id):
            raise ValueError("api_conn_id is fixed in the DAG, never templated")
        self.binary_url = binary_url
        self.binary_sha256 = binary_sha256
        self.arguments = arguments or []
        self.env_variables = env_variables or {}
        self.priority = priority
        self.mode = mode
        self.job_type = job_type
        self.api_conn_id = api_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self._job_id: str | None = None
        self._cancel: threading.Event | None = None  # made in execute: operators are deep-copied

    # -- Airflow entry points -----------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        if self.mode not in MODES:
            self._fail(context, f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.mode == "inline":
            return self._finish(context, self._run_inline(context))
        job_id = self._submit(context)
        if self.deferrable:
            self.defer(
                trigger=HeadraceJobTrigger(job_id, self.api_conn_id, self.poll_interval),
                method_name="execute_complete",
                timeout=self.execution_timeout,
            )
        return self._finish(context, self._poll(job_id))

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        """Resumed from the trigger with the ended job (see :func:`~headrace.triggers.job.job_outcome`)."""
        return self._finish(context, event)

    def on_kill(self) -> None:
        """A stopped task stops its job: inline, the binary's process group; queued, the job (the
        deferred task's trigger does the same in :meth:`HeadraceJobTrigger.on_kill`)."""
        if self._cancel is not None:
            self._cancel.set()
        if self._job_id is not None:
            try:
                HeadraceApiHook(self.api_conn_id).cancel_job(self._job_id, force=True)
            except HeadraceApiError as exc:
                self.log.info("Job %s not cancelled: %s", self._job_id, exc)

    # -- queue mode ---------------------------------------------------------------------------

    def job_body(self) -> dict[str, Any]:
        """The ``POST /jobs`` body of this task (after its fields were rendered)."""
        return {
            "type": self.job_type or DEFAULT_JOB_TYPE,
            "binary_url": self.binary_url,
            "binary_sha256": self.binary_sha256,
            "arguments": [str(a) for a in self.arguments],
            "env_variables": {str(k): str(v) for k, v in self.env_variables.items()},
            "priority": self.priority,
        }

    def _submit(self, context: Any) -> str:
        try:
            job = HeadraceApiHook(self.api_conn_id).submit_job(self.job_body())
        except HeadraceApiError as exc:
            if exc.transient:
                raise AirflowException(f"Job not submitted: {exc}") from exc
            self._fail(context, f"Job not submitted: {exc}")  # a refused job is refused on every try
        self._job_id = job["id"]
        push_xcom(context, XCOM_JOB_ID, self._job_id)
        self.log.info("Submitted job %s (%s)", self._job_id, job.get("status"))
        return self._job_id

    def _poll(self, job_id: str) -> dict[str, Any]:
        """``deferrable=False``: wait in the task, as the trigger would in the triggerer."""
        hook = HeadraceApiHook(self.api_conn_id)
        errors = 0
        while True:
            try:
                job = hook.get_job(job_id)
            except HeadraceApiError as exc:
                errors += 1
                if not exc.transient or errors >= MAX_TRANSIENT_ERRORS:
                    raise AirflowException(f"Job {job_id} could not be followed: {exc}") from exc
                self.log.warning("GET /jobs/%s failed: %s", job_id, exc)
            else:
                errors = 0
                if job.get("status") in TERMINAL_STATUSES:
                    return job_outcome(job)
            time.sleep(self.poll_interval)

    # -- inline mode --------------------------------------------------------------------------

    def _run_inline(self, context: Any) -> dict[str, Any]:
        try:  # the queue's own rules (allow-list, sha256, variable names), as a queued job meets them
            validate_submission(self.job_body())
        except ValidationError as exc:
            self._fail(context, "Job refused: " + "; ".join(p["message"] for p in problems(exc)))
        limits = execution.Limits(
            timeout_seconds=self.execution_timeout.total_seconds() if self.execution_timeout else None
        )
        self._cancel = threading.Event()
        allowed = config.job_binary_url_allowlist()
        cache = execution.BinaryCache(binary_cache_folder(), allowed_prefixes=allowed)
        result = execution.execute(
            self.binary_url,
            self.binary_sha256,
            [str(a) for a in self.arguments],
            {str(k): str(v) for k, v in self.env_variables.items()},
            cache=cache,
            limits=limits,
            cancel=self._cancel,
        )
        cancelled = result.error_kind is execution.ErrorKind.CANCELLED
        outcome = {
            "status": "success" if result.succeeded else "error",
            "job_id": None,
            "job_status": "completed" if result.succeeded else "cancelled" if cancelled else "failed",
            "exit_code": result.exit_code,
            "stdout_tail": tail(result.stdout),
            "stderr_tail": tail(result.stderr),
        }
        if not result.succeeded:
            outcome["message"] = f"Inline job failed: {result.error_message}"
        return outcome

    # -- both ---------------------------------------------------------------------------------

    def _finish(self, context: Any, outcome: dict[str, Any]) -> dict[str, Any]:
        push_xcom(context, XCOM_JOB_ID, outcome.get("job_id"))  # no task instance, no XComs
        push_xcom(context, XCOM_EXIT_CODE, outcome.get("exit_code"))
        push_xcom(context, XCOM_STDOUT_TAIL, outcome.get("stdout_tail", ""))
        for name in ("stdout", "stderr"):
            if text := outcome.get(f"{name}_tail"):
                self.log.info("Job %s (last %d characters):\n%s", name, len(text), text)
        if outcome.get("status") != "success":
            self._fail(context, outcome.get("message") or f"Job {outcome.get('job_id')} did not complete")
        self.log.info("Job %s completed with exit code %s", outcome.get("job_id"), outcome.get("exit_code"))
        return {
            "job_id": outcome.get("job_id"),
            "status": outcome.get("job_status"),
            "exit_code": outcome.get("exit_code"),
        }

    def _fail(self, context: Any, message: str) -> NoReturn:
        fail_task(context, ERROR_XCOM_KEY, message)


def binary_cache_folder() -> Path:
    """Where inline mode keeps verified binaries on this worker (one file per sha256)."""
    return Path(AIRFLOW_HOME) / "headrace" / "job-binaries"
