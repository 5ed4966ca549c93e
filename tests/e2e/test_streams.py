"""The live streams on a real api-server: SSE over a socket (delivery, resume, filters, refusal) and
the WebSocket following a real workflow run."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
import sqlalchemy as sa
import websockets

pytestmark = pytest.mark.e2e


def _sse_url(cluster) -> str:
    return f"{cluster.url}/pluginsv2/headrace/job-monitoring/v1/stream"


def _append(cluster, app: str, kinds: list[str]) -> None:
    """Events written to the cluster's log as the ingest route writes them."""
    from headrace.events.log import EventLog
    from headrace.events.model import App, Entity, MonitoringEvent, Occurrence

    engine = sa.create_engine(cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        log = EventLog(engine)
        for i, kind in enumerate(kinds):  # one a call: several in one append hit an executemany bug
            event = MonitoringEvent(
                idempotency_key=uuid.uuid4().hex,
                site_id="e2e",
                app=App(name=app),
                entity=Entity(type=kind, id=f"{app}-{i}"),
                event=Occurrence(kind="started", at=datetime.now(UTC), status="running"),
            )
            log.append([event], source="ingest")
    finally:
        engine.dispose()


def _messages(response: requests.Response) -> Iterator[tuple[int, dict]]:
    """(id, data) of each SSE message; comments and ``retry:`` skipped."""
    event_id = None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: "):
            yield event_id, json.loads(line[6:])


def _take(response: requests.Response, count: int) -> list[tuple[int, dict]]:
    got = []
    for message in _messages(response):
        got.append(message)
        if len(got) == count:
            break
    return got


def test_sse_delivers_live_resumes_with_last_event_id_and_filters(airflow_cluster):
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    assert requests.get(_sse_url(airflow_cluster), timeout=10).status_code == 401
    app = f"sse-{uuid.uuid4().hex[:8]}"
    params = {"app_name": app}
    with requests.get(
        _sse_url(airflow_cluster), headers=headers, params=params, stream=True, timeout=30
    ) as live:
        assert live.status_code == 200 and live.headers["Content-Type"].startswith("text/event-stream")
        assert live.headers["Cache-Control"] == "no-cache"
        _append(airflow_cluster, app, ["job", "subjob", "job"])
        first = _take(live, 3)
    assert [data["entity_id"] for _, data in first] == [f"{app}-0", f"{app}-1", f"{app}-2"]
    assert [event_id for event_id, _ in first] == [data["id"] for _, data in first]
    assert first[0][0] < first[1][0] < first[2][0]

    _append(airflow_cluster, app, ["subjob", "job"])  # while nobody listens
    resume = {**headers, "Last-Event-ID": str(first[1][0])}
    with requests.get(
        _sse_url(airflow_cluster), headers=resume, params=params, stream=True, timeout=30
    ) as again:
        missed = _take(again, 3)
    assert [data["entity_id"] for _, data in missed] == [f"{app}-2", f"{app}-0", f"{app}-1"]
    assert missed[0][0] == first[2][0]

    subjobs = {**params, "entity_type": "subjob", "last_event_id": str(first[0][0] - 1)}
    with requests.get(
        _sse_url(airflow_cluster), headers=headers, params=subjobs, stream=True, timeout=30
    ) as only:
        picked = _take(only, 2)
    assert [(d["entity_type"], d["entity_id"]) for _, d in picked] == [
        ("subjob", f"{app}-1"),
        ("subjob", f"{app}-0"),
    ]


QUICK = """\
id: {id}
schedule: null
steps:
  - {{id: first, kind: bash, bash_command: "sleep 8"}}
  - {{id: second, kind: bash, bash_command: "echo done", depends_on: [first]}}
"""


def test_websocket_follows_a_real_workflow_run(airflow_cluster):
    cluster = airflow_cluster
    headers = {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}
    ws_url = cluster.url.replace("http://", "ws://") + "/pluginsv2/headrace/ws"
    workflow_id = f"wsflow_{uuid.uuid4().hex[:6]}"
    folder = cluster.home / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{workflow_id}.yaml").write_text(QUICK.format(id=workflow_id))
    deployed = requests.post(f"{cluster.api}/pipelines/{workflow_id}:deploy", headers=headers, json={})
    assert deployed.status_code == 200, deployed.text

    async def scenario() -> list[dict]:
        async with websockets.connect(ws_url) as bad:
            await bad.send(json.dumps({"type": "auth", "token": "forged"}))
            assert json.loads(await bad.recv())["type"] == "error"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await bad.recv()
            assert closed.value.rcvd.code == 1008
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": cluster.airflow_token("admin")}))
            assert json.loads(await ws.recv())["type"] == "authenticated"
            await ws.send(
                json.dumps({"type": "subscribe", "channel": "workflow_updates", "workflow_id": workflow_id})
            )
            assert json.loads(await ws.recv())["type"] == "subscribed"
            deadline = time.monotonic() + 60
            while (
                requests.post(
                    f"{cluster.api}/pipelines/{workflow_id}:run", headers=headers, json={}
                ).status_code
                != 202
            ):
                assert time.monotonic() < deadline, "the workflow's DAG never became runnable"
                await asyncio.sleep(1)
            seen: list[dict] = []
            while not seen or seen[-1]["status"] not in ("completed", "failed"):
                seen.append(json.loads(await asyncio.wait_for(ws.recv(), 150)))
            return seen

    seen = asyncio.run(scenario())
    assert {m["type"] for m in seen} == {"workflow_status"} and {m["workflow_id"] for m in seen} == {
        workflow_id
    }
    assert set(seen[0]) == {"type", "workflow_id", "status", "progress", "current_step", "timestamp"}
    assert seen[-1]["status"] == "completed" and seen[-1]["progress"] == 100
    assert any(m["status"] == "running" and m["current_step"] in ("first", "second") for m in seen)
