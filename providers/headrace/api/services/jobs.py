"""The job-queue API's glue: the queue on Airflow's metadata database, its refusals as API errors,
the process-wide long-poll cap and the rescue thread.

Rescue runs in the api-server, the one process every executor talks to: a daemon thread started in
each api-server process by its first job-queue request, every quarter of the heartbeat timeout
(1 to 15 seconds), and at most once every few seconds before a claim. Concurrent rescuers are
harmless (each move is a conditional UPDATE; PostgreSQL also takes an advisory lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from headrace import config
from headrace.api.errors import ApiError, BadRequest, Conflict, NotFound
from headrace.jobs import (
    InvalidTransition,
    JobNotFound,
    JobNotOwned,
    JobNotRunning,
    JobQueue,
    JobQueueError,
    QueueSettings,
    Waiters,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_CLAIM_RESCUE_EVERY = 5.0  # seconds between rescues run on the claim path in one process

_lock = threading.Lock()
_state: dict[str, object] = {}


def settings() -> QueueSettings:
    return QueueSettings(
        heartbeat_timeout=config.job_heartbeat_timeout(),
        max_attempts=config.job_max_attempts(),
        allowlist=config.job_binary_url_allowlist(),
        site_id=config.monitoring_site_id(),
    )


def queue() -> JobQueue:
    """The queue on the metadata database; starts this process's rescue thread on first use."""
    from airflow import settings as airflow_settings

    ensure_rescuer()
    return JobQueue(airflow_settings.engine, settings())


def waiters() -> Waiters:
    with _lock:
        if "waiters" not in _state:
            _state["waiters"] = Waiters(config.job_claim_max_waiters())
        return _state["waiters"]  # type: ignore[return-value]


def call(action: Callable[[], T]) -> T:
    """Run a queue operation; its refusals become the contract's status codes."""
    try:
        return action()
    except JobQueueError as exc:
        raise as_api_error(exc) from exc


def as_api_error(exc: JobQueueError) -> ApiError:
    if isinstance(exc, JobNotFound | JobNotRunning):  # the contract: 404 "not found or not running"
        return NotFound(exc.message, code=exc.code, details=exc.context)
    if isinstance(exc, JobNotOwned):
        return Conflict(exc.message, code=exc.code, details=exc.context)
    if isinstance(exc, InvalidTransition):
        return BadRequest(exc.message, code=exc.code, details=exc.context)
    return BadRequest(exc.message, code=exc.code, details=exc.context)


def rescue_before_claim(jobs: JobQueue) -> None:
    """Claims see rescued jobs promptly even between two rounds of the thread."""
    with _lock:
        last = float(_state.get("claim_rescue", 0.0))  # type: ignore[arg-type]
        if time.monotonic() - last < _CLAIM_RESCUE_EVERY:
            return
        _state["claim_rescue"] = time.monotonic()
    _rescue_quietly(jobs)


def ensure_rescuer() -> None:
    """Start this process's rescue thread once (a forked worker starts its own)."""
    with _lock:
        thread = _state.get("rescuer")
        if isinstance(thread, threading.Thread) and thread.is_alive():
            return
        thread = threading.Thread(target=_rescue_forever, name="headrace-job-rescue", daemon=True)
        _state["rescuer"] = thread
        thread.start()


def _rescue_forever() -> None:
    from airflow import settings as airflow_settings

    while True:
        current = settings()
        _rescue_quietly(JobQueue(airflow_settings.engine, current))
        time.sleep(min(15.0, max(1.0, current.heartbeat_timeout / 4)))


def _rescue_quietly(jobs: JobQueue) -> None:
    try:
        jobs.rescue()
    except Exception:  # the database may be away for a moment; the next round retries
        log.warning("Rescue of lost binary jobs failed", exc_info=True)
