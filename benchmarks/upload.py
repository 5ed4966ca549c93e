"""Upload API against a direct boto3 upload to the same S3 endpoint, in the same run.

Everything runs on loopback: a moto S3 server (its own process; ``--moto-in-process``: this one),
a real Airflow deployment with Headrace (api-server, scheduler and dag-processor from
``tests/e2e/cluster.py``) whose storage connection points at that moto server, and a generated CSV
file (100 MiB by default). Each side gets one warm-up upload and then ``--repeat`` (>= 5) timed
uploads, interleaved (API, boto3, API, ...):

* API: ``POST /upload`` (multipart ``bucket=bench``, then ``file``: with the fields first the file is
  streamed into a multipart upload as it arrives) read from disk as it is sent, with a known
  ``Content-Length``, timed from the first byte sent to the 201 answer; the object is then checked in
  S3 with ``head_object``.
* boto3: ``upload_fileobj`` of the same file to bucket ``bench-direct``, default ``TransferConfig``.

During every upload the CPU time of the moto process is read before and after: its share of the
upload's wall time says whether the S3 server was the bound (about 1.0; moto serves under one GIL)
or waited for the uploader. During each API upload the RSS of the api-server process and all its
descendants is sampled every 20 ms; the figure reported is the peak over the RSS just before the
upload.

Goals (issue 16): API throughput >= 0.8x boto3's (ratio of the medians), api-server memory growth
< 32 MiB (worst run). The report ends with one ``GOAL <name>: <measured> (goal <target>) MET`` or
``NOT MET`` line per goal, after the load average before and after; it is a report, not a test: the
exit status is 0 whenever the measurement ran, non-zero only when setup or an upload failed.

Run from the repository root::

    .venv/bin/python -m benchmarks.upload [--size-mb 100 --repeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest
import requests
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.e2e.cluster import AirflowCluster, running_airflow

MIB = 1024 * 1024
API_BUCKET = "bench"
DIRECT_BUCKET = "bench-direct"
FILE_NAME = "bench.csv"
REGION = "us-east-1"
CONN_ID = "bench_s3"
GOAL_RATIO = 0.8
GOAL_GROWTH = 32 * MIB
SAMPLE_INTERVAL = 0.02
READ_CHUNK = MIB


class BenchmarkError(Exception):
    pass


class SetupError(BenchmarkError):
    pass


# -- the data file -----------------------------------------------------------------------------------


def write_csv(path: Path, size: int) -> None:
    """Exactly ``size`` bytes of UTF-8 CSV (``id,value`` rows); the last row may be cut short."""
    value = "abcdefghijklmnopqrstuvwxyz0123456789" * 2
    written = 0
    row = 1
    with path.open("wb") as out:
        header = b"id,value\n"[:size]
        out.write(header)
        written += len(header)
        while written < size:
            block = "".join(f"{i},{value}\n" for i in range(row, row + 10_000)).encode()
            row += 10_000
            block = block[: size - written]
            out.write(block)
            written += len(block)


# -- a multipart body streamed from disk ------------------------------------------------------------


class MultipartBody:
    """A ``multipart/form-data`` body read from disk as it is sent, with a known length.

    ``requests`` builds ``files=`` bodies in memory; this iterable has a ``len()``, so requests sends
    it with ``Content-Length`` (no chunked encoding) one chunk at a time. ``sent_at`` is the
    ``perf_counter()`` at which the last byte was handed to the socket.
    """

    def __init__(self, fields: dict[str, str], file_field: str, path: Path, content_type: str):
        self.boundary = uuid.uuid4().hex
        self.path = path
        self.size = path.stat().st_size
        parts = [
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            for name, value in fields.items()
        ]
        parts.append(
            f"--{self.boundary}\r\n"
            f'Content-Disposition: form-data; name="{file_field}"; filename="{path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        self.head = "".join(parts).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()
        self.sent_at: float | None = None

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        with self.path.open("rb") as source:
            while chunk := source.read(READ_CHUNK):
                yield chunk
        yield self.tail
        self.sent_at = time.perf_counter()


# -- memory of the api-server ------------------------------------------------------------------------


def _describe(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        words = [Path(process.cmdline()[0]).name, *process.cmdline()[1:]]
        return " ".join(" ".join(words).split())[:60]  # setproctitle pads with spaces
    return "?"


@dataclass
class RssSampler:
    """Peak RSS of a process and all its descendants, sampled in a background thread."""

    pid: int
    interval: float = SAMPLE_INTERVAL
    baseline: int = 0
    peak: int = 0
    samples: int = 0
    baseline_by_pid: dict[int, int] = field(default_factory=dict)
    peak_by_pid: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._root = psutil.Process(self.pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._tree: list[psutil.Process] = []

    def _refresh_tree(self) -> None:
        self._tree = [self._root, *self._root.children(recursive=True)]
        for process in self._tree:
            if process.pid not in self.names:
                self.names[process.pid] = _describe(process)

    def _sample(self) -> dict[int, int]:
        by_pid = {}
        for process in self._tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                by_pid[process.pid] = process.memory_info().rss
        return by_pid

    def _record(self, by_pid: dict[int, int]) -> None:
        self.samples += 1
        self.peak = max(self.peak, sum(by_pid.values()))
        for pid, rss in by_pid.items():
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0), rss)

    def _run(self) -> None:
        ticks = 0
        while not self._stop.wait(self.interval):
            ticks += 1
            if ticks % 25 == 0:  # a worker started or replaced mid-upload is still counted
                self._refresh_tree()
            self._record(self._sample())

    def __enter__(self) -> RssSampler:
        self._refresh_tree()
        self.baseline_by_pid = self._sample()
        self.baseline = self.peak = sum(self.baseline_by_pid.values())
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._record(self._sample())

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def top_grower(self) -> tuple[str, int]:
        """The process whose own RSS grew most, and by how much."""
        growth = {pid: peak - self.baseline_by_pid.get(pid, 0) for pid, peak in self.peak_by_pid.items()}
        pid = max(growth, key=lambda p: growth[p])
        return f"pid {pid} ({self.names.get(pid, '?')})", growth[pid]


# -- the two ways to upload --------------------------------------------------------------------------


@dataclass
class S3Server:
    """The moto server both sides upload to, and (in its own process) the CPU time it has used."""

    endpoint: str
    process: psutil.Process | None = None

    def cpu_seconds(self) -> float:
        if self.process is None:
            return float("nan")
        times = self.process.cpu_times()
        return times.user + times.system


@contextlib.contextmanager
def s3_busy(server: S3Server) -> Iterator[list[float]]:
    """Yield a list that ends up holding the S3 server's CPU seconds over the block's wall seconds.

    moto handles a request on one thread under one GIL, so about 1.0 means the S3 server was the
    bound of that upload, and less means it waited for the uploader."""
    share: list[float] = []
    cpu, wall = server.cpu_seconds(), time.perf_counter()
    yield share
    share.append((server.cpu_seconds() - cpu) / (time.perf_counter() - wall))


@dataclass
class DirectRun:
    seconds: float
    s3_busy: float


@dataclass
class ApiRun:
    seconds: float
    s3_busy: float
    body_sent: float  # seconds until the whole request body was handed to the socket
    baseline: int
    growth: int
    samples: int
    top: tuple[str, int]


def _delete_if_present(s3: Any, bucket: str, key: str) -> None:
    with contextlib.suppress(ClientError):
        s3.delete_object(Bucket=bucket, Key=key)


def _check_stored(s3: Any, bucket: str, key: str, size: int) -> None:
    stored = s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
    if stored != size:
        raise BenchmarkError(f"s3://{bucket}/{key} holds {stored} bytes, expected {size}")


def api_upload(cluster: AirflowCluster, token: str, data: Path, s3: Any, server: S3Server) -> ApiRun:
    size = data.stat().st_size
    _delete_if_present(s3, API_BUCKET, data.name)
    body = MultipartBody({"bucket": API_BUCKET}, "file", data, "text/csv")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": body.content_type}
    with RssSampler(cluster.pids["api-server"]) as memory, s3_busy(server) as busy:
        started = time.perf_counter()
        response = requests.post(f"{cluster.api}/upload", data=body, headers=headers, timeout=900)
        seconds = time.perf_counter() - started
    if response.status_code != 201:
        log = (cluster.home / "api-server.log").read_text(errors="replace")[-3000:]
        raise BenchmarkError(
            f"POST /upload answered {response.status_code}: {response.text[:1000]}\n"
            f"--- end of api-server.log ---\n{log}"
        )
    answer = response.json()
    answer = answer.get("data", answer)
    if answer.get("size") != size:
        raise BenchmarkError(f"POST /upload reported size {answer.get('size')}, expected {size}")
    _check_stored(s3, answer["bucket"], answer["key"], size)
    body_sent = (body.sent_at or started + seconds) - started
    return ApiRun(
        seconds, busy[0], body_sent, memory.baseline, memory.growth, memory.samples, memory.top_grower()
    )


def boto3_upload(s3: Any, data: Path, server: S3Server) -> DirectRun:
    size = data.stat().st_size
    _delete_if_present(s3, DIRECT_BUCKET, data.name)
    with data.open("rb") as source, s3_busy(server) as busy:
        started = time.perf_counter()
        s3.upload_fileobj(source, DIRECT_BUCKET, data.name)
        seconds = time.perf_counter() - started
    _check_stored(s3, DIRECT_BUCKET, data.name, size)
    return DirectRun(seconds, busy[0])


# -- report ------------------------------------------------------------------------------------------


def _mib(value: float) -> str:
    return f"{value / MIB:7.1f}"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def report(size: int, api: list[ApiRun], direct: list[DirectRun], load_before: str) -> None:
    api_median = statistics.median(run.seconds for run in api)
    direct_median = statistics.median(run.seconds for run in direct)
    api_rate = size / MIB / api_median
    direct_rate = size / MIB / direct_median
    ratio = direct_median / api_median
    worst_growth = max(run.growth for run in api)
    runs = len(api)
    run_columns = "".join(f"{'run ' + str(i + 1):>9}" for i in range(runs))
    width = 24 + 9 * runs + 20

    print()
    print(f"Upload of a {size / MIB:.1f} MiB CSV file, median of {runs} timed runs (after 1 warm-up each)")
    print("-" * width)
    print(f"{'':24}{run_columns}{'median':>9}{'MiB/s':>11}")
    print(
        f"{'API POST /upload':24}{''.join(f'{r.seconds:8.2f}s' for r in api)}"
        f"{api_median:8.2f}s{api_rate:11.1f}"
    )
    print(
        f"{'  of which body sent':24}{''.join(f'{r.body_sent:8.2f}s' for r in api)}"
        f"{statistics.median(r.body_sent for r in api):8.2f}s"
    )
    print(
        f"{'boto3 upload_fileobj':24}{''.join(f'{r.seconds:8.2f}s' for r in direct)}"
        f"{direct_median:8.2f}s{direct_rate:11.1f}"
    )
    print("S3 server busy (its CPU seconds / upload seconds; 1.0 = the S3 server was the bound)")
    for label, runs_of in (("  during API", api), ("  during boto3", direct)):
        shares = [r.s3_busy for r in runs_of]
        print(f"{label:24}{''.join(f'{s:9.2f}' for s in shares)}{statistics.median(shares):9.2f}")
    print("-" * width)
    print("api-server RSS (api-server + descendants, MiB)")
    print(f"{'  before upload':24}{''.join(f'{_mib(r.baseline):>9}' for r in api)}")
    print(f"{'  peak growth':24}{''.join(f'{_mib(r.growth):>9}' for r in api)}")
    print(f"{'  samples (20 ms)':24}{''.join(f'{r.samples:>9}' for r in api)}")
    name, grew = max((r.top for r in api), key=lambda top: top[1])
    print(f"  grew most: {name}, +{grew / MIB:.1f} MiB")
    print("-" * width)
    print(f"load average before: {load_before}; after: {_load()} (1, 5, 15 min; other work skews figures)")
    print(
        f"GOAL upload_throughput_vs_boto3: {ratio:.2f}x ({api_rate:.1f} vs {direct_rate:.1f} MiB/s) "
        f"(goal >= {GOAL_RATIO:.1f}x) {_verdict(ratio >= GOAL_RATIO)}"
    )
    print(
        f"GOAL upload_rss_growth: {worst_growth / MIB:.1f} MiB, worst of {runs} "
        f"(goal < {GOAL_GROWTH / MIB:.0f} MiB) {_verdict(worst_growth < GOAL_GROWTH)}"
    )


# -- setup and main ------------------------------------------------------------------------------------


@contextlib.contextmanager
def moto_server(separate: bool) -> Iterator[S3Server]:
    """moto's threaded S3 server, in its own process by default (S3 is a service of its own: in this
    process its GIL would be shared with the client sending the API's request body, but not with
    boto3's reads of the file) or, with ``--moto-in-process``, in this one as before."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if not separate:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield S3Server(f"http://{host}:{port}")
        finally:
            server.stop()
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SetupError("the moto server did not start")
            time.sleep(0.2)
        yield S3Server(f"http://127.0.0.1:{port}", psutil.Process(process.pid))
    finally:
        process.terminate()
        process.wait(10)


def airflow_env(endpoint: str, size: int) -> dict[str, str]:
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": REGION},
    }
    return {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
        "AIRFLOW__HEADRACE__STORAGE_CONN_ID": CONN_ID,
        "AIRFLOW__HEADRACE__UPLOAD_MAX_BYTES": str(max(200 * MIB, 2 * size)),
        "AIRFLOW__HEADRACE__RATE_LIMITS": "upload=1000 per minute",
    }


def check_plugin_imports() -> None:
    """Fail in seconds, not after the cluster's 240 s health wait, when the plugin cannot load.

    The package is installed in strict editable mode: modules added since the last editable install
    are missing until it is redone (``make test`` does it first).
    """
    result = subprocess.run(
        [sys.executable, "-c", "import headrace.plugin"], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise SetupError(
            "the Headrace plugin does not import, so the api-server would not serve it; modules added "
            "since the last editable install need a reinstall (`make test` does one first):\n"
            f"{result.stderr[-2000:]}"
        )


def run(size: int, repeat: int, load_before: str, moto_apart: bool = True) -> None:
    check_plugin_imports()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="headrace-bench-")))
        data = work / FILE_NAME
        write_csv(data, size)
        server = stack.enter_context(moto_server(moto_apart))
        endpoint = server.endpoint
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=REGION,
        )
        s3.create_bucket(Bucket=DIRECT_BUCKET)
        home = work / "airflow"
        home.mkdir()
        print(f"moto S3 on {endpoint}; starting Airflow with Headrace ...", flush=True)
        started = time.perf_counter()
        cluster = stack.enter_context(running_airflow(home, airflow_env(endpoint, size)))
        print(f"Airflow api-server on {cluster.url} (healthy after {time.perf_counter() - started:.0f}s)")
        token = cluster.airflow_token("admin")

        print("warm-up ...", flush=True)
        api_upload(cluster, token, data, s3, server)
        boto3_upload(s3, data, server)
        api_runs: list[ApiRun] = []
        direct_runs: list[DirectRun] = []
        for number in range(1, repeat + 1):
            api_runs.append(api_upload(cluster, token, data, s3, server))
            direct_runs.append(boto3_upload(s3, data, server))
            api_seconds, direct_seconds = api_runs[-1].seconds, direct_runs[-1].seconds
            print(f"run {number}/{repeat}: API {api_seconds:.2f}s, boto3 {direct_seconds:.2f}s", flush=True)
        report(size, api_runs, direct_runs, load_before)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.upload", description=__doc__.split("\n\n")[0].strip()
    )
    parser.add_argument("--size-mb", type=float, default=100, help="file size in MiB (default: 100)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per side (default: 5, at least 5)")
    parser.add_argument(
        "--moto-in-process", action="store_true", help="run moto in this process (default: its own)"
    )
    args = parser.parse_args(argv)
    if args.size_mb <= 0 or args.repeat < 5:
        parser.error("--size-mb must be > 0 and --repeat >= 5 (the figures are medians of 5 runs or more)")
    size = int(args.size_mb * MIB)
    load_before = _load()
    where_moto = "in this process" if args.moto_in_process else "in its own process"
    print(
        f"Headrace upload benchmark: Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"{size / MIB:.1f} MiB file, {args.repeat} run(s), moto {where_moto}, "
        f"load average {load_before}"
    )
    try:
        run(size, args.repeat, load_before, not args.moto_in_process)
    except (SetupError, pytest.fail.Exception) as exc:  # pytest.fail: how cluster.py reports a bad start
        print(f"setup failed: {exc}", file=sys.stderr)
        return 1
    except (BenchmarkError, requests.RequestException, OSError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _main() -> int:
    # Importing tests.conftest pointed this process's AIRFLOW_HOME at a fresh temporary directory.
    scratch_home = Path(os.environ.get("AIRFLOW_HOME", ""))
    try:
        return main()
    finally:
        if scratch_home.name.startswith("headrace-test-home-"):
            shutil.rmtree(scratch_home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(_main())
