"""Idempotency keys under real concurrency: one key, one job, however many requests race for it.

The API tests serve the real Flask app over a socket (werkzeug's threaded server) and send the same
``POST /ingestion/jobs`` from several threads at once. The store tests run the reservation logic on
SQLite and on the PostgreSQL at 127.0.0.1:5432, with Headrace's table created from its metadata.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import BASE, airflow_cli, token_for
from tests.postgres import temporary_database

RACERS = 8
SPEC = {
    "source": {
        "file_paths": "s3://my-bucket/data/transactions.json",
        "file_type": "json",
        "bucket_details": {"bucket_name": "my-bucket", "bucket_type": "minio"},
    },
}


def spec_for(table: str, **extra) -> dict:
    return {"target": {"catalog": "iceberg_data", "schema": "sales", "table": table}, **SPEC, **extra}


def jobs_into(table: str) -> list[str]:
    """Job ids of the headrace_ingestion runs whose spec targets ``table``."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == "headrace_ingestion")).all()
        return [run.run_id for run in runs if (run.conf or {}).get("target", {}).get("table") == table]


@pytest.fixture(scope="module")
def ingestion_dag(migrated_db):
    airflow_cli("dags", "reserialize")


@pytest.fixture(scope="module")
def server(app, ingestion_dag) -> Iterator[str]:
    """The Flask app behind a real, threaded HTTP server on loopback; yields the API's base URL."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.port}{BASE}"
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def post_job(base: str, body: dict, key: str, token: str) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{base}/ingestion/jobs",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), dict(error.headers)


def race(base: str, body: dict, key: str) -> list[tuple[int, dict, dict]]:
    """``RACERS`` threads send the same request at the same moment (a barrier releases them together)."""
    token = token_for("admin")
    start = threading.Barrier(RACERS)

    def one(_: int):
        start.wait()
        return post_job(base, body, key, token)

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS)))


# -- over the API ------------------------------------------------------------------------------------


def test_concurrent_requests_with_one_key_create_one_job(server):
    table = f"race_{uuid.uuid4().hex[:8]}"

    answers = race(server, spec_for(table), key=f"race-{uuid.uuid4()}")

    assert jobs_into(table) and len(jobs_into(table)) == 1, answers
    created = [body for status, body, _ in answers if status == 201]
    waiting = [body for status, body, _ in answers if status == 409]
    assert len(created) + len(waiting) == RACERS, answers
    assert {body["data"]["job_id"] for body in created} == set(jobs_into(table))
    assert all(body["code"] == "IDEMPOTENCY_KEY_IN_PROGRESS" for body in waiting)


def test_a_repeat_after_the_race_replays_the_one_job(server):
    table, key = f"replay_{uuid.uuid4().hex[:8]}", f"replay-{uuid.uuid4()}"
    race(server, spec_for(table), key)

    status, body, headers = post_job(server, spec_for(table), key, token_for("admin"))

    assert status == 201 and headers["Idempotent-Replayed"] == "true"
    assert [body["data"]["job_id"]] == jobs_into(table)


def test_a_failed_request_releases_its_key(client, admin_headers, ingestion_dag):
    """The handler refused (409 JOB_EXISTS): the key is free again, not bound to the failure."""
    taken = f"taken-{uuid.uuid4().hex[:8]}"
    first = client.post(f"{BASE}/ingestion/jobs", headers=admin_headers, json=spec_for("t", job_id=taken))
    assert first.status_code == 201
    headers = {**admin_headers, "Idempotency-Key": f"retry-{uuid.uuid4()}"}

    failed = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=spec_for("t", job_id=taken))
    retried = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=spec_for("t"))

    assert failed.status_code == 409 and failed.json["code"] == "JOB_EXISTS"
    assert retried.status_code == 201, retried.json
    assert "Idempotent-Replayed" not in retried.headers


def test_a_key_can_be_used_again_once_its_record_expired(client, admin_headers, ingestion_dag, monkeypatch):
    headers = {**admin_headers, "Idempotency-Key": f"expiring-{uuid.uuid4()}"}
    first = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=spec_for("first"))
    assert first.status_code == 201

    monkeypatch.setenv("AIRFLOW__HEADRACE__IDEMPOTENCY_TTL_HOURS", "0")  # every answer is now too old
    other = client.post(f"{BASE}/ingestion/jobs", headers=headers, json=spec_for("second"))

    assert other.status_code == 201, other.json
    assert other.json["data"]["job_id"] != first.json["data"]["job_id"]


# -- the store, on SQLite and PostgreSQL -------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request, tmp_path):
    """A session factory on a fresh database holding Headrace's tables, committing like Airflow's."""
    from headrace.db.models import metadata

    database = (
        temporary_database("headrace_idempotency") if request.param == "postgresql" else _sqlite(tmp_path)
    )
    with database as url:
        engine = sa.create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
        metadata.create_all(engine)
        factory = sessionmaker(engine, expire_on_commit=False)

        @contextmanager
        def session_scope() -> Iterator[Session]:
            session = factory()
            try:
                yield session
                session.commit()
            except Exception:
                session.rollback()
                raise
            finally:
                session.close()

        yield session_scope
        engine.dispose()


@contextmanager
def _sqlite(tmp_path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'idempotency.db'}"


def store(sessions, ttl: timedelta = timedelta(hours=24)):
    from headrace.api.services.idempotency import IdempotencyStore

    return IdempotencyStore(sessions, ttl=lambda: ttl)


def test_store_lets_exactly_one_of_concurrent_twins_run(sessions):
    from headrace.api.services.idempotency import Existing, Reservation

    keys = store(sessions)
    start = threading.Barrier(RACERS)

    def one(_: int):
        start.wait()
        return keys.reserve(scope="s", client="c", key="k", hashed="h")

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(one, range(RACERS)))

    assert sum(isinstance(o, Reservation) for o in outcomes) == 1
    assert all(o.in_progress for o in outcomes if isinstance(o, Existing))


def test_store_replays_a_completed_answer_and_frees_a_released_key(sessions):
    from headrace.api.services.idempotency import Existing, Reservation

    keys = store(sessions)
    held = keys.reserve(scope="s", client="c", key="done", hashed="h")
    assert keys.complete(held, status_code=201, body={"job_id": "j1"})
    assert keys.reserve(scope="s", client="c", key="done", hashed="h") == Existing("h", 201, {"job_id": "j1"})

    failed = keys.reserve(scope="s", client="c", key="failed", hashed="h")
    keys.release(failed)
    assert isinstance(keys.reserve(scope="s", client="c", key="failed", hashed="h"), Reservation)
    other_client = keys.reserve(scope="s", client="someone-else", key="done", hashed="h")
    assert isinstance(other_client, Reservation)  # keys are per client


def test_store_forgets_answers_after_the_ttl(sessions):
    from headrace.api.services.idempotency import Existing, Reservation

    keys, then = store(sessions, ttl=timedelta(hours=24)), datetime(2026, 1, 1, tzinfo=UTC)
    keys.complete(
        keys.reserve(scope="s", client="c", key="k", hashed="h1", now=then), status_code=201, body={}
    )

    within = keys.reserve(scope="s", client="c", key="k", hashed="h2", now=then + timedelta(hours=23))
    after = keys.reserve(scope="s", client="c", key="k", hashed="h2", now=then + timedelta(hours=25))

    assert isinstance(within, Existing) and within.request_hash == "h1"
    assert isinstance(after, Reservation)


def test_store_frees_a_reservation_its_crashed_holder_left(sessions):
    from headrace.api.services.idempotency import IN_PROGRESS_EXPIRY, Existing, Reservation

    keys, then = store(sessions), datetime(2026, 1, 1, tzinfo=UTC)
    crashed = keys.reserve(scope="s", client="c", key="k", hashed="h", now=then)

    soon = keys.reserve(scope="s", client="c", key="k", hashed="h", now=then + IN_PROGRESS_EXPIRY / 2)
    later = keys.reserve(scope="s", client="c", key="k", hashed="h", now=then + IN_PROGRESS_EXPIRY * 2)

    assert isinstance(soon, Existing) and soon.in_progress
    assert isinstance(later, Reservation)
    # The old holder coming back does not overwrite or release the new holder's reservation.
    assert keys.complete(crashed, status_code=201, body={"late": True}) is False
    keys.release(crashed)
    again = keys.reserve(scope="s", client="c", key="k", hashed="h", now=then + IN_PROGRESS_EXPIRY * 2)
    assert isinstance(again, Existing) and again.in_progress


def test_store_sweeps_every_expired_record(sessions):
    from headrace.db.models import IdempotencyRecord

    keys, then = store(sessions, ttl=timedelta(hours=1)), datetime(2026, 1, 1, tzinfo=UTC)
    for key in ("a", "b"):
        keys.complete(
            keys.reserve(scope="s", client="c", key=key, hashed="h", now=then), status_code=200, body=1
        )
    keys.reserve(scope="s", client="c", key="stale", hashed="h", now=then)

    keys.sweep(then + timedelta(hours=2))

    with sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(IdempotencyRecord)) == 0


def test_concurrent_creates_of_one_job_id_are_one_job_and_409s(server):
    """Without a key the job id decides: the losers of the race get 409 JOB_EXISTS, never a 500."""
    job_id, token = f"same-id-{uuid.uuid4().hex[:8]}", token_for("admin")
    start = threading.Barrier(RACERS)

    def one(_: int):
        start.wait()
        request = urllib.request.Request(
            f"{server}/ingestion/jobs",
            data=json.dumps(spec_for("same_id", job_id=job_id)).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    with ThreadPoolExecutor(RACERS) as pool:
        answers = list(pool.map(one, range(RACERS)))

    assert sorted(status for status, _ in answers) == [201] + [409] * (RACERS - 1), answers
    assert all(body["code"] == "JOB_EXISTS" for status, body in answers if status == 409)


def test_a_key_is_bound_to_the_path_and_query_as_well_as_the_body(app):
    """A key replayed on another resource (``/pipelines/b:run`` after ``a:run``) is another request."""
    from headrace.api.registry import request_fingerprint

    def fingerprint(path: str) -> str:
        with app.test_request_context(path, method="POST", data=b"{}"):
            return request_fingerprint()

    assert fingerprint("/x/a:run") == fingerprint("/x/a:run")
    assert len({fingerprint("/x/a:run"), fingerprint("/x/b:run"), fingerprint("/x/a:run?p=1")}) == 3
