"""Batch ingest of monitoring events over REST, then the same batches replayed (all duplicates).

A real Airflow with Headrace (``tests/e2e/cluster.py``) on a fresh PostgreSQL database. Each of
``--rounds`` (5) rounds POSTs ``--batches`` (20) batches of ``--size`` (1,000) new events (a job
started, progress, finished per three events, each with its own idempotency key) to
``/job-monitoring/v1/ingest/events:batch`` one after the other; then the very same batches again,
which must all come back as duplicates. Two baselines follow in the same round and database, with
batches of new keys: the same events appended in process (``EventLog.append``: no HTTP, auth, JSON
or validation), and the database's floor (the very rows inserted with one ``psycopg2``
``execute_values`` per batch into ``headrace_event``, no fold). The request bodies are encoded
before the clock starts, as a sidecar sends the lines of its spool: the figure is the server's.

Prints events/s of each round, the medians and the ratios of REST to both, the load average before
and after, and one ``GOAL <name>: <measured> (goal <target>) MET|NOT MET`` line per goal (issue 12:
>= 10,000 events/s in batches of 1,000, the replay at the same speed). A report, not a test: it
exits 0 whenever it measured. Run from the repository root::

    .venv/bin/python -m benchmarks.events [--rounds 5 --batches 20 --size 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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


def run_pass(http: requests.Session, url: str, bodies: list[bytes]) -> tuple[float, int, int]:
    stored = duplicates = 0
    began = time.perf_counter()
    for body in bodies:
        answer = http.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=120)
        answer.raise_for_status()
        counts = answer.json()
        stored += counts["stored"]
        duplicates += counts["duplicates"]
    return time.perf_counter() - began, stored, duplicates


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    total = args.batches * args.size
    load_before = _load()
    rates: dict[str, list[float]] = {"first": [], "replay": [], "process": [], "floor": []}
    with tempfile.TemporaryDirectory(prefix="headrace-bench-events-") as tmp:
        print("starting Airflow with Headrace ...", flush=True)
        with running_airflow(Path(tmp) / "home") as cluster:
            url = f"{cluster.url}/pluginsv2/headrace/job-monitoring/v1/ingest/events:batch"
            database_url = cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {cluster.airflow_token('admin')}"
                http.post(url, json=batches(1, 10)[0], timeout=60).raise_for_status()  # warm-up
                for number in range(1, args.rounds + 1):
                    bodies = [json.dumps(items).encode() for items in batches(args.batches, args.size)]
                    first, stored, _ = run_pass(http, url, bodies)
                    replay, again, duplicates = run_pass(http, url, bodies)
                    if (stored, again, duplicates) != (total, 0, total):
                        raise SystemExit(
                            f"round {number}: stored {stored}, then {again} and {duplicates} duplicates"
                        )
                    process = in_process(database_url, batches(args.batches, args.size))
                    floor = database_floor(database_url, batches(args.batches, args.size))
                    for name, seconds in (
                        ("first", first),
                        ("replay", replay),
                        ("process", process),
                        ("floor", floor),
                    ):
                        rates[name].append(total / seconds)
                    print(
                        f"round {number}/{args.rounds}: first {total / first:,.0f}, "
                        f"replay {total / replay:,.0f}, in process {total / process:,.0f}, "
                        f"db floor {total / floor:,.0f} events/s",
                        flush=True,
                    )
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\nevents: {args.rounds} rounds of {args.batches} batches of {args.size}; medians:")
    print(f"first pass : {median['first']:,.0f} events/s (REST, all new)")
    print(f"replay     : {median['replay']:,.0f} events/s (REST, all duplicates)")
    print(f"in process : {median['process']:,.0f} events/s (EventLog.append, no HTTP)")
    print(f"db floor   : {median['floor']:,.0f} events/s (execute_values into headrace_event)")
    print(
        f"REST/in-process ratio: {median['first'] / median['process']:.2f}; "
        f"REST/db-floor ratio: {median['first'] / median['floor']:.2f}; "
        f"replay/first: {median['replay'] / median['first']:.2f}"
    )
    print(f"load average before: {load_before}; after: {_load()} (1, 5, 15 min; other work skews figures)")
    for name, key in (("events_batch_ingest", "first"), ("events_batch_replay", "replay")):
        verdict = "MET" if median[key] >= GOAL else "NOT MET"
        print(f"GOAL {name}: {median[key]:,.0f} events/s (goal >= {GOAL:,.0f}) {verdict}")


if __name__ == "__main__":
    main()
