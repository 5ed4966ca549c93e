"""The shared event reader: one read for many subscribers, late rows, slow clients dropped.

The log here is a list whose rows become visible out of id order, as PostgreSQL's do when a lower
id commits after a higher one was read: that is the case the fan-out must not lose.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from headrace.api.streams import fanout, sse


@dataclass(frozen=True)
class Row:
    id: int
    entity_type: str = "job"
    site_id: str = "local"
    app_name: str | None = "app"

    def to_stream(self) -> dict:
        return {"id": self.id, "entity_type": self.entity_type, "app_name": self.app_name}


class VisibleLog:
    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self.reads = 0

    def read_after(self, after: int) -> list[Row]:
        self.reads += 1
        return [self.rows[i] for i in sorted(self.rows) if i > after][: fanout.PAGE]

    def last_id(self) -> int:
        return max(self.rows, default=0)


def test_late_rows_are_delivered_once_and_gaps_expire(monkeypatch):
    log = VisibleLog()
    log.rows[1] = Row(1)
    hub = fanout.EventFanout(log.read_after, log.last_id)
    hub.high = log.last_id()
    log.rows[3] = Row(3)  # 2 is still uncommitted
    fresh, hub.gaps, hub.high = hub.poll()
    assert [e.id for e in fresh] == [3] and set(hub.gaps) == {2} and hub.floor() == 1
    log.rows[2] = Row(2)  # commits late
    log.rows[4] = Row(4)
    fresh, hub.gaps, hub.high = hub.poll()
    assert [e.id for e in fresh] == [2, 4] and hub.gaps == {}
    fresh, hub.gaps, hub.high = hub.poll()
    assert fresh == []
    log.rows[6] = Row(6)  # 5 rolls back: awaited for GAP_SECONDS only
    fresh, hub.gaps, hub.high = hub.poll()
    assert [e.id for e in fresh] == [6] and set(hub.gaps) == {5}
    monkeypatch.setattr(fanout, "GAP_SECONDS", 0.0)
    fresh, hub.gaps, hub.high = hub.poll()
    assert fresh == [] and hub.gaps == {} and hub.floor() == 6


def test_one_read_serves_every_subscriber_and_a_slow_one_is_dropped(monkeypatch):
    monkeypatch.setattr(fanout, "QUEUE_SIZE", 3)
    monkeypatch.setattr("headrace.config.stream_poll_interval", lambda: 0.01)
    log = VisibleLog()

    async def scenario() -> None:
        hub = fanout.EventFanout(log.read_after, log.last_id)
        fast = [fanout.Subscriber() for _ in range(5)]
        jobs_only = fanout.Subscriber(accepts=sse.Filters(entity_type="subjob").accepts)
        slow = fanout.Subscriber()
        for subscriber in (*fast, jobs_only, slow):
            hub.add(subscriber)
        assert await hub.start_position() == 0
        received: list[list[int]] = [[] for _ in fast]
        for batch in range(3):
            for i in range(2):
                n = batch * 2 + i + 1
                log.rows[n] = Row(n, entity_type="subjob" if n == 5 else "job")
            reads = log.reads
            for index, subscriber in enumerate(fast):
                for _ in range(2):
                    received[index].append((await asyncio.wait_for(subscriber.queue.get(), 2)).id)
            assert log.reads - reads <= 2  # one read per poll, whatever the number of subscribers
        assert all(ids == [1, 2, 3, 4, 5, 6] for ids in received)
        assert (await jobs_only.queue.get()).id == 5 and jobs_only.queue.empty()
        assert slow.dropped and slow not in hub.subscribers
        assert fanout.is_closed(await fanout.next_item(slow, 1))
        for subscriber in (*fast, jobs_only):
            hub.remove(subscriber)

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("query", "field"),
    [(b"entity_type=run", "entity_type"), (b"last_event_id=-3", "last_event_id"), (b"colour=red", "colour")],
)
def test_bad_filters_are_refused_by_name(query, field):
    from headrace.api.errors import RequestValidationError

    with pytest.raises(RequestValidationError) as caught:
        sse.parse_query(query)
    assert [d["field"] for d in caught.value.details] == [field]


def test_frame_is_one_message_with_the_log_id():
    filters, last = sse.parse_query(b"entity_type=job&app_name=pp&last_event_id=7")
    assert (filters, last) == (sse.Filters("job", "pp", None), 7)
    assert filters.accepts(Row(1)) and not filters.accepts(Row(1, app_name="other"))
    assert sse.frame(Row(12)) == b'id: 12\ndata: {"id":12,"entity_type":"job","app_name":"app"}\n\n'


async def _eventually(condition, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the timeout"
        await asyncio.sleep(0.005)


def test_an_sse_subscriber_gets_each_poll_as_one_batch_in_order_and_a_slow_one_is_dropped(monkeypatch):
    monkeypatch.setattr(fanout, "QUEUE_SIZE", 5)
    monkeypatch.setattr(fanout, "CHUNK", 2)  # several chunks, with yields to the loop between them
    monkeypatch.setattr("headrace.config.stream_poll_interval", lambda: 0.01)
    log = VisibleLog()

    async def scenario() -> None:
        hub = fanout.EventFanout(log.read_after, log.last_id)
        clients = [fanout.Batch() for _ in range(5)]
        subjobs = fanout.Batch(accepts=sse.Filters(entity_type="subjob").accepts)
        slow = fanout.Batch()
        for subscriber in (*clients, subjobs, slow):
            hub.add(subscriber)
        assert await hub.start_position() == 0
        for n in (1, 2, 3):
            log.rows[n] = Row(n, entity_type="subjob" if n == 2 else "job")
        for subscriber in clients:
            await asyncio.wait_for(subscriber.wait(), 2)
            assert [e.id for e in subscriber.take()] == [1, 2, 3]  # one wake-up, the poll's events in order
        await asyncio.wait_for(subjobs.wait(), 2)
        assert [e.id for e in subjobs.take()] == [2]
        for n in (4, 5, 6):  # slow has not taken 1-3: six pending is more than it may hold
            log.rows[n] = Row(n)
        for subscriber in clients:
            await asyncio.wait_for(subscriber.wait(), 2)
            assert [e.id for e in subscriber.take()] == [4, 5, 6]
        await _eventually(lambda: slow.dropped)  # its chunk may come a pause after the others'
        assert slow.take() == [] and slow not in hub.subscribers
        waiting = asyncio.ensure_future(subjobs.wait())  # nothing for it: woken only on request
        await asyncio.sleep(0.05)
        assert not waiting.done()
        subjobs.wake()
        await asyncio.wait_for(waiting, 1)
        assert subjobs.take() == []
        for subscriber in (*clients, subjobs):
            hub.remove(subscriber)

    asyncio.run(scenario())
