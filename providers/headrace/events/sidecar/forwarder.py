"""Forwarding to the job-monitoring upstream: directly when it answers, through the spool when not.

The rule that keeps order: while the spool holds anything, new events join the end of the spool
instead of overtaking it; a replay thread drains it oldest first, with exponential backoff (plus
jitter) while the upstream is down, slow, rate limiting (429), broken (5xx) or refusing the key
(401/403: logged loudly, kept, retried, since only the operator can fix the key). Events the
upstream lists in ``rejected`` are invalid and go to the dead-letter file with its reasons, so one
bad event never blocks the rest.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from headrace.events.sidecar.metrics import SidecarMetrics
from headrace.events.sidecar.spool import DeadLetters, Spool

log = logging.getLogger(__name__)

BATCH_PATH = "/v1/ingest/events:batch"


class UpstreamUnavailable(Exception):
    """The upstream did not take the batch; ``reason`` is a metrics label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Outcome:
    accepted: int  # stored or already there (duplicates)
    dead: int  # refused as invalid, dead-lettered


@dataclass
class Forwarder:
    upstream: str
    api_key: str = field(repr=False)
    spool: Spool
    dead_letters: DeadLetters
    metrics: SidecarMetrics
    timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    replay_batch: int = 500

    def __post_init__(self) -> None:
        self.upstream = self.upstream.rstrip("/")
        self._client = httpx.Client(timeout=self.timeout)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.state = "unknown"  # ok | unreachable | unauthorized | rate_limited | error
        self.metrics.bind_spool(self.spool)

    # -- upstream ----------------------------------------------------------------------------

    def _post(self, events: list[dict[str, Any]]) -> Outcome:
        """One ``POST .../events:batch``; raises :class:`UpstreamUnavailable` unless it took it."""
        try:
            response = self._client.post(
                self.upstream + BATCH_PATH,
                content=json.dumps(events, separators=(",", ":"), ensure_ascii=False).encode(),
                headers={"X-API-Key": self.api_key, "Content-Type": "application/json"},
            )
        except httpx.TimeoutException as exc:
            raise UpstreamUnavailable("timeout", f"upstream timed out: {exc}") from exc
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("connection", f"upstream unreachable: {exc}") from exc
        status = response.status_code
        if status in (401, 403):
            self.state = "unauthorized"
            log.error(
                "UPSTREAM REFUSES THE API KEY (HTTP %s): events stay spooled and are retried; "
                "fix --api-key / HEADRACE_API_KEY",
                status,
            )
            raise UpstreamUnavailable("unauthorized", f"HTTP {status}")
        if status in (400, 422):
            # The upstream calls the request itself invalid: resending it cannot help, and a
            # batch stuck at the head of the spool would block everything behind it.
            reason = [
                {"field": "(batch)", "message": f"upstream answered HTTP {status}: {response.text[:500]}"}
            ]
            self.dead_letters.add([(e, reason) for e in events])
            self.metrics.dead_lettered.inc(len(events))
            log.error(
                "upstream refused a batch of %d as invalid (HTTP %s); dead-lettered", len(events), status
            )
            return Outcome(accepted=0, dead=len(events))
        if status == 429:
            raise UpstreamUnavailable("rate_limited", "HTTP 429")
        if status != 200:
            raise UpstreamUnavailable("http_error" if status < 500 else "server_error", f"HTTP {status}")
        try:
            body = response.json()
            rejected = {int(r["index"]): r.get("errors") for r in body.get("rejected") or []}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UpstreamUnavailable("bad_answer", f"unreadable answer: {exc}") from exc
        dead = [(events[i], errors) for i, errors in sorted(rejected.items()) if 0 <= i < len(events)]
        if dead:
            self.dead_letters.add(dead)
            self.metrics.dead_lettered.inc(len(dead))
            log.warning("upstream rejected %d event(s) as invalid; see %s", len(dead), self.dead_letters.path)
        self.state = "ok"
        return Outcome(accepted=len(events) - len(dead), dead=len(dead))

    # -- intake ------------------------------------------------------------------------------

    def submit(self, events: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Forward or spool valid events; ``(forwarded, spooled, dead_lettered)``.

        Returns only once every event is at the upstream or fsync'd in the spool; raises
        :class:`~headrace.events.sidecar.spool.SpoolFull` when it can be neither.
        """
        if not events:
            return 0, 0, 0
        # No lock across the POST: concurrent requests have no order between them anyway, and one
        # slow upstream call must not hold up every other request. Once one fails, the spool is
        # not empty and the next ones go straight to it.
        if len(self.spool) == 0:
            try:
                outcome = self._post(events)
            except UpstreamUnavailable as exc:
                self._failed(exc)
            else:
                self.metrics.forwarded.inc(outcome.accepted)
                return outcome.accepted, 0, outcome.dead
        self.spool.append(events)
        self.metrics.spooled.inc(len(events))
        self._wake.set()
        return 0, len(events), 0

    def _failed(self, exc: UpstreamUnavailable) -> None:
        self.metrics.upstream_errors.labels(reason=exc.reason).inc()
        if exc.reason != "unauthorized":
            self.state = "unreachable" if exc.reason in ("timeout", "connection") else "error"
            log.warning("upstream not taking events (%s); spooling", exc)

    # -- replay ------------------------------------------------------------------------------

    def replay_once(self) -> bool:
        """Send the oldest spooled batch; True when it was delivered (or nothing was waiting)."""
        batch = self.spool.peek(max_records=self.replay_batch)
        if not batch.records:
            return True
        try:
            outcome = self._post(batch.records)
        except UpstreamUnavailable as exc:
            self._failed(exc)
            return False
        self.spool.commit(batch)
        self.metrics.replayed.inc(outcome.accepted)
        log.info("replayed %d spooled event(s), %d left", len(batch.records), len(self.spool))
        return True

    def _run(self) -> None:
        delay = self.backoff_initial
        while not self._stop.is_set():
            if len(self.spool) == 0:
                self._wake.wait(1.0)
                self._wake.clear()
                delay = self.backoff_initial
                continue
            if self.replay_once():
                delay = self.backoff_initial
                continue
            self._stop.wait(delay * random.uniform(0.8, 1.2))
            delay = min(self.backoff_max, delay * 2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sidecar-replay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
        self._client.close()
        self.spool.close()
