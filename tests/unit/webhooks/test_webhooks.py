"""Webhooks without Airflow: which events announce what, signing, backoff, URL checks, and the
dispatcher delivering through real sockets to a loopback receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from headrace.db.models import WebhookAttempt, WebhookDelivery
from headrace.events import webhooks
from headrace.events.webhook_delivery import (
    DeliverySettings,
    Dispatcher,
    UrlRefused,
    backoff,
    check_url,
    sign,
    signed_body,
)
from headrace.events.webhook_store import WebhookStore
from tests.unit.webhooks.helpers import Cipher, database, receiver, store_event

SECRET = "s3cret-s3cret-s3cret"
DENIED = ["169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128"]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    with database(request.param, tmp_path) as engine:
        yield engine


def _subscribe(engine, cipher, url, events):
    return WebhookStore(engine).create(url, events, cipher.encrypt(SECRET), owner="admin")


def _airflow(headrace, kind="finished", status="succeeded", **extra):
    return dict(
        source="airflow",
        entity_id="airflow:etl:manual__1",
        app_name="etl",
        business_key="manual__1",
        kind=kind,
        status=status,
        metrics={"duration_s": 12.5},
        metadata={"dag_id": "etl", "run_id": "manual__1", "headrace": headrace},
        **extra,
    )


def _names(engine):
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(WebhookDelivery.webhook_id, WebhookDelivery.event_name).order_by(WebhookDelivery.id)
        )
        return [tuple(row) for row in rows]


def test_enqueue_matches_names_wildcards_and_families(engine) -> None:
    cipher = Cipher()
    pipes = _subscribe(engine, cipher, "http://127.0.0.1:9/p", ["pipeline.completed"])
    jobs = _subscribe(engine, cipher, "http://127.0.0.1:9/j", ["job.*"])
    ingest = _subscribe(engine, cipher, "http://127.0.0.1:9/i", ["ingestion.failed", "workflow.*"])
    with engine.begin() as connection:
        stored = [
            store_event(connection, **_airflow("workflow")),  # pipeline.completed + workflow.completed
            store_event(connection, **_airflow("ingestion", status="failed")),  # ingestion.failed
            store_event(connection, **_airflow(None)),  # a plain DAG: nothing
            store_event(connection, source="job_queue", kind="started", status="running"),  # job.started
            store_event(connection, source="ingest", kind="canceled", status="canceled"),  # job.canceled
            store_event(connection, source="ingest", kind="progress", status="running"),  # not announced
            store_event(connection, source="ingest", entity_type="subjob", parent_id="job-1"),  # subjob
        ]
        written = webhooks.enqueue(connection, stored)
    assert written == 5
    assert sorted(_names(engine)) == sorted(
        [
            (pipes.id, "pipeline.completed"),
            (ingest.id, "workflow.completed"),
            (ingest.id, "ingestion.failed"),
            (jobs.id, "job.started"),
            (jobs.id, "job.canceled"),
        ]
    )
    with engine.begin() as connection:  # announcing the same events again writes nothing new
        webhooks.enqueue(connection, stored)
    assert len(_names(engine)) == 5


def test_enqueue_body_is_the_contract_payload(engine) -> None:
    _subscribe(engine, Cipher(), "http://127.0.0.1:9/p", ["pipeline.*"])
    with engine.begin() as connection:
        event = store_event(connection, **_airflow("workflow", status="failed"))
        webhooks.enqueue(connection, [event])
        body = connection.execute(sa.select(WebhookDelivery.body)).scalar_one()
    payload = json.loads(body)
    assert payload["event"] == "pipeline.failed"
    assert payload["timestamp"].endswith("Z")
    assert payload["data"] == {
        "pipeline_id": "etl",
        "run_id": "manual__1",
        "status": "failed",
        "duration_seconds": 12.5,
        "event_id": event.id,
    }
    assert body == webhooks.canonical(payload)


def test_enqueue_without_webhooks_writes_nothing_quickly(engine) -> None:
    with engine.begin() as connection:
        stored = [store_event(connection, entity_id=f"job-{i}") for i in range(1000)]
    started = time.perf_counter()
    with engine.begin() as connection:
        assert webhooks.enqueue(connection, stored) == 0
    assert time.perf_counter() - started < 0.25  # one SELECT; measured ~2 ms
    assert _names(engine) == []


def test_signatures_verify_with_hmac() -> None:
    canonical = webhooks.canonical({"event": "job.completed", "timestamp": "t", "data": {"é": 1}})
    body = signed_body(canonical, SECRET)
    payload = json.loads(body)
    header = sign(SECRET, body)
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    signature = payload.pop("signature")
    again = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    assert signature == "sha256=" + hmac.new(SECRET.encode(), again, hashlib.sha256).hexdigest()
    assert sign("another-secret-16", body) != header


def test_backoff_doubles_from_one_second_up_to_ten_minutes() -> None:
    assert [backoff(n) for n in range(1, 13)] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("http://user:pw@127.0.0.1/x", "credentials"),
        ("http:///nohost", "host"),
        ("http://169.254.169.254/latest/meta-data", "denied"),
        ("http://[fe80::1]/x", "denied"),
        ("http://0.0.0.0:8080/x", "denied"),
        ("http://[::ffff:169.254.169.254]/x", "denied"),
        ("http://no-such-host.invalid/x", "does not resolve"),
    ],
)
def test_refused_urls(url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        check_url(url, DENIED)


def test_allowed_urls_and_configured_networks() -> None:
    check_url("https://127.0.0.1:8443/hook", DENIED)
    check_url("http://localhost/hook", DENIED)
    with pytest.raises(UrlRefused, match="denied"):
        check_url("http://localhost/hook", [*DENIED, "127.0.0.0/8", "::1/128"])


def _deliver_until(dispatcher: Dispatcher, done, deadline: float = 15.0) -> None:
    end = time.monotonic() + deadline
    while not done():
        assert time.monotonic() < end, "delivery did not finish in time"
        if dispatcher.run_once() == 0:
            time.sleep(0.05)


def test_dispatcher_retries_then_delivers_once_signed(engine) -> None:
    cipher = Cipher()
    with receiver([500]) as hook_server:
        hook = _subscribe(engine, cipher, hook_server.url, ["job.*"])
        with engine.begin() as connection:
            webhooks.enqueue(connection, [store_event(connection, source="ingest")])
        clock_offset = [0.0]  # the retry is due after 1 s; move this dispatcher's clock instead of sleeping

        def clock():
            return datetime.now(UTC) + timedelta(seconds=clock_offset[0])

        dispatcher = Dispatcher(
            engine, DeliverySettings(timeout=5, max_attempts=5), cipher.reveal, clock=clock
        )
        try:
            assert dispatcher.run_once() == 1  # the 500
            assert dispatcher.run_once() == 0  # not due yet
            clock_offset[0] = 1.5
            _deliver_until(dispatcher, lambda: len(hook_server.requests) >= 2)
            assert dispatcher.run_once() == 0  # delivered: never sent again
        finally:
            dispatcher.close()
        assert len(hook_server.requests) == 2
    first, second = hook_server.requests
    assert first.body == second.body
    assert second.headers["X-Headrace-Signature"] == sign(SECRET, second.body)
    assert second.headers["X-Headrace-Event"] == "job.completed"
    assert second.payload["data"]["job_id"] == "job-1"
    deliveries = WebhookStore(engine).deliveries(hook.id)
    assert [(d.status, d.attempt_count) for d in deliveries] == [("delivered", 2)]
    assert second.headers["X-Headrace-Delivery"] == str(deliveries[0].id)
    assert [(a.number, a.status_code, a.error) for a in deliveries[0].attempts] == [
        (1, 500, "HTTP 500"),
        (2, 200, None),
    ]
    assert deliveries[0].attempts[1].at - deliveries[0].attempts[0].at >= timedelta(seconds=1)


def test_dispatcher_gives_up_after_max_attempts_and_does_not_follow_redirects(engine) -> None:
    cipher = Cipher()
    with receiver([302, 302, 302]) as hook_server:
        hook = _subscribe(engine, cipher, hook_server.url, ["job.failed"])
        with engine.begin() as connection:
            webhooks.enqueue(connection, [store_event(connection, status="failed")])
        offset = [0.0]
        dispatcher = Dispatcher(
            engine,
            DeliverySettings(timeout=5, max_attempts=2),
            cipher.reveal,
            clock=lambda: datetime.now(UTC) + timedelta(seconds=offset[0]),
        )
        try:
            for _ in range(4):
                dispatcher.run_once()
                offset[0] += 10
        finally:
            dispatcher.close()
        assert len(hook_server.requests) == 2
    (delivery,) = WebhookStore(engine).deliveries(hook.id)
    assert (delivery.status, delivery.attempt_count) == ("failed", 2)
    assert [a.status_code for a in delivery.attempts] == [302, 302]


def test_a_leased_row_is_sent_by_one_dispatcher_only(engine) -> None:
    cipher = Cipher()
    with receiver([]) as hook_server:
        _subscribe(engine, cipher, hook_server.url, ["job.*"])
        with engine.begin() as connection:
            webhooks.enqueue(connection, [store_event(connection, entity_id=f"j{i}") for i in range(20)])
        settings = DeliverySettings(timeout=5)
        dispatchers = [Dispatcher(engine, settings, cipher.reveal) for _ in range(3)]
        threads = [threading.Thread(target=d.run_once) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        for d in dispatchers:
            d.close()
        ids = sorted(r.headers["X-Headrace-Delivery"] for r in hook_server.requests)
    assert len(ids) == 20 and len(set(ids)) == 20
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(WebhookAttempt)).scalar() == 20


def test_delivery_checks_the_url_again(engine) -> None:
    cipher = Cipher()
    hook = _subscribe(engine, cipher, "http://169.254.169.254/latest", ["job.*"])  # stored directly
    with engine.begin() as connection:
        webhooks.enqueue(connection, [store_event(connection)])
    dispatcher = Dispatcher(engine, DeliverySettings(timeout=1, denied_networks=DENIED), cipher.reveal)
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.close()
    (delivery,) = WebhookStore(engine).deliveries(hook.id)
    assert delivery.status == "pending"
    assert delivery.attempts[0].status_code is None
    assert delivery.attempts[0].error.startswith("refused: host '169.254.169.254' resolves to a denied")


def test_a_secret_that_no_longer_decrypts_is_a_failed_attempt(engine) -> None:
    """After Airflow's Fernet key changed without the old one kept, deliveries fail visibly (and are
    retried) instead of stalling the loop."""
    hook = _subscribe(engine, Cipher(), "http://127.0.0.1:9/x", ["job.*"])
    with engine.begin() as connection:
        webhooks.enqueue(connection, [store_event(connection)])
    dispatcher = Dispatcher(engine, DeliverySettings(timeout=1), Cipher().reveal)  # another key
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.close()
    (delivery,) = WebhookStore(engine).deliveries(hook.id)
    assert (delivery.status, delivery.attempts[0].error) == ("pending", "could not send: InvalidToken")
