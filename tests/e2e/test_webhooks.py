"""Webhooks on a real deployment: the api-server's dispatcher delivers an ingested job's end to a
loopback receiver that fails the first attempt; the retry arrives signed and the API shows both."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
import sqlalchemy as sa

from headrace.events import webhooks
from tests.unit.webhooks.helpers import receiver, store_event

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-0123456789"


def _hmac(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _ingest_finished_job(cluster, headers: dict[str, str], job_id: str) -> None:
    """Through the job-monitoring ingest route; where it is not served yet, the way the event log
    stores an event: the event and its outbox rows in one transaction on the cluster's database."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {
        "idempotency_key": str(uuid.uuid4()),
        "site_id": "local",
        "app": {"app_id": "e2e-app", "name": "e2e-app", "version": "1.0.0"},
        "entity": {
            "type": "job",
            "id": job_id,
            "parent_id": None,
            "business_key": "batch-1",
            "sub_key": None,
        },
        "event": {"kind": "finished", "at": now, "status": "succeeded", "metrics": {}, "metadata": {}},
    }
    url = f"{cluster.url}/pluginsv2/headrace/job-monitoring/v1/ingest/events"
    response = requests.post(url, json=event, headers=headers, timeout=30)
    if response.status_code not in (404, 405):
        assert response.ok, response.text
        return
    engine = sa.create_engine(cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.begin() as connection:
            stored = store_event(
                connection, source="ingest", entity_id=job_id, app_name="e2e-app", business_key="batch-1"
            )
            assert webhooks.enqueue(connection, [stored]) == 1
    finally:
        engine.dispose()


def test_a_failed_delivery_is_retried_and_arrives_signed(airflow_cluster) -> None:
    headers = {"Authorization": f"Bearer {airflow_cluster.airflow_token('admin')}"}
    api = airflow_cluster.api
    job_id = f"e2e-webhook-{uuid.uuid4().hex[:8]}"
    with receiver([500]) as hook_server:
        created = requests.post(
            f"{api}/webhooks",
            json={"url": hook_server.url, "events": ["job.*", "pipeline.*"], "secret": SECRET},
            headers=headers,
            timeout=30,
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        try:
            _ingest_finished_job(airflow_cluster, headers, job_id)
            deadline = time.monotonic() + 60
            while len(hook_server.requests) < 2:
                assert time.monotonic() < deadline, f"got {len(hook_server.requests)} deliveries"
                time.sleep(0.1)
            time.sleep(1.5)  # nothing more may arrive: the second answer was a 200
            assert len(hook_server.requests) == 2

            for request in hook_server.requests:
                assert request.headers["X-Headrace-Signature"] == _hmac(request.body)
                assert request.headers["X-Headrace-Event"] == "job.completed"
            payload = hook_server.requests[1].payload
            signature = payload.pop("signature")
            assert signature == _hmac(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
            assert payload["event"] == "job.completed"
            assert payload["data"]["job_id"] == job_id and payload["data"]["status"] == "success"

            deliveries = requests.get(f"{api}/webhooks/{hook['id']}/deliveries", headers=headers, timeout=30)
            assert deliveries.status_code == 200, deliveries.text
            (delivery,) = deliveries.json()
            assert delivery["status"] == "delivered" and delivery["attempt_count"] == 2
            assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
            assert hook_server.requests[1].headers["X-Headrace-Delivery"] == str(delivery["id"])
        finally:
            requests.delete(f"{api}/webhooks/{hook['id']}", headers=headers, timeout=30)
