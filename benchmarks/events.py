"""Batch ingest of monitoring events over REST, then the same batches replayed (all duplicates).

A real Airflow with Headrace (``tests/e2e/cluster.py``) on a fresh PostgreSQL database. ``--batches``
(20) batches of ``--size`` (1,000) events (a job started, progress, finished per three events, each
with its own idempotency key) are POSTed to ``/job-monitoring/v1/ingest/events:batch`` one after
the other; then the very same batches again, which must all come back as duplicates. Two baselines
follow in the same run and database, with batches of new keys: the same batches appended in process
(``EventLog.append``: no HTTP, auth, JSON or validation), and the database's floor (the very rows
inserted with one ``psycopg2`` ``execute_values`` per batch into ``headrace_event``, no fold). Prints
events/s of each and the ratios of REST to both.

Goal (from the issue): >= 10,000 events/s in batches of 1,000, the replay at the same speed. A report,
not a test: it exits 0 whenever it measured. Run from the repository root::

    .venv/bin/python -m benchmarks.events [--batches 20 --size 1000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import requests
import sqlalchemy as sa
from psycopg2.extras import execute_values

from tests.e2e.cluster import running_airflow

GOAL = 10_000.0


def batches(count: int, size: int) -> list[list[dict]]:
    t0 = datetime.now(UTC)
    run = uuid.uuid4().hex[:8]
    out = []
    for b in range(count):
        items = []
        for i in range(size):
            n = b * size + i
            kind = ("started", "progress", "finished")[n % 3]
            items.append(
                {
                    "idempotency_key": f"{run}-{n}",
                    "site_id": "bench",
                    "app": {"name": "bench-app", "version": "1"},
                    "entity": {"type": "job", "id": f"{run}-job-{n // 3}"},
                    "event": {
                        "kind": kind,
                        "at": (t0 + timedelta(seconds=n)).isoformat(),
                        "metrics": {"mem_max_mb": n % 500, "cpu_user_s": 1.5},
                        "metadata": {"batch": b},
                    },
                }
            )
        out.append(items)
    return out


def run_pass(http: requests.Session, url: str, data: list[list[dict]]) -> tuple[float, int, int]:
    stored = duplicates = 0
    began = time.perf_counter()
    for items in data:
        answer = http.post(url, json=items, timeout=120)
        answer.raise_for_status()
        body = answer.json()
        stored += body["stored"]
        duplicates += body["duplicates"]
    return time.perf_counter() - began, stored, duplicates


def in_process(database_url: str, data: list[list[dict]]) -> float:
    """Seconds to append ``data`` with ``EventLog.append`` (validation done beforehand, not timed)."""
    from headrace.events.log import EventLog
    from headrace.events.model import MonitoringEvent

    parsed = [[MonitoringEvent.model_validate(item) for item in items] for items in data]
    engine = sa.create_engine(database_url)
    try:
        log = EventLog(engine)
        began = time.perf_counter()
        for events in parsed:
            log.append(events)
        return time.perf_counter() - began
    finally:
        engine.dispose()


_COLUMNS = (
    "idempotency_key, site_id, source, app_name, app_version, entity_type, entity_id, kind, at, "
    "metrics, metadata, inserted_at"
)


def database_floor(database_url: str, data: list[list[dict]]) -> float:
    """Seconds to insert the same rows with one ``execute_values`` per batch and nothing else."""

    def row(item: dict) -> tuple:
        app, entity, event = item["app"], item["entity"], item["event"]
        return (
            item["idempotency_key"], item["site_id"], "ingest", app["name"], app["version"], entity["type"],
            entity["id"], event["kind"], event["at"], json.dumps(event["metrics"]),
            json.dumps(event["metadata"]), datetime.now(UTC),
        )  # fmt: skip

    rows = [[row(item) for item in items] for items in data]
    connection = psycopg2.connect(
        sa.engine.make_url(database_url).set(drivername="postgresql").render_as_string(False)
    )
    try:
        with connection.cursor() as cursor:
            began = time.perf_counter()
            for batch in rows:
                execute_values(
                    cursor,
                    f"INSERT INTO headrace_event ({_COLUMNS}) VALUES %s "
                    "ON CONFLICT (site_id, idempotency_key) DO NOTHING RETURNING id",
                    batch,
                    page_size=len(batch),
                    fetch=True,
                )
                connection.commit()
            return time.perf_counter() - began
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    data = batches(args.batches, args.size)
    total = args.batches * args.size
    with tempfile.TemporaryDirectory(prefix="headrace-bench-events-") as tmp:
        print("starting Airflow with Headrace ...", flush=True)
        with running_airflow(Path(tmp) / "home") as cluster:
            url = f"{cluster.url}/pluginsv2/headrace/job-monitoring/v1/ingest/events:batch"
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {cluster.airflow_token('admin')}"
                warm = batches(1, 10)
                http.post(url, json=warm[0], timeout=60).raise_for_status()
                first, stored, _ = run_pass(http, url, data)
                replay, again, duplicates = run_pass(http, url, data)
            database_url = cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            process = in_process(database_url, batches(args.batches, args.size))
            floor = database_floor(database_url, batches(args.batches, args.size))
    rate, replay_rate = total / first, total / replay
    process_rate, floor_rate = total / process, total / floor
    print(f"events: {total} in {args.batches} batches of {args.size}")
    print(f"first pass : {first:.2f} s, {rate:,.0f} events/s, stored {stored}")
    print(
        f"replay     : {replay:.2f} s, {replay_rate:,.0f} events/s, stored {again}, duplicates {duplicates}"
    )
    print(f"in process : {process:.2f} s, {process_rate:,.0f} events/s (EventLog.append, no HTTP)")
    print(f"db floor   : {floor:.2f} s, {floor_rate:,.0f} events/s (execute_values into headrace_event)")
    print(f"replay/first speed ratio: {replay_rate / rate:.2f}")
    print(f"REST/in-process ratio: {rate / process_rate:.2f}; REST/db-floor ratio: {rate / floor_rate:.2f}")
    print(f"goal >= {GOAL:,.0f} events/s: {'met' if rate >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
