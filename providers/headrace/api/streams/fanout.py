"""One read of the event log per api-server process, fanned out to every live stream client.

A client is a :class:`Subscriber`: a bounded asyncio queue and a filter. The single poller task
(started with the first subscriber, ended when the last one leaves) reads the log in a worker thread
every ``[headrace] stream_poll_interval`` seconds and offers each new event to every subscriber. A
subscriber whose queue is full is *dropped* rather than buffered without bound: its stream ends, and
the client resumes with ``Last-Event-ID`` from the log, so nothing is lost.

Fan-out cost. A poll's events go to each subscriber in one step (:meth:`Subscriber.offer_all`); an
SSE client is a :class:`Batch`, which takes them as one list and wakes its task once per poll, however
many events the poll read. Subscribers are served ``CHUNK`` at a time with a pause of
``CHUNK_PAUSE`` between chunks, so a REST request sharing the loop waits behind at most one chunk of
woken clients, not behind all of them. The pause, not a bare yield, is what leaves the request room:
each client's write passes Airflow's middlewares (``BaseHTTPMiddleware`` hands every message to
another task through a memory stream), so a poll fanned out to 200 clients is a burst of ~25 ms on
the loop, which also holds the interpreter lock the WSGI thread answering REST requests needs. With
``sleep(0)`` between chunks the p99 of a REST read with 200 clients was 1.9-2.1x the p99 without;
with 4 ms pauses 0.9-1.3x (benchmarks/events_streams.py), for 100 ms more until the last client of a
poll is written to.

Late rows. On PostgreSQL, ids come from a sequence when a transaction inserts, not when it commits,
so id 11 may become visible after id 12 was read. The poller therefore keeps the ids it has not seen
below its high-water mark as *gaps* and re-reads from the lowest gap on every poll (deduplicating by
id) for ``GAP_SECONDS``: a row that commits within that time after a higher id was read is delivered
(out of id order); a gap older than that is taken as a rolled-back insert and forgotten. Each event
is delivered at most once per subscriber.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headrace import config

log = logging.getLogger(__name__)

GAP_SECONDS = 30.0  # how long an unseen id below the high-water mark is waited for
PAGE = 500
MAX_GAP = 1000  # unseen ids awaited at most per jump
QUEUE_SIZE = 1000  # events buffered for one client before it counts as too slow
CHUNK = 8  # subscribers offered a poll's events between two yields to the event loop
CHUNK_PAUSE = 0.004  # seconds the loop is left to other work between two chunks (see above)


@dataclass(eq=False)
class Subscriber:
    """One client's view of a hub: what it accepts, and what waits to be sent to it."""

    accepts: Callable[[Any], bool] = lambda item: True
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    dropped: bool = False

    def offer(self, item: Any) -> bool:
        """Queue ``item`` if wanted; False when the queue is full (the subscriber is then dropped)."""
        if self.dropped or not self.accepts(item):
            return True
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped = True
            return False
        return True

    def offer_all(self, items: list) -> bool:
        """Queue each of ``items`` it wants, in order, one queue item each; False when the queue is full."""
        return all(self.offer(item) for item in items)

    def close(self) -> None:
        """End the stream: the client gets ``_CLOSED`` next, without waiting out a full queue."""
        self.dropped = True
        self.queue = asyncio.Queue(1)
        self.queue.put_nowait(_CLOSED)


class Batch:
    """A subscriber that takes what it wants of a poll's events as one list, woken once per poll.

    ``pending`` holds the events not yet taken (at most ``QUEUE_SIZE``; more and it is dropped);
    :meth:`wait` returns once there are some, once it is dropped, or on :meth:`wake`.
    """

    def __init__(self, accepts: Callable[[Any], bool] = lambda item: True) -> None:
        self.accepts = accepts
        self.pending: list[Any] = []
        self.dropped = False
        self._woken = False  # wake() called since wait() last returned
        self._waiter: asyncio.Future | None = None

    def offer(self, item: Any) -> bool:
        return self.offer_all([item])

    def offer_all(self, items: list) -> bool:
        if self.dropped:
            return True
        wanted = [item for item in items if self.accepts(item)]
        if not wanted:
            return True
        if len(self.pending) + len(wanted) > QUEUE_SIZE:
            self.close()
            return False
        self.pending += wanted
        self.wake()
        return True

    def take(self) -> list[Any]:
        """The pending events, oldest first; none are pending afterwards."""
        items, self.pending = self.pending, []
        return items

    def close(self) -> None:
        self.dropped = True
        self.pending = []
        self.wake()

    def wake(self) -> None:
        """Let :meth:`wait` return (also without events: a heartbeat is due, the client left), now or,
        if nobody waits, at its next call."""
        self._woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self) -> None:
        if not (self._woken or self.pending or self.dropped):
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._woken = False


class Hub:
    """Subscribers of one kind of item and the producer task that feeds them, alive while anyone listens."""

    def __init__(self) -> None:
        self.subscribers: set[Subscriber | Batch] = set()
        self._task: asyncio.Task | None = None

    def add(self, subscriber: Subscriber | Batch) -> None:
        self.subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, subscriber: Subscriber | Batch) -> None:
        self.subscribers.discard(subscriber)

    def publish(self, item: Any) -> None:
        for subscriber in list(self.subscribers):
            if not subscriber.offer(item):
                self._drop(subscriber)

    async def publish_all(self, items: list) -> None:
        """Offer ``items`` to every current subscriber, each in one step, ``CHUNK`` subscribers
        between two yields to the loop. Who is a subscriber is decided when called (a subscriber
        that leaves meanwhile gets nothing more)."""
        subscribers = list(self.subscribers)
        for start in range(0, len(subscribers), CHUNK):
            if start:
                await asyncio.sleep(CHUNK_PAUSE)
            for subscriber in subscribers[start : start + CHUNK]:
                if subscriber in self.subscribers and not subscriber.offer_all(items):
                    self._drop(subscriber)

    def _drop(self, subscriber: Subscriber | Batch) -> None:
        log.info("Dropped a stream client too slow to keep up (it resumes from its last id)")
        self.subscribers.discard(subscriber)
        close(subscriber)

    async def _run(self) -> None:
        try:
            await self.produce()
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken producer ends its streams; the next subscriber restarts it
            log.exception("A stream producer failed")
            for subscriber in list(self.subscribers):
                close(subscriber)
            self.subscribers.clear()

    async def produce(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


_CLOSED = object()  # the item that tells a client its stream has ended


def close(subscriber: Subscriber | Batch) -> None:
    """End a subscriber's stream (a :class:`Subscriber` gets ``_CLOSED`` next)."""
    subscriber.close()


def is_closed(item: Any) -> bool:
    return item is _CLOSED


def drain(subscriber: Subscriber) -> list[Any]:
    """Every item already queued for ``subscriber``, without waiting."""
    items = []
    while not subscriber.queue.empty():
        items.append(subscriber.queue.get_nowait())
    return items


async def next_item(subscriber: Subscriber, timeout: float) -> Any:
    """The subscriber's next item, None after ``timeout`` (time for a heartbeat), ``_CLOSED`` if dropped."""
    if subscriber.dropped and subscriber.queue.empty():
        return _CLOSED
    try:
        return await asyncio.wait_for(subscriber.queue.get(), timeout)
    except TimeoutError:
        return _CLOSED if subscriber.dropped else None


class EventFanout(Hub):
    """The event log, read once per process for all subscribers (SSE clients, the WebSocket's workflows)."""

    def __init__(self, read_after: Callable[[int], list], last_id: Callable[[], int]) -> None:
        super().__init__()
        self._read_after = read_after  # (after_id) -> events with id > after_id, ascending, <= PAGE
        self._last_id = last_id
        self.high: int | None = None  # highest id read
        self.gaps: dict[int, float] = {}  # unseen id below ``high`` -> monotonic time it was noticed
        self._ready = asyncio.Event()

    async def start_position(self) -> int:
        """Where a new subscriber's live part begins (the current end of the log when it joined);
        RuntimeError when the log cannot be read."""
        await self._ready.wait()
        if self.high is None:
            raise RuntimeError("The event log cannot be read")
        return self.high

    def floor(self) -> int:
        """Ids at or below this are never delivered live again (neither seen nor awaited as gaps)."""
        assert self.high is not None
        return min(self.gaps, default=self.high + 1) - 1

    async def produce(self) -> None:
        try:  # from the current end: what happened while nobody listened is read back by id, not live
            self.high, self.gaps = await asyncio.to_thread(self._last_id), {}
        except Exception:
            self.high = None
            raise
        finally:
            self._ready.set()  # also on failure: waiting subscribers see high is None
        try:
            await self._poll_loop()
        finally:
            self._ready.clear()

    async def _poll_loop(self) -> None:
        idle_since: float | None = None
        while True:
            if not self.subscribers:  # nobody listens: stop soon, but not between two quick reconnects
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 5 * config.stream_poll_interval() + 1:
                    return
            else:
                idle_since = None
                fresh, self.gaps, self.high = await asyncio.to_thread(self.poll)
                if fresh:  # to the subscribers of the step that set the new high: start_position() agrees
                    await self.publish_all(fresh)
            await asyncio.sleep(config.stream_poll_interval())

    def poll(self) -> tuple[list, dict[int, float], int]:
        """New events since the last poll, late rows included, each once, with the new gaps and
        high-water mark (runs in a worker thread; the caller stores them on the loop)."""
        assert self.high is not None
        now, high = time.monotonic(), self.high
        gaps = {gap: since for gap, since in self.gaps.items() if now - since < GAP_SECONDS}
        after = min(gaps, default=high + 1) - 1
        fresh = []
        while True:
            page = self._read_after(after)
            for event in page:
                if event.id > high:
                    if event.id - high <= MAX_GAP:  # a larger jump is a sequence skip, not commits
                        gaps.update(dict.fromkeys(range(high + 1, event.id), now))
                    high = event.id
                    fresh.append(event)
                elif gaps.pop(event.id, None) is not None:
                    fresh.append(event)  # a late row
            if len(page) < PAGE:
                break
            after = page[-1].id
        return fresh, gaps, high


def log_readers() -> tuple[Callable[[int], list], Callable[[], int]]:
    """The metadata database's event log, as the fan-out reads it."""
    from airflow import settings

    from headrace.events.log import EventLog

    event_log = EventLog(settings.engine)
    return (lambda after: event_log.read_after(after, limit=PAGE)), event_log.last_id


class _PerLoop:
    """Process-wide singletons, rebuilt if the event loop changes (tests run several servers)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.items: dict[str, Any] = {}

    def get(self, name: str, factory: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        if loop is not self.loop:
            self.loop, self.items = loop, {}
        if name not in self.items:
            self.items[name] = factory()
        return self.items[name]


_singletons = _PerLoop()


def shared(name: str, factory: Callable[[], Any]) -> Any:
    return _singletons.get(name, factory)


def events() -> EventFanout:
    return shared("events", lambda: EventFanout(*log_readers()))
