"""The stream endpoints as the api-server serves them: the plugin's root middleware under a real
uvicorn on a loopback port, with the real auth manager (SimpleAuthManager users of tests/conftest)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
import websockets

from headrace.api import background
from headrace.api.bridge import StreamingPluginBridge
from tests.conftest import token_for

SSE = "/pluginsv2/headrace/job-monitoring/v1/stream"
WS = "/pluginsv2/headrace/ws"


async def _not_found(scope, receive, send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:
    background._started = True  # no webhook dispatcher or tracker threads in this test process
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        StreamingPluginBridge(_not_found), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_sse_refuses_without_credentials_and_with_bad_filters(server):
    with httpx.Client(base_url=f"http://{server}", timeout=10) as http:
        anonymous = http.get(SSE)
        assert anonymous.status_code == 401
        assert anonymous.json() | {"request_id": "x"} == {
            "error": "Authentication required",
            "context": {},
            "success": False,
            "code": "AUTHENTICATION_REQUIRED",
            "request_id": "x",
        }
        assert http.get(SSE, headers={"Authorization": "Bearer nope"}).json()["code"] == "INVALID_TOKEN"
        assert http.get(SSE, headers={"X-API-Key": "hrk_nope"}).json()["code"] == "INVALID_API_KEY"
        bad = http.get(
            SSE, params={"entity_type": "run"}, headers={"Authorization": f"Bearer {token_for('vic')}"}
        )
        assert bad.status_code == 400 and bad.json()["context"]["errors"][0]["field"] == "entity_type"
        assert http.post(SSE, headers={"Authorization": f"Bearer {token_for('vic')}"}).status_code == 405


def test_websocket_auth_and_subscriptions(server):
    async def scenario() -> None:
        async with websockets.connect(f"ws://{server}{WS}") as ws:
            await ws.send(json.dumps({"type": "auth", "token": "not-a-token"}))
            assert json.loads(await ws.recv())["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 1008
        async with websockets.connect(f"ws://{server}{WS}") as ws:
            await ws.send(json.dumps({"type": "subscribe", "channel": "agent_status"}))  # not authenticated
            assert json.loads(await ws.recv())["code"] == "AUTHENTICATION_REQUIRED"
        async with websockets.connect(f"ws://{server}{WS}") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token_for("vic")}))
            assert json.loads(await ws.recv()) == {"type": "authenticated", "user": "vic"}
            await ws.send(json.dumps({"type": "subscribe", "channel": "weather"}))
            assert json.loads(await ws.recv())["code"] == "UNKNOWN_CHANNEL"
            await ws.send(json.dumps({"type": "subscribe", "channel": "system_alert"}))
            assert json.loads(await ws.recv()) == {
                "type": "subscribed",
                "channel": "system_alert",
                "workflow_id": None,
            }
            await ws.send("{not json")
            assert json.loads(await ws.recv())["code"] == "INVALID_MESSAGE"  # still open

    asyncio.run(scenario())


def _append(app_name: str, count: int) -> None:
    import uuid
    from datetime import UTC, datetime

    from airflow import settings

    from headrace.events.log import EventLog
    from headrace.events.model import App, Entity, MonitoringEvent, Occurrence

    log = EventLog(settings.engine)
    for i in range(count):  # one a call: several in one append hit an executemany bug of log.py today
        event = MonitoringEvent(
            idempotency_key=uuid.uuid4().hex,
            site_id="local",
            app=App(name=app_name),
            entity=Entity(type="job", id=f"{app_name}-{i}"),
            event=Occurrence(kind="started", at=datetime.now(UTC), status="running"),
        )
        log.append([event])


def test_sse_streams_the_log_to_several_clients_and_resumes(server):
    url = f"http://{server}{SSE}"
    headers = {"Authorization": f"Bearer {token_for('vic')}"}
    app_name = f"asgi-{time.monotonic_ns()}"

    def data_ids(response, count: int) -> list[int]:
        ids = []
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            if len(ids) == count:
                return ids
        return ids

    with (
        httpx.stream("GET", url, headers=headers, params={"app_name": app_name}, timeout=10) as one,
        httpx.stream("GET", url, headers=headers, params={"app_name": app_name}, timeout=10) as two,
    ):
        assert one.headers["x-accel-buffering"] == "no"
        _append(app_name, 3)
        first, second = data_ids(one, 3), data_ids(two, 3)
    assert first == second and first == sorted(first)
    _append(app_name, 1)
    resume = {**headers, "Last-Event-ID": str(first[0])}
    with httpx.stream("GET", url, headers=resume, params={"app_name": app_name}, timeout=10) as again:
        missed = data_ids(again, 3)
    assert missed[:2] == first[1:] and missed[2] > first[2]


def test_an_idle_sse_stream_gets_pings_and_still_its_events(server, monkeypatch):
    monkeypatch.setattr("headrace.config.stream_heartbeat_interval", lambda: 0.5)
    url = f"http://{server}{SSE}"
    headers = {"Authorization": f"Bearer {token_for('vic')}"}
    app_name = f"idle-{time.monotonic_ns()}"
    with httpx.stream("GET", url, headers=headers, params={"app_name": app_name}, timeout=10) as idle:
        lines = idle.iter_lines()
        pings = 0
        for line in lines:
            pings += line == ": ping"
            if pings == 2:
                break
        _append(app_name, 1)
        assert any(line.startswith("data: ") and app_name in line for line in lines)
