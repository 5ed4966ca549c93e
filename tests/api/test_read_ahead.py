"""ReadAhead, the receive the WSGI bridge hands a2wsgi: it reads the body ahead of the consumer
without reordering, losing or unboundedly buffering anything. Driven by a scripted ASGI receive."""

from __future__ import annotations

import asyncio

import pytest

from headrace.api.read_ahead import ReadAhead


class Client:
    """An ASGI receive fed by the test: each put() is one message the server reads."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue()
        self.calls = 0

    def send(self, body: bytes, more: bool = True) -> None:
        self.queue.put_nowait({"type": "http.request", "body": body, "more_body": more})

    def disconnect(self) -> None:
        self.queue.put_nowait({"type": "http.disconnect"})

    def fail(self, exc: BaseException) -> None:
        self.queue.put_nowait(exc)

    async def __call__(self) -> dict:
        self.calls += 1
        message = await self.queue.get()
        if isinstance(message, BaseException):
            raise message
        return message


def reading(limit: int | None = None):
    """Run the decorated ``async def test(client, ahead)`` on a fresh loop, closing ``ahead`` after."""

    def decorate(test):
        def run() -> None:
            async def scenario() -> None:
                client = Client()
                ahead = ReadAhead(client) if limit is None else ReadAhead(client, limit=limit)
                try:
                    await test(client, ahead)
                finally:
                    ahead.close()

            asyncio.run(asyncio.wait_for(scenario(), 5))

        run.__name__ = test.__name__
        return run

    return decorate


@reading()
async def test_messages_that_arrived_between_pulls_come_as_one_in_order(
    client: Client, ahead: ReadAhead
) -> None:
    client.send(b"ab")
    first = await ahead()
    for part in (b"cd", b"ef", b"gh"):
        client.send(part)
    await asyncio.sleep(0.01)  # the reader takes all three while the consumer is busy
    second = await ahead()
    client.send(b"", more=False)
    third = await ahead()
    assert first == {"type": "http.request", "body": b"ab", "more_body": True}
    assert second == {"type": "http.request", "body": b"cdefgh", "more_body": True}
    assert third == {"type": "http.request", "body": b"", "more_body": False}


@reading()
async def test_the_last_bytes_carry_the_end_of_the_body(client: Client, ahead: ReadAhead) -> None:
    client.send(b"x" * 10)
    client.send(b"y" * 10, more=False)
    await asyncio.sleep(0.01)
    message = await ahead()
    assert message == {"type": "http.request", "body": b"x" * 10 + b"y" * 10, "more_body": False}


@reading(limit=100)
async def test_the_buffer_stops_growing_at_the_limit_until_the_consumer_pulls(
    client: Client, ahead: ReadAhead
) -> None:
    for _ in range(10):
        client.send(b"z" * 40)
    await ahead()  # starts the reader; it gets one message in
    await asyncio.sleep(0.01)
    calls_when_full = client.calls
    await asyncio.sleep(0.02)
    assert client.calls == calls_when_full  # waiting for room, not reading on
    assert client.queue.qsize() > 0
    body = (await ahead())["body"]
    assert 100 <= len(body) < 100 + 40  # the limit plus at most one message
    await asyncio.sleep(0.01)
    assert client.calls > calls_when_full  # room again: reading resumed


@reading()
async def test_a_disconnect_comes_after_every_byte_that_came_before_it(
    client: Client, ahead: ReadAhead
) -> None:
    client.send(b"partial")
    client.disconnect()
    await asyncio.sleep(0.01)
    assert await ahead() == {"type": "http.request", "body": b"partial", "more_body": True}
    assert await ahead() == {"type": "http.disconnect"}


@reading()
async def test_after_the_body_ended_pulls_go_to_the_original_receive(
    client: Client, ahead: ReadAhead
) -> None:
    client.send(b"all", more=False)
    assert (await ahead())["more_body"] is False
    waiting = asyncio.ensure_future(ahead())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # waits for the client, as the plain receive would
    client.disconnect()
    assert await waiting == {"type": "http.disconnect"}


@reading()
async def test_an_error_while_reading_reaches_the_consumer_after_the_bytes_before_it(
    client: Client, ahead: ReadAhead
) -> None:
    client.send(b"some")
    client.fail(OSError("connection reset"))
    await asyncio.sleep(0.01)
    assert (await ahead())["body"] == b"some"
    with pytest.raises(OSError, match="connection reset"):
        await ahead()


@reading()
async def test_close_stops_reading_a_body_nobody_wants(client: Client, ahead: ReadAhead) -> None:
    client.send(b"head")
    await ahead()
    ahead.close()
    await asyncio.sleep(0.01)
    calls = client.calls
    client.send(b"rest")
    await asyncio.sleep(0.01)
    assert client.calls == calls
    assert client.queue.qsize() == 1  # left unread
