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


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 5))


def test_messages_that_arrived_between_pulls_come_as_one_in_order() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
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
        ahead.close()

    run(scenario())


def test_the_last_bytes_carry_the_end_of_the_body() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
        client.send(b"x" * 10)
        client.send(b"y" * 10, more=False)
        await asyncio.sleep(0.01)
        message = await ahead()
        assert message == {"type": "http.request", "body": b"x" * 10 + b"y" * 10, "more_body": False}
        ahead.close()

    run(scenario())


def test_the_buffer_stops_growing_at_the_limit_until_the_consumer_pulls() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client, limit=100)
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
        ahead.close()

    run(scenario())


def test_a_disconnect_comes_after_every_byte_that_came_before_it() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
        client.send(b"partial")
        client.disconnect()
        await asyncio.sleep(0.01)
        assert await ahead() == {"type": "http.request", "body": b"partial", "more_body": True}
        assert await ahead() == {"type": "http.disconnect"}
        ahead.close()

    run(scenario())


def test_after_the_body_ended_pulls_go_to_the_original_receive() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
        client.send(b"all", more=False)
        assert (await ahead())["more_body"] is False
        waiting = asyncio.ensure_future(ahead())
        await asyncio.sleep(0.01)
        assert not waiting.done()  # waits for the client, as the plain receive would
        client.disconnect()
        assert await waiting == {"type": "http.disconnect"}
        ahead.close()

    run(scenario())


def test_an_error_while_reading_reaches_the_consumer_after_the_bytes_before_it() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
        client.send(b"some")
        client.fail(OSError("connection reset"))
        await asyncio.sleep(0.01)
        assert (await ahead())["body"] == b"some"
        with pytest.raises(OSError, match="connection reset"):
            await ahead()
        ahead.close()

    run(scenario())


def test_close_stops_reading_a_body_nobody_wants() -> None:
    async def scenario() -> None:
        client = Client()
        ahead = ReadAhead(client)
        client.send(b"head")
        await ahead()
        ahead.close()
        await asyncio.sleep(0.01)
        calls = client.calls
        client.send(b"rest")
        await asyncio.sleep(0.01)
        assert client.calls == calls
        assert client.queue.qsize() == 1  # left unread

    run(scenario())
