"""The ``headrace executor`` daemon: claims jobs over HTTP and runs them with :mod:`.execution`.

It talks only HTTP to the Headrace API (``X-API-Key`` with the ``executor`` scope), so it runs on
any host with Python: N worker threads long-poll ``POST /jobs/claim``; each claimed job gets a
heartbeat thread (at a fraction of the server's heartbeat timeout, so one lost beat does not lose
the job) and ends in ``PUT /jobs/{id}/complete`` or ``/fail``. A force-cancel seen in a heartbeat
answer kills the binary's process group. SIGTERM stops claiming, lets running jobs finish within
the grace period, then kills and fails the rest, so no job is left ``running`` for the reaper.
"""

from __future__ import annotations

import json
import logging
import random
import re
import signal
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from headrace.jobs.execution import (
    DEFAULT_ALLOWED_PREFIXES,
    TRUNCATION_MARKER,
    BinaryCache,
    ErrorKind,
    ExecutionResult,
    Limits,
    execute,
)

log = logging.getLogger("headrace.executor")

DEFAULT_HEARTBEAT_TIMEOUT = 60.0  # [headrace] job_heartbeat_timeout's default; no answer carries it
HEARTBEAT_FRACTION = 1 / 3  # three beats per timeout: one lost beat does not lose the job
MAX_ERROR_MESSAGE = 10_000  # FailRequest.error_message's bound
MAX_BODY_BYTES = 9 * 1024 * 1024  # the API takes request bodies up to 10 MB
_BACKOFF_MAX = 30.0


@dataclass(frozen=True)
class ExecutorConfig:
    """Everything ``headrace executor`` takes on its command line."""

    api_url: str  # up to and including /api/v1
    api_key: str
    executor_id: str
    concurrency: int = 1
    types: Sequence[str] = ()
    allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES
    job_timeout: float = 3600.0
    grace_period: float = 30.0
    poll_wait: float = 20.0  # long-poll seconds per claim; the queue accepts up to 30
    max_binary_bytes: int = 256 * 1024 * 1024
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "headrace" / "binaries")
    heartbeat_interval: float | None = None  # None: a third of the default server heartbeat timeout
    metrics_port: int | None = None
    metrics_addr: str = "0.0.0.0"  # scraped from other hosts
    request_timeout: float = 30.0


def default_executor_id() -> str:
    """``<hostname>-<random>``, within the API's pattern for executor ids."""
    host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname()).strip("-.") or "executor"
    return f"{host[:200]}-{random.getrandbits(32):08x}"


def local_ip(api_url: str) -> str:
    """The address this host uses towards the API (a UDP connect sends no packet)."""
    parts = urlsplit(api_url)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((parts.hostname or "127.0.0.1", parts.port or 80))
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class ApiError(Exception):
    """The API answered with an unexpected status; ``status`` None means it could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class HeartbeatAnswer:
    stop: bool  # the job was force-cancelled (or is gone): kill the binary
    gone: bool  # 404: the job is no longer ours (reaped or deleted)


class ApiClient:
    """The executor's half of the job-queue protocol (docs: /work/shared/contracts/job-queue-api.md)."""

    def __init__(self, config: ExecutorConfig, executor_ip: str) -> None:
        self.base = config.api_url.rstrip("/")
        self.executor_id = config.executor_id
        self.executor_ip = executor_ip
        self.timeout = config.request_timeout
        self.session = requests.Session()
        self.session.headers.update({"X-API-Key": config.api_key, "User-Agent": "headrace-executor"})

    def _send(self, method: str, path: str, body: Mapping[str, Any], timeout: float) -> requests.Response:
        try:
            return self.session.request(method, f"{self.base}{path}", json=dict(body), timeout=timeout)
        except requests.RequestException as exc:
            raise ApiError(f"{method} {path}: {exc}") from exc

    def claim(self, types: Sequence[str], wait: float) -> dict[str, Any] | None:
        """The claimed job (``JobDetail``: id, binary_url, ..., attempt), or None after ``wait``."""
        body: dict[str, Any] = {
            "executor_id": self.executor_id,
            "executor_ip": self.executor_ip,
            "hostname": socket.gethostname()[:250],
            "wait": wait,
        }
        if types:
            body["types"] = list(types)
        response = self._send("POST", "/jobs/claim", body, timeout=wait + self.timeout)
        if response.status_code == 204:
            return None
        if response.status_code != 200:
            raise ApiError(
                f"claim answered {response.status_code}: {response.text[:300]}", response.status_code
            )
        return response.json()

    def heartbeat(self, job_id: str, attempt: int | None) -> HeartbeatAnswer:
        body = {"executor_id": self.executor_id, "attempt": attempt}
        response = self._send("PUT", f"/jobs/{job_id}/heartbeat", body, self.timeout)
        if response.status_code in (404, 409):  # not running any more, or another attempt holds it
            return HeartbeatAnswer(stop=True, gone=True)
        if response.status_code != 200:
            raise ApiError(
                f"heartbeat answered {response.status_code}: {response.text[:300]}", response.status_code
            )
        return HeartbeatAnswer(stop=stop_requested(response.json()), gone=False)

    def report(
        self, job_id: str, attempt: int | None, result: ExecutionResult, error_message: str | None
    ) -> None:
        """``complete`` when ``error_message`` is None, else ``fail``; retried while unreachable or 5xx."""
        body: dict[str, Any] = {
            "executor_id": self.executor_id,
            "attempt": attempt,
            "stdout": result.stdout,
            "stderr": result.stderr,
            "exit_code": result.exit_code,
        }
        route = "complete"
        if error_message is not None:
            route, body["error_message"] = "fail", error_message[:MAX_ERROR_MESSAGE]
        body = fit_body(body)
        delay, tries = 1.0, 8
        for attempt_no in range(1, tries + 1):
            try:
                response = self._send("PUT", f"/jobs/{job_id}/{route}", body, self.timeout)
            except ApiError:
                if attempt_no == tries:
                    raise
            else:
                if response.status_code == 200:
                    return
                if response.status_code < 500 or attempt_no == tries:  # 400/404/409: final refusals
                    text = response.text[:300]
                    raise ApiError(f"{route} answered {response.status_code}: {text}", response.status_code)
            time.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)


def fit_body(body: dict[str, Any], most: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """Shorten stdout/stderr further when JSON escaping (``\\u0000`` is 6 bytes) would make the body
    larger than the API accepts; the cut is marked as :mod:`.execution` marks its own."""
    size = len(json.dumps(body))
    if size <= most:
        return body
    fitted = dict(body)
    for name in ("stdout", "stderr"):
        text = fitted.get(name) or ""
        keep = int(len(text) * most / size * 0.9)
        if keep < len(text):
            fitted[name] = text[:keep] + f"\n{TRUNCATION_MARKER}, escaped output too large to send]\n"
    return fitted


def stop_requested(answer: Mapping[str, Any]) -> bool:
    """Whether a heartbeat answer tells the running job to stop (``DELETE /jobs/{id}?force=true``)."""
    return bool(answer.get("cancel_requested"))


class _Metrics:
    """Prometheus metrics if prometheus_client is installed; otherwise nothing."""

    def __init__(self, port: int | None, addr: str) -> None:
        self.enabled = False
        if port is None:
            return
        try:
            import prometheus_client as prom
        except ImportError as exc:
            raise SystemExit("--metrics-port needs the prometheus_client package") from exc
        self.registry = prom.CollectorRegistry()
        self.claimed = prom.Counter("headrace_executor_jobs_claimed", "Jobs claimed", registry=self.registry)
        self.finished = prom.Counter(
            "headrace_executor_jobs_finished", "Jobs ended, by outcome", ["outcome"], registry=self.registry
        )
        self.running = prom.Gauge(
            "headrace_executor_jobs_running", "Jobs running now", registry=self.registry
        )
        self.duration = prom.Histogram(
            "headrace_executor_job_duration_seconds", "Run time of job binaries", registry=self.registry
        )
        self.api_errors = prom.Counter(
            "headrace_executor_api_errors", "Failed API calls", registry=self.registry
        )
        prom.start_http_server(port, addr=addr, registry=self.registry)
        self.enabled = True

    def job_claimed(self) -> None:
        if self.enabled:
            self.claimed.inc()
            self.running.inc()

    def job_finished(self, outcome: str, duration: float) -> None:
        if self.enabled:
            self.finished.labels(outcome).inc()
            self.running.dec()
            self.duration.observe(duration)

    def api_error(self) -> None:
        if self.enabled:
            self.api_errors.inc()


class Executor:
    """Worker threads claiming and running jobs until :meth:`request_stop`."""

    def __init__(self, config: ExecutorConfig) -> None:
        self.config = config
        self.api = ApiClient(config, local_ip(config.api_url))
        self.cache = BinaryCache(config.cache_dir, allowed_prefixes=tuple(config.allowed_prefixes))
        self.limits = Limits(timeout_seconds=config.job_timeout, max_binary_bytes=config.max_binary_bytes)
        self.metrics = _Metrics(config.metrics_port, config.metrics_addr)
        self.stopping = threading.Event()  # no more claims
        self.aborting = threading.Event()  # grace period over: kill what still runs
        self._running: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def request_stop(self, *_: object) -> None:
        if not self.stopping.is_set():
            log.info(
                "executor %s stopping: no new claims, grace period %gs",
                self.config.executor_id,
                self.config.grace_period,
            )
        self.stopping.set()

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT (when called from the main thread) or :meth:`request_stop`."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        cfg = self.config
        types, allow = ",".join(cfg.types) or "*", list(cfg.allowed_prefixes)
        log.info(
            "executor %s started: api=%s concurrency=%d types=%s allow=%s",
            cfg.executor_id, cfg.api_url, cfg.concurrency, types, allow,
        )  # fmt: skip
        workers = [
            threading.Thread(target=self._worker, name=f"worker-{n}", daemon=True)
            for n in range(cfg.concurrency)
        ]
        for worker in workers:
            worker.start()
        self.stopping.wait()
        deadline = time.monotonic() + cfg.grace_period
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.1)
        if self._busy():
            log.info(
                "executor %s grace period over: killing %d running job(s)", cfg.executor_id, self._busy()
            )
        self.aborting.set()
        with self._lock:
            for cancel in self._running.values():
                cancel.set()
        for worker in workers:  # a long-poll in flight returns within poll_wait
            worker.join(cfg.poll_wait + cfg.request_timeout + 10)
        log.info("executor %s stopped", cfg.executor_id)
        return 0

    def _busy(self) -> int:
        with self._lock:
            return len(self._running)

    def _worker(self) -> None:
        backoff = 1.0
        while not self.stopping.is_set():
            try:
                job = self.api.claim(self.config.types, self.config.poll_wait)
            except (ApiError, ValueError) as exc:
                self.metrics.api_error()
                pause = backoff * random.uniform(0.5, 1.0)
                log.warning("claim failed (%s); retrying in %.1fs", exc, pause)
                self.stopping.wait(pause)
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            backoff = 1.0
            if job is None:
                continue
            try:
                self._run_job(job)
            except Exception:  # e.g. a claim answer without an id: keep this worker alive
                log.exception("job %s: could not be handled", job.get("id") if isinstance(job, dict) else job)

    def _run_job(self, job: Mapping[str, Any]) -> None:
        job_id = str(job["id"])
        cancel = threading.Event()
        with self._lock:
            self._running[job_id] = cancel
        self.metrics.job_claimed()
        log.info("job %s claimed: type=%s executor=%s", job_id, job.get("type"), self.config.executor_id)
        stop_reason: list[str] = []  # set by the heartbeat thread: "cancelled" or "lost"
        done = threading.Event()
        attempt = job.get("attempt") if isinstance(job.get("attempt"), int) else None  # fencing token
        interval = self.config.heartbeat_interval or DEFAULT_HEARTBEAT_TIMEOUT * HEARTBEAT_FRACTION
        beat = threading.Thread(
            target=self._heartbeat,
            args=(job_id, attempt, interval, cancel, done, stop_reason),
            name=f"heartbeat-{job_id}",
            daemon=True,
        )
        beat.start()
        try:
            if self.aborting.is_set():  # claimed by a long-poll that returned after the grace period
                result = ExecutionResult(
                    None, error_kind=ErrorKind.CANCELLED, error_message="cancelled: not started"
                )
            else:
                log.info("job %s running", job_id)
                result = self._execute(job, cancel)
        finally:
            done.set()
            beat.join()
            with self._lock:
                self._running.pop(job_id, None)
        self._finish(job_id, attempt, result, stop_reason)

    def _execute(self, job: Mapping[str, Any], cancel: threading.Event) -> ExecutionResult:
        try:
            return execute(
                str(job["binary_url"]),
                str(job["binary_sha256"]),
                list(job.get("arguments") or []),
                dict(job.get("env_variables") or {}),
                cache=self.cache,
                limits=self.limits,
                cancel=cancel,
            )
        except Exception as exc:  # a bug must fail the job, not leave it running until reaped
            log.exception("job %s: executor error", job.get("id"))
            return ExecutionResult(
                None, error_kind=ErrorKind.LAUNCH, error_message=f"executor error: {exc!r}"
            )

    def _finish(
        self, job_id: str, attempt: int | None, result: ExecutionResult, stop_reason: list[str]
    ) -> None:
        if stop_reason == ["lost"]:  # heartbeat 404/409: the job is not ours any more; nothing to report
            log.info("job %s lost: no longer assigned to this executor; binary killed", job_id)
            self.metrics.job_finished("lost", result.duration_seconds)
            return
        message = result.error_message
        if stop_reason == ["cancelled"]:  # reported so the queue records the output; it stays cancelled
            message = "cancelled: force-cancelled through the API; binary killed with its process group"
        elif result.error_kind is ErrorKind.CANCELLED:
            cfg = self.config
            message = (
                f"executor shutdown: {cfg.executor_id} stopped and the grace period of "
                f"{cfg.grace_period:g}s elapsed; {message}"
            )
        try:
            self.api.report(job_id, attempt, result, message)
        except ApiError as exc:
            self.metrics.api_error()
            log.error("job %s result not recorded: %s", job_id, exc)
        outcome = "completed" if message is None else stop_reason[0] if stop_reason else "failed"
        self.metrics.job_finished(outcome, result.duration_seconds)
        if message is None:
            log.info("job %s completed: exit_code=0 duration=%.2fs", job_id, result.duration_seconds)
        else:
            log.info("job %s %s: %s (exit_code=%s)", job_id, outcome, message, result.exit_code)

    def _heartbeat(
        self,
        job_id: str,
        attempt: int | None,
        interval: float,
        cancel: threading.Event,
        done: threading.Event,
        stop_reason: list[str],
    ) -> None:
        while not done.wait(interval):
            try:
                answer = self.api.heartbeat(job_id, attempt)
            except (ApiError, ValueError) as exc:
                self.metrics.api_error()
                log.warning("job %s heartbeat failed: %s", job_id, exc)
                continue
            if answer.stop and not done.is_set():
                stop_reason.append("lost" if answer.gone else "cancelled")
                cancel.set()
                return
