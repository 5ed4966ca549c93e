"""Job-queue throughput and claim latency: the core against pgqueuer, and the REST API against its bound.

Everything runs on loopback, on the PostgreSQL at 127.0.0.1:5432 (trust auth, user ``postgres``):

(a) Core. A temporary database with Headrace's tables (``headrace.db.models.metadata``) holds
    ``--core-jobs`` trivial jobs (20,000 by default), submitted untimed; ``--claimers`` threads (8)
    then call ``JobQueue.claim`` and ``JobQueue.complete`` until none is left. In the same database,
    pgqueuer (the ``bench`` extra) gets as many jobs (``Queries.enqueue``, untimed) and as many
    consumers: asyncio tasks, each on its own asyncpg connection, each calling ``Queries.dequeue``
    with ``batch_size=1`` and then ``Queries.log_jobs`` (status ``successful``, which is how
    pgqueuer's own QueueManager marks a job done) until none is left. Jobs/s = jobs / wall time.
    The claim latency is that of each ``JobQueue.claim`` call (and of each pgqueuer ``dequeue``).

(b) REST. A real Airflow with Headrace (``tests/e2e/cluster.py``, api-server with one worker) and
    ``--executors`` ``headrace executor`` processes (8, ``--concurrency 1``) running a trivial shell
    script served from a loopback ``http.server``. After a warm-up job per executor (the download of
    the binary into each executor's cache), ``--rest-jobs`` jobs (2,000) are submitted with
    ``POST /jobs/bulk`` (1,000 a request); the time runs from the first bulk request until the last
    job is ``completed`` (read from the database). One lifecycle of a job that runs for
    milliseconds is two calls of the executor's protocol: ``POST /jobs/claim`` and
    ``PUT /jobs/{id}/complete`` (a heartbeat is sent only every 20 s). The bound is measured in the
    same run: as many client processes as executors call ``GET /auth/status`` for
    ``--bound-seconds`` with an API key of the same owner (``read`` scope: the ``executor`` scope
    alone is refused there); bound = requests/s / 2.

(c) REST claim latency, measured by separate claimers (not inside ``headrace executor``): after (b),
    with the executors stopped, ``--latency-jobs`` jobs are submitted and as many client processes as
    executors call ``POST /jobs/claim`` (``wait`` 0) and ``PUT .../complete``; each claim is timed.

Then the 200 MB stdout line of :mod:`benchmarks.executor_rss` (the daemon's peak RSS).

Goals (from the issue): (a) >= 1.0x pgqueuer, (b) >= 0.7x the bound, RSS < 50 MB. It is a report,
not a test: it exits 0 whenever it measured. Run from the repository root::

    .venv/bin/python -m benchmarks.job_queue [--core-jobs 20000 --rest-jobs 2000 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.server
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.postgres import temporary_database

SHA = "0" * 64
GOAL_CORE = 1.0
GOAL_REST = 0.7
GOAL_RSS_MB = 50
CALLS_PER_LIFECYCLE = 2  # POST /jobs/claim + PUT /jobs/{id}/complete; no heartbeat for a job of ms
BULK = 1000  # MAX_BULK of POST /jobs/bulk


class BenchmarkError(Exception):
    pass


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"p50 {_pct(values, 0.5) * 1000:.2f} ms, p99 {_pct(values, 0.99) * 1000:.2f} ms (n={len(values)})"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- (a) the core against pgqueuer ------------------------------------------------------------------


def core_run(database: str, jobs: int, claimers: int) -> dict:
    from headrace.db.models import metadata
    from headrace.jobs import Executor, JobQueue, QueueSettings

    engine = sa.create_engine(
        f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}", pool_size=claimers + 2
    )
    try:
        metadata.create_all(engine)
        queue = JobQueue(engine, QueueSettings(allowlist=["https://"]))
        spec = {
            "type": "bench",
            "binary_url": "https://example.com/true",
            "binary_sha256": SHA,
            "priority": "background",
        }
        for start in range(0, jobs, BULK):
            queue.submit_many([spec] * min(BULK, jobs - start), submitted_by="bench")
        latencies: list[list[float]] = [[] for _ in range(claimers)]
        done = [0] * claimers
        errors: list[BaseException] = []
        gate = threading.Barrier(claimers + 1)

        def claimer(number: int) -> None:
            executor = Executor(id=f"bench-core-{number}", ip="127.0.0.1")
            mine = latencies[number]
            try:
                gate.wait()
                while True:
                    started = time.perf_counter()
                    job = queue.claim(executor)
                    mine.append(time.perf_counter() - started)
                    if job is None:
                        mine.pop()  # the empty claim that ends the loop is not a claim of a job
                        return
                    queue.complete(job.id, executor.id, stdout="", exit_code=0, attempt=job.attempt_count)
                    done[number] += 1
            except BaseException as exc:  # reported by the main thread
                errors.append(exc)

        threads = [threading.Thread(target=claimer, args=(n,)) for n in range(claimers)]
        for thread in threads:
            thread.start()
        gate.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        if errors:
            raise BenchmarkError(f"a core claimer failed: {errors[0]!r}")
        with engine.connect() as connection:
            completed = connection.execute(
                sa.text("SELECT count(*) FROM headrace_job WHERE status = 'completed'")
            ).scalar_one()
        if completed != jobs or sum(done) != jobs:
            raise BenchmarkError(
                f"core: {completed} jobs completed ({sum(done)} by the claimers), expected {jobs}"
            )
        return {"seconds": seconds, "rate": jobs / seconds, "latencies": [x for xs in latencies for x in xs]}
    finally:
        engine.dispose()


async def _pgqueuer_run(database: str, jobs: int, consumers: int) -> dict:
    import asyncpg
    from pgqueuer.queries import EntrypointExecutionParameter, Queries

    dsn = f"postgresql://postgres@127.0.0.1:5432/{database}"
    setup = await asyncpg.connect(dsn)
    try:
        queries = Queries.from_asyncpg_connection(setup)
        await queries.install()
        for start in range(0, jobs, BULK):
            count = min(BULK, jobs - start)
            await queries.enqueue(["bench"] * count, [b"{}"] * count, [0] * count)
    finally:
        await setup.close()

    connections = [await asyncpg.connect(dsn) for _ in range(consumers)]
    entrypoints = {"bench": EntrypointExecutionParameter(concurrency_limit=0)}
    latencies: list[float] = []
    done = [0]

    async def consumer(connection) -> None:
        queries = Queries.from_asyncpg_connection(connection)
        manager_id = uuid.uuid4()
        while True:
            started = time.perf_counter()
            batch = await queries.dequeue(
                batch_size=1,
                entrypoints=entrypoints,
                queue_manager_id=manager_id,
                global_concurrency_limit=None,
                heartbeat_timeout=timedelta(seconds=60),
            )
            if not batch:
                return
            latencies.append(time.perf_counter() - started)
            await queries.log_jobs([(job, "successful", None) for job in batch])
            done[0] += len(batch)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(consumer(c) for c in connections))
        seconds = time.perf_counter() - started
        left = await connections[0].fetchval("SELECT count(*) FROM pgqueuer")
    finally:
        for connection in connections:
            await connection.close()
    if done[0] != jobs or left != 0:
        raise BenchmarkError(f"pgqueuer: {done[0]} jobs done, {left} left in its queue, expected {jobs}")
    return {"seconds": seconds, "rate": jobs / seconds, "latencies": latencies}


def pgqueuer_run(database: str, jobs: int, consumers: int) -> dict:
    return asyncio.run(_pgqueuer_run(database, jobs, consumers))


# -- (b) and (c) over REST --------------------------------------------------------------------------

# One client process of the bound and of the REST latency phase. argv: mode api key start duration.
_CLIENT = r"""
import json, sys, time, requests
mode, api, key = sys.argv[1:4]
start, duration = float(sys.argv[4]), float(sys.argv[5])
session = requests.Session()
session.headers.update({"X-API-Key": key})
session.get(f"{api}/health", timeout=30).raise_for_status()  # connection open before the start
me = f"bench-claimer-{time.time_ns() % 10**9}"
count, latencies, errors = 0, [], 0
while time.time() < start:
    time.sleep(0.001)
if mode == "bound":
    end = start + duration
    while time.time() < end:
        if session.get(f"{api}/auth/status", timeout=30).status_code == 200:
            count += 1
        else:
            errors += 1
    seconds = duration
else:
    began = time.perf_counter()
    while True:
        t = time.perf_counter()
        answer = session.post(f"{api}/jobs/claim", json={"executor_id": me, "wait": 0}, timeout=30)
        if answer.status_code == 204:
            break
        if answer.status_code != 200:
            errors += 1
            if errors > 20:
                break
            continue
        latencies.append(time.perf_counter() - t)
        job = answer.json()
        job = job.get("data", job)
        body = {"executor_id": me, "attempt": job.get("attempt"), "stdout": "", "stderr": "", "exit_code": 0}
        if session.put(f"{api}/jobs/{job['id']}/complete", json=body, timeout=30).status_code == 200:
            count += 1
        else:
            errors += 1
    seconds = time.perf_counter() - began
print(json.dumps({"count": count, "errors": errors, "seconds": seconds, "latencies": latencies}))
"""


def run_clients(mode: str, api: str, key: str, clients: int, duration: float) -> list[dict]:
    start = time.time() + 5  # every client has imported requests and opened its connection
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CLIENT, mode, api, key, str(start), str(duration)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(clients)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=duration + 600)
        if process.returncode != 0:
            raise BenchmarkError(f"a {mode} client failed: {err[-1500:]}")
        results.append(json.loads(out))
    return results


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def binary_server(root: Path) -> Iterator[tuple[str, str]]:
    script = b"#!/bin/sh\necho ok\n"
    (root / "true.sh").write_bytes(script)
    handler = lambda *a, **k: _Quiet(*a, directory=str(root), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", hashlib.sha256(script).hexdigest()
    finally:
        httpd.shutdown()
        httpd.server_close()


def _data(response) -> dict | list:
    answer = response.json()
    return answer.get("data", answer) if isinstance(answer, dict) else answer


def create_key(api: str, token: str, name: str, scope: str) -> str:
    import requests

    response = requests.post(
        f"{api}/auth/api-keys",
        json={"name": name, "scopes": [scope], "expires_in_days": 1},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code != 201:
        raise BenchmarkError(f"POST /auth/api-keys answered {response.status_code}: {response.text[:500]}")
    return _data(response)["key"]


def submit(api: str, key: str, count: int, url: str, sha: str) -> None:
    import requests

    job = {"type": "bench", "binary_url": url, "binary_sha256": sha, "priority": "background"}
    for start in range(0, count, BULK):
        response = requests.post(
            f"{api}/jobs/bulk", json=[job] * min(BULK, count - start), headers={"X-API-Key": key}, timeout=120
        )
        if response.status_code != 201:
            raise BenchmarkError(f"POST /jobs/bulk answered {response.status_code}: {response.text[:500]}")


def wait_done(engine: sa.Engine, expected: int, timeout: float) -> datetime:
    """The completion time of the last job, once ``expected`` jobs are completed."""
    deadline = time.monotonic() + timeout
    query = sa.text("SELECT count(*), max(completed_at) FROM headrace_job WHERE status = 'completed'")
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            count, last = connection.execute(query).one()
            failed = connection.execute(
                sa.text(
                    "SELECT count(*) FROM headrace_job"
                    " WHERE status NOT IN ('completed', 'pending', 'running')"
                )
            ).scalar_one()
        if failed:
            raise BenchmarkError(f"{failed} REST job(s) ended other than completed")
        if count >= expected:
            return last if last.tzinfo else last.replace(tzinfo=UTC)
        time.sleep(0.2)
    raise BenchmarkError(f"only {count} of {expected} REST jobs completed within {timeout:.0f}s")


@contextlib.contextmanager
def executors(api: str, key: str, prefix: str, count: int, work: Path) -> Iterator[list[subprocess.Popen]]:
    command = [str(Path(sys.executable).with_name("headrace")), "executor", "--api-url", api]
    env = {**os.environ, "HEADRACE_API_KEY": key}
    processes = []
    try:
        for number in range(count):
            log = (work / f"executor-{number}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [
                        *command,
                        *("--executor-id", f"bench-exec-{number}", "--allow-url-prefix", prefix),
                        *("--cache-dir", str(work / f"cache-{number}"), "--poll-wait", "2"),
                        *("--log-level", "WARNING", "--grace-period", "5"),
                    ],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            log.close()
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rest_run(args: argparse.Namespace) -> dict:
    from tests.e2e.cluster import running_airflow

    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="headrace-bench-jq-")))
        prefix, sha = stack.enter_context(binary_server(work))
        url = prefix + "true.sh"
        home = work / "airflow"
        home.mkdir()
        extra_env = {
            "AIRFLOW__HEADRACE__RATE_LIMIT": "10000000 per minute",
            "AIRFLOW__HEADRACE__RATE_LIMITS": "jobs=10000000 per minute; auth=10000000 per minute",
            "AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST": prefix,
        }
        print("starting Airflow with Headrace ...", flush=True)
        started = time.perf_counter()
        cluster = stack.enter_context(running_airflow(home, extra_env))
        print(f"Airflow api-server on {cluster.url} (healthy after {time.perf_counter() - started:.0f}s)")
        api = cluster.api
        token = cluster.airflow_token("admin")
        write_key = create_key(api, token, "bench-write", "write")
        executor_key = create_key(api, token, "bench-executor", "executor")
        # GET /auth/status needs the read scope, which the executor scope does not grant (403): the
        # bound uses a read key of the same owner; the key is authenticated the same way.
        read_key = create_key(api, token, "bench-read", "read")
        engine = sa.create_engine(
            cluster.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sa.pool.NullPool
        )
        stack.callback(engine.dispose)

        print(
            f"bound: {args.executors} clients on GET /auth/status for {args.bound_seconds:g}s ...", flush=True
        )
        bound = run_clients("bound", api, read_key, args.executors, args.bound_seconds)
        bound_rps = sum(r["count"] for r in bound) / args.bound_seconds
        bound_errors = sum(r["errors"] for r in bound)

        print(f"starting {args.executors} headrace executor processes; warm-up ...", flush=True)
        with executors(api, executor_key, prefix, args.executors, work):
            warm = args.executors * 2
            submit(api, write_key, warm, url, sha)
            wait_done(engine, warm, timeout=300)
            print(f"timed: {args.rest_jobs} jobs in bulk ...", flush=True)
            began_wall = datetime.now(UTC)
            began = time.perf_counter()
            submit(api, write_key, args.rest_jobs, url, sha)
            submitted = time.perf_counter() - began
            last = wait_done(engine, warm + args.rest_jobs, timeout=args.rest_jobs * 2 + 300)
            seconds = (last - began_wall).total_seconds()
        lifecycle_rate = args.rest_jobs / seconds

        print(
            f"REST claim latency: {args.latency_jobs} jobs, {args.executors} separate claimers ...",
            flush=True,
        )
        submit(api, write_key, args.latency_jobs, url, sha)
        claims = run_clients("claim", api, executor_key, args.executors, 0)
        claimed = sum(r["count"] for r in claims)
        claim_seconds = max(r["seconds"] for r in claims)
        return {
            "bound_rps": bound_rps,
            "bound_errors": bound_errors,
            "bound": bound_rps / CALLS_PER_LIFECYCLE,
            "seconds": seconds,
            "submit_seconds": submitted,
            "rate": lifecycle_rate,
            "claim_latencies": [x for r in claims for x in r["latencies"]],
            "claimed": claimed,
            "claim_errors": sum(r["errors"] for r in claims),
            "claim_rate": claimed / claim_seconds if claim_seconds else 0.0,
        }


# -- the 200 MB stdout line -----------------------------------------------------------------------------


def rss_run(megabytes: int) -> dict:
    """benchmarks.executor_rss's daemon measurement; the directory it leaves in /tmp is removed."""
    from benchmarks.executor_rss import measure_daemon

    scratch = Path(tempfile.gettempdir())
    before = set(scratch.glob("headrace-rss-daemon-*"))
    try:
        return measure_daemon(megabytes)
    finally:
        for left in set(scratch.glob("headrace-rss-daemon-*")) - before:
            shutil.rmtree(left, ignore_errors=True)


# -- main -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.job_queue", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument("--core-jobs", type=int, default=20_000, help="jobs of (a), each side (20000)")
    parser.add_argument("--claimers", type=int, default=8, help="concurrent claimers of (a) (8)")
    parser.add_argument("--rest-jobs", type=int, default=2_000, help="jobs of (b) (2000)")
    parser.add_argument("--executors", type=int, default=8, help="headrace executor processes of (b) (8)")
    parser.add_argument(
        "--bound-seconds", type=float, default=15, help="length of the bound measurement (15)"
    )
    parser.add_argument(
        "--latency-jobs", type=int, default=1_000, help="jobs of the REST latency phase (1000)"
    )
    parser.add_argument("--rss-mb", type=int, default=200, help="MiB the RSS binary writes (200)")
    parser.add_argument("--skip", action="append", default=[], choices=["core", "rest", "rss"])
    args = parser.parse_args(argv)
    print(
        f"Headrace job-queue benchmark: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"load average {_load()}; core {args.core_jobs} jobs x {args.claimers} claimers, REST "
        f"{args.rest_jobs} jobs x {args.executors} executors",
        flush=True,
    )
    core = pgq = rest = rss = None
    failed = False
    try:
        if "core" not in args.skip:
            with temporary_database("headrace_bench", skip_if_absent=False) as url:
                database = sa.engine.make_url(url).database
                print(f"(a) core: {args.core_jobs} jobs, {args.claimers} threads ...", flush=True)
                core = core_run(database, args.core_jobs, args.claimers)
                print(f"    {core['rate']:.0f} jobs/s; pgqueuer ...", flush=True)
                pgq = pgqueuer_run(database, args.core_jobs, args.claimers)
                print(f"    pgqueuer {pgq['rate']:.0f} jobs/s", flush=True)
        if "rest" not in args.skip:
            rest = rest_run(args)
        if "rss" not in args.skip:
            print(f"executor RSS with a binary writing {args.rss_mb} MiB to stdout ...", flush=True)
            rss = rss_run(args.rss_mb)
    except Exception as exc:  # report what was measured, then fail
        print(f"benchmark failed: {exc!r}", file=sys.stderr)
        failed = True

    print()
    print("=" * 100)
    if core and pgq:
        ratio = core["rate"] / pgq["rate"]
        print(f"(a) core, {args.core_jobs} jobs, {args.claimers} concurrent claimers, PostgreSQL")
        print(f"    Headrace JobQueue claim+complete : {core['rate']:8.0f} jobs/s ({core['seconds']:.2f} s)")
        print(f"    pgqueuer dequeue(1)+log_jobs     : {pgq['rate']:8.0f} jobs/s ({pgq['seconds']:.2f} s)")
        print(
            f"    [{_verdict(ratio >= GOAL_CORE)}] Headrace / pgqueuer = {ratio:.2f}x "
            f"(goal >= {GOAL_CORE:.1f}x)"
        )
        print(f"(c) claim latency, core JobQueue.claim : {_ms(core['latencies'])}")
        print(f"    (pgqueuer Queries.dequeue          : {_ms(pgq['latencies'])})")
    if rest:
        ratio = rest["rate"] / rest["bound"]
        print(f"(b) REST, {args.rest_jobs} jobs in bulk, {args.executors} headrace executor processes")
        print(
            f"    full lifecycles                  : {rest['rate']:8.1f} /s ({rest['seconds']:.2f} s, "
            f"bulk submission {rest['submit_seconds']:.2f} s of it)"
        )
        print(
            f"    bound: GET /auth/status           : {rest['bound_rps']:8.1f} req/s with {args.executors} "
            f"clients ({rest['bound_errors']} errors) / {CALLS_PER_LIFECYCLE} calls = {rest['bound']:.1f} /s"
        )
        print(
            f"    [{_verdict(ratio >= GOAL_REST)}] lifecycles / bound = {ratio:.2f}x "
            f"(goal >= {GOAL_REST:.1f}x)"
        )
        print(
            f"(c) claim latency, REST POST /jobs/claim, {args.executors} separate claimers, "
            f"{rest['claimed']} jobs ({rest['claim_rate']:.1f} claim+complete/s, "
            f"{rest['claim_errors']} errors):"
        )
        print(f"    {_ms(rest['claim_latencies'])}")
    if rss:
        mb = rss["peak_kb"] / 1024
        print(
            f"executor peak RSS, binary writing {args.rss_mb} MiB to stdout: {mb:.1f} MiB "
            f"(reported via {rss['route']}, exit_code {rss['exit_code']}) "
            f"[{_verdict(mb < GOAL_RSS_MB)}] (goal < {GOAL_RSS_MB} MB)"
        )
    print("=" * 100)
    print(f"load average at the end: {_load()} (other work on this machine skews the figures)")
    return 1 if failed else 0


def _main() -> int:
    # Importing tests.e2e.cluster (through tests.conftest) may point AIRFLOW_HOME at a scratch directory.
    try:
        return main()
    finally:
        scratch = Path(os.environ.get("AIRFLOW_HOME", ""))
        if scratch.name.startswith("headrace-test-home-"):
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(_main())
