"""Batch ingest of monitoring events over REST, then the same batches replayed (all duplicates).

A real Airflow with Headrace (``tests/e2e/cluster.py``) on a fresh PostgreSQL database. ``--batches``
(20) batches of ``--size`` (1,000) events (a job started, progress, finished per three events, each
with its own idempotency key) are POSTed to ``/job-monitoring/v1/ingest/events:batch`` one after
the other; then the very same batches again, which must all come back as duplicates. Prints events/s
of both passes and the replay/first ratio.

Goal (from the issue): >= 10,000 events/s in batches of 1,000, the replay at the same speed. A report,
not a test: it exits 0 whenever it measured. Run from the repository root::

    .venv/bin/python -m benchmarks.events [--batches 20 --size 1000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

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
    rate, replay_rate = total / first, total / replay
    print(f"events: {total} in {args.batches} batches of {args.size}")
    print(f"first pass : {first:.2f} s, {rate:,.0f} events/s, stored {stored}")
    print(
        f"replay     : {replay:.2f} s, {replay_rate:,.0f} events/s, stored {again}, duplicates {duplicates}"
    )
    print(f"replay/first speed ratio: {replay_rate / rate:.2f}")
    print(f"goal >= {GOAL:,.0f} events/s: {'met' if rate >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
