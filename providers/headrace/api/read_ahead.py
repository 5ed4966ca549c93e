"""Read a request body on the event loop ahead of the WSGI thread that consumes it.

a2wsgi's request body pulls one ASGI message at a time, each a round trip from its worker thread to
the event loop, and uvicorn stops reading the socket (above 64 KiB) until the next pull. Between two
pulls the thread parses and stores what it got, so the socket idles while the thread works and the
thread waits while the socket is read, and every pull also pays for the middlewares Airflow wraps
around ``receive`` (Starlette's ``BaseHTTPMiddleware`` starts a task group per call). A 100 MiB
upload is 1,600 such pulls.

:class:`ReadAhead` is a ``receive`` for a2wsgi that keeps a task on the loop reading the body into a
buffer of at most ``limit`` bytes, and answers each pull at once with everything that has arrived.
Memory stays bounded by ``limit`` plus one message; a client that stops sending still slows the
consumer down rather than growing the buffer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]

READ_AHEAD_BYTES = 1024 * 1024
_END = {"type": "http.request", "body": b"", "more_body": False}


class ReadAhead:
    """An ASGI ``receive`` that reads up to ``limit`` bytes of the body before they are asked for.

    Messages keep their meaning: body bytes arrive in order, the body's end comes with the last of
    them, and a disconnect comes after every byte that arrived before it. Once the body has ended,
    calls go to the original ``receive`` again (which then waits for the disconnect). Call
    :meth:`close` when the request is done, so that a body nobody read to the end stops being read.
    """

    def __init__(self, receive: Receive, limit: int = READ_AHEAD_BYTES):
        self._receive = receive
        self._limit = limit
        self._buffer = bytearray()
        self._end: Message | None = None  # the message that ended the body, once it arrived
        self._error: BaseException | None = None
        self._arrived = asyncio.Event()  # set when the buffer, the end or the error changed
        self._room = asyncio.Event()  # set when the consumer emptied the buffer
        self._reader: asyncio.Task[None] | None = None
        self._delivered_end = False

    async def __call__(self) -> Message:
        if self._delivered_end:
            return await self._receive()
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read())
        while not self._buffer and self._end is None and self._error is None:
            self._arrived.clear()
            await self._arrived.wait()
        if self._buffer:
            body = bytes(self._buffer)
            self._buffer.clear()
            self._room.set()
            ended = self._end is not None and self._end["type"] == "http.request"
            self._delivered_end = ended
            return {"type": "http.request", "body": body, "more_body": not ended}
        if self._error is not None:
            raise self._error
        assert self._end is not None
        self._delivered_end = self._end["type"] == "http.request"
        return self._end

    async def _read(self) -> None:
        try:
            while True:
                while len(self._buffer) >= self._limit:
                    self._room.clear()
                    await self._room.wait()
                message = await self._receive()
                if message["type"] == "http.request":
                    self._buffer += message.get("body", b"")
                    if not message.get("more_body", False):
                        self._end = dict(_END)  # the consumer gets a message of its own
                else:
                    self._end = message
                self._arrived.set()
                if self._end is not None:
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # handed to the consumer, whose request fails with it
            self._error = exc
            self._arrived.set()

    def close(self) -> None:
        """Stop reading: the request is answered, whatever of its body is left is not needed."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
