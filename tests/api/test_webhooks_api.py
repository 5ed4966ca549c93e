"""Webhooks API over the real Flask app and metadata DB: subscribe, list, deliveries, delete."""

from __future__ import annotations

import pytest
from airflow import settings

from headrace.api.services import webhooks as service
from headrace.events import webhooks
from headrace.events.webhook_delivery import DeliverySettings, Dispatcher, sign
from tests.conftest import BASE, token_for
from tests.unit.webhooks.helpers import receiver, store_event

SECRET = "a-very-secret-key-123"


@pytest.fixture
def create(client, admin_headers):
    created = []

    def call(**body):
        payload = {"url": "http://127.0.0.1:8999/hook", "events": ["pipeline.completed"], "secret": SECRET}
        response = client.post(f"{BASE}/webhooks", headers=admin_headers, json={**payload, **body})
        if response.status_code == 201:
            created.append(response.json["id"])
        return response

    yield call
    for webhook_id in created:
        client.delete(f"{BASE}/webhooks/{webhook_id}", headers=admin_headers)


def test_create_list_and_delete(client, admin_headers, create) -> None:
    response = create(events=["pipeline.completed", "job.*"])
    assert response.status_code == 201, response.json
    hook = response.json
    assert hook["url"] == "http://127.0.0.1:8999/hook"
    assert hook["events"] == ["pipeline.completed", "job.*"]
    assert hook["owner"] == "admin" and hook["created_at"].endswith("Z")
    assert SECRET not in response.get_data(as_text=True)

    listed = client.get(f"{BASE}/webhooks", headers=admin_headers)
    assert listed.status_code == 200
    assert hook["id"] in [h["id"] for h in listed.json]
    assert SECRET not in listed.get_data(as_text=True)

    assert client.delete(f"{BASE}/webhooks/{hook['id']}", headers=admin_headers).status_code == 204
    missing = client.delete(f"{BASE}/webhooks/{hook['id']}", headers=admin_headers)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "WEBHOOK_NOT_FOUND"
    assert client.get(f"{BASE}/webhooks/{hook['id']}/deliveries", headers=admin_headers).status_code == 404


def test_validation_names_every_bad_field(create) -> None:
    response = create(url="ftp://example.com/x", events=["pipeline.exploded"], secret="short")
    assert response.status_code == 400
    fields = {d["field"]: d["message"] for d in response.json["error"]["details"]}
    assert set(fields) == {"url", "events", "secret"}
    assert "http or https" in fields["url"] and "pipeline.exploded" in fields["events"]
    assert "short" not in response.get_data(as_text=True)

    assert _field(create(events=[])) == "events"
    assert _field(create(url="http://user:pw@127.0.0.1/x")) == "url"
    assert _field(create(url="http://169.254.169.254/latest/meta-data")) == "url"
    assert _field(create(url="http://no-such-host.invalid/x")) == "url"


def _field(response) -> str:
    assert response.status_code == 400, response.json
    (detail,) = response.json["error"]["details"]
    return detail["field"]


def test_viewers_may_neither_manage_nor_read_webhooks(client, create) -> None:
    hook = create().json
    for user in ("vic", "ursula"):
        headers = {"Authorization": f"Bearer {token_for(user)}"}
        body = {"url": "http://127.0.0.1:8999/x", "events": ["job.*"], "secret": SECRET}
        assert client.post(f"{BASE}/webhooks", headers=headers, json=body).status_code == 403
        assert client.get(f"{BASE}/webhooks", headers=headers).status_code == 403
        assert client.delete(f"{BASE}/webhooks/{hook['id']}", headers=headers).status_code == 403
    assert client.get(f"{BASE}/webhooks").status_code == 401


def test_deliveries_show_each_attempt_newest_first(client, admin_headers, create) -> None:
    with receiver([503]) as hook_server:
        hook = create(url=hook_server.url, events=["job.completed"]).json
        with settings.engine.begin() as connection:
            first = store_event(connection, entity_id="api-job-1")
            second = store_event(connection, entity_id="api-job-2")
            assert webhooks.enqueue(connection, [first, second]) == 2
        dispatcher = Dispatcher(settings.engine, DeliverySettings(timeout=5, max_attempts=3), service.reveal)
        try:
            assert dispatcher.run_once() == 2  # the first answered 503, the second 200
        finally:
            dispatcher.close()
        signed = hook_server.requests[1]
        assert signed.headers["X-Headrace-Signature"] == sign(SECRET, signed.body)

    response = client.get(f"{BASE}/webhooks/{hook['id']}/deliveries?limit=5", headers=admin_headers)
    assert response.status_code == 200, response.json
    newest, oldest = response.json
    assert (newest["event_id"], newest["status"], newest["attempt_count"]) == (second.id, "delivered", 1)
    assert (oldest["event_id"], oldest["status"], oldest["attempt_count"]) == (first.id, "pending", 1)
    assert oldest["next_attempt_at"] is not None and newest["delivered_at"] is not None
    (attempt,) = oldest["attempts"]
    assert attempt["status_code"] == 503 and attempt["error"] == "HTTP 503"
    assert attempt["number"] == 1 and attempt["at"].endswith("Z") and attempt["duration_ms"] > 0
    assert SECRET not in response.get_data(as_text=True)

    assert (
        len(client.get(f"{BASE}/webhooks/{hook['id']}/deliveries?limit=1", headers=admin_headers).json) == 1
    )
    bad = client.get(f"{BASE}/webhooks/{hook['id']}/deliveries?limit=0", headers=admin_headers)
    assert bad.status_code == 400 and bad.json["error"]["details"][0]["field"] == "limit"
