"""Peak RSS of the executor's capture while a job binary writes 200 MB to stdout (goal: < 50 MB).

Run on demand: ``.venv/bin/python benchmarks/executor_rss.py [--mb 200]``. It starts a fresh Python
process that does what ``headrace executor`` does for one job, through the shared execution core:
download the binary from a loopback HTTP server, verify its sha256, run it and capture its output
(kept to the 1 MB head). That process reports its own peak RSS (``VmHWM`` of /proc/self/status,
which, unlike ``ru_maxrss``, does not carry over the forking parent's figure). The binary itself is a
separate process and is not counted: it is the job's memory, not the executor's.

Then it measures the whole daemon: a real ``headrace executor`` subprocess claims the same job from
a minimal stand-in for the four executor routes (claim, heartbeat, complete, fail; served here on
loopback so that the benchmark needs no Airflow), runs it and completes it; its ``VmHWM`` is read
once the completion has arrived. The stand-in is not the Headrace API: tests/unit/jobs/
test_executor.py runs the daemon against the real one.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_PROBE = r"""
import hashlib, http.server, json, re, sys, tempfile, threading, time
from pathlib import Path
from headrace.jobs.execution import BinaryCache, execute

def hwm_kb():
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))

megabytes = int(sys.argv[1])
root = Path(tempfile.mkdtemp(prefix="headrace-rss-"))
script = f"#!/bin/sh\nhead -c {megabytes * 1024 * 1024} /dev/zero | tr '\\0' 'x'\n".encode()
(root / "flood.sh").write_bytes(script)

class Quiet(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=str(root), **k)
    def log_message(self, *a):
        pass

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
prefix = f"http://127.0.0.1:{httpd.server_address[1]}/"
cache = BinaryCache(root / "cache", allowed_prefixes=[prefix])
before = hwm_kb()
started = time.monotonic()
result = execute(prefix + "flood.sh", hashlib.sha256(script).hexdigest(), cache=cache)
elapsed = time.monotonic() - started
print(json.dumps({
    "before_kb": before, "peak_kb": hwm_kb(), "seconds": round(elapsed, 2),
    "succeeded": result.succeeded, "error": result.error_message,
    "stdout_kept_bytes": len(result.stdout.encode()), "stdout_truncated": result.stdout_truncated,
}))
httpd.shutdown()
"""


def _flood_script(megabytes: int) -> bytes:
    return f"#!/bin/sh\nhead -c {megabytes * 1024 * 1024} /dev/zero | tr '\\0' 'x'\n".encode()


class _StandIn(http.server.ThreadingHTTPServer):
    """Serves the binary and hands out one job; records the completion."""

    def __init__(self, root: Path, script: bytes) -> None:
        self.root, self.script, self.claimed = root, script, False
        self.completed = threading.Event()
        self.report: dict = {}
        super().__init__(("127.0.0.1", 0), _Handler)
        self.base = f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _StandIn

    def log_message(self, *args):
        pass

    def _answer(self, status: int, body: dict | bytes | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._answer(200, self.server.script) if self.path == "/flood.sh" else self._answer(404, {})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/api/v1/jobs/claim":
            return self._answer(404, {})
        if self.server.claimed:
            time.sleep(min(float(body.get("wait", 0)), 1))
            return self._answer(204)
        self.server.claimed = True
        job = {
            "id": "bench-job", "type": "bench", "attempt": 1, "arguments": [], "env_variables": {},
            "binary_url": f"{self.server.base}/flood.sh",
            "binary_sha256": hashlib.sha256(self.server.script).hexdigest(),
        }  # fmt: skip
        self._answer(200, job)

    def do_PUT(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.endswith("/heartbeat"):
            return self._answer(200, {"id": "bench-job", "attempt": 1, "cancel_requested": False})
        self.server.report = {"route": self.path.rsplit("/", 1)[1], **body}
        self._answer(200, {"id": "bench-job", "status": "completed"})
        self.server.completed.set()


def measure_daemon(megabytes: int) -> dict:
    """Peak RSS (VmHWM) of a real ``headrace executor`` process that ran the flood job."""
    root = Path(tempfile.mkdtemp(prefix="headrace-rss-daemon-"))
    server = _StandIn(root, _flood_script(megabytes))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    command = [
        str(Path(sys.executable).with_name("headrace")),
        "executor",
        "--api-url",
        f"{server.base}/api/v1",
    ]
    command += [
        "--allow-url-prefix",
        f"{server.base}/",
        "--cache-dir",
        str(root / "cache"),
        "--poll-wait",
        "1",
    ]
    env = {**os.environ, "HEADRACE_API_KEY": "benchmark"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not server.completed.wait(300):
            raise RuntimeError("the executor did not report the job")
        status = Path(f"/proc/{proc.pid}/status").read_text()
        peak_kb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        server.shutdown()
    report = server.report
    return {
        "peak_kb": peak_kb, "route": report.get("route"), "exit_code": report.get("exit_code"),
        "stdout_bytes": len((report.get("stdout") or "").encode()),
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="MiB the binary writes to stdout (default: 200)")
    args = parser.parse_args()
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, str(args.mb)], capture_output=True, text=True, timeout=600
    )
    if probe.returncode != 0:
        print(probe.stderr, file=sys.stderr)
        return 1
    figures = json.loads(probe.stdout)
    peak_mb = figures["peak_kb"] / 1024
    print(
        f"binary wrote {args.mb} MiB to stdout in {figures['seconds']} s; "
        f"job succeeded: {figures['succeeded']}"
    )
    print(f"stdout kept: {figures['stdout_kept_bytes']} bytes (truncated: {figures['stdout_truncated']})")
    print(f"RSS of the capturing process before the job: {figures['before_kb'] / 1024:.1f} MiB")
    print(
        f"peak RSS of the capturing process: {peak_mb:.1f} MiB -> "
        f"{'PASS' if peak_mb < 50 else 'FAIL'} (goal < 50)"
    )
    daemon = measure_daemon(args.mb)
    daemon_mb = daemon["peak_kb"] / 1024
    print(
        f"headrace executor daemon: job reported via {daemon['route']} (exit_code {daemon['exit_code']}, "
        f"stdout {daemon['stdout_bytes']} bytes); peak RSS {daemon_mb:.1f} MiB -> "
        f"{'PASS' if daemon_mb < 50 else 'FAIL'} (goal < 50)"
    )
    return 0 if figures["succeeded"] and daemon["route"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main())
