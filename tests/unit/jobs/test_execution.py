"""The execution core against real binaries served by a real loopback HTTP server.

Binaries are small shell scripts written to a temporary folder; they leave marker files and print
what they saw so that the tests check what a job author would notice.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from headrace.jobs.execution import (
    OUTPUT_LIMIT_BYTES,
    TRUNCATION_MARKER,
    BinaryCache,
    ErrorKind,
    Limits,
    execute,
)


class _Server:
    """A loopback HTTP server over ``root`` that also answers ``/redirect?to=URL`` with a 302."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self):
                server.hits.append(self.path)
                if self.path.startswith("/redirect?to="):
                    self.send_response(302)
                    self.send_header("Location", self.path.split("=", 1)[1])
                    self.end_headers()
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def publish(self, name: str, script: str) -> tuple[str, str]:
        """Serve ``script`` as ``/name``; its URL and sha256."""
        data = textwrap.dedent(script).lstrip().encode()
        (self.root / name).write_bytes(data)
        return f"{self.url}/{name}", hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    root = tmp_path / "served"
    root.mkdir()
    srv = _Server(root)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def cache(tmp_path: Path, server: _Server) -> BinaryCache:
    return BinaryCache(tmp_path / "cache", allowed_prefixes=[f"{server.url}/"])


def test_arguments_and_only_the_jobs_environment_reach_the_binary(server, cache, monkeypatch):
    monkeypatch.setenv("EXECUTOR_SECRET", "must-not-leak")
    url, sha = server.publish(
        "show.sh",
        """
        #!/bin/sh
        for a in "$@"; do echo "arg=<$a>"; done
        echo "cwd=$(pwd)"
        env
        """,
    )
    result = execute(url, sha, ["one two", "$HOME", "; rm -rf /"], {"GREETING": "hi there"}, cache=cache)

    assert result.succeeded and result.exit_code == 0, result
    lines = result.stdout.splitlines()
    assert lines[:3] == ["arg=<one two>", "arg=<$HOME>", "arg=<; rm -rf />"]  # no shell in between
    env = dict(line.split("=", 1) for line in lines[4:])
    env.pop("PWD", None)  # sh sets it itself
    cwd = lines[3].removeprefix("cwd=")
    assert env == {"GREETING": "hi there", "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": cwd}
    assert Path(cwd).name.startswith("headrace-job-") and not Path(cwd).exists()  # fresh, removed


def test_tampered_binary_is_never_executed(server, cache, tmp_path):
    marker = tmp_path / "ran"
    url, _ = server.publish("evil.sh", f"#!/bin/sh\ntouch {marker}\n")
    wrong = hashlib.sha256(b"what the job author published").hexdigest()

    result = execute(url, wrong, cache=cache)

    assert result.error_kind is ErrorKind.CHECKSUM and result.exit_code is None
    assert "checksum mismatch" in result.error_message and wrong in result.error_message
    assert not marker.exists()
    assert list(cache.root.iterdir()) == []  # nothing left behind under any name, executable or not


def test_binary_over_the_size_limit_is_refused(server, cache, tmp_path):
    marker = tmp_path / "ran"
    url, sha = server.publish("big.sh", f"#!/bin/sh\ntouch {marker}\n#" + "x" * 5000 + "\n")

    result = execute(url, sha, cache=cache, limits=Limits(max_binary_bytes=4096))

    assert result.error_kind is ErrorKind.DOWNLOAD
    assert "over the limit of 4096" in result.error_message
    assert not marker.exists()


def test_default_allow_list_is_https_only(server, tmp_path):
    url, sha = server.publish("ok.sh", "#!/bin/sh\necho hi\n")

    result = execute(url, sha, cache=BinaryCache(tmp_path / "cache"))

    assert result.error_kind is ErrorKind.DOWNLOAD
    assert "outside the allowed prefixes ['https://']" in result.error_message
    assert server.hits == []  # refused before any request


def test_redirect_that_leaves_the_allow_list_is_refused(server, tmp_path):
    url, sha = server.publish("ok.sh", "#!/bin/sh\necho hi\n")
    other_origin = url.replace("127.0.0.1", "localhost")  # same server, another origin
    cache = BinaryCache(tmp_path / "cache", allowed_prefixes=[f"{server.url}/"])

    refused = execute(f"{server.url}/redirect?to={other_origin}", sha, cache=cache)
    followed = execute(f"{server.url}/redirect?to={url}", sha, cache=cache)

    assert refused.error_kind is ErrorKind.DOWNLOAD and "redirect from" in refused.error_message
    assert followed.succeeded and followed.stdout == "hi\n"  # a redirect inside the list is fine
    assert server.hits == ["/redirect?to=" + other_origin, "/redirect?to=" + url, "/ok.sh"]


def test_non_zero_exit_fails_with_output_kept(server, cache):
    url, sha = server.publish("fail.sh", "#!/bin/sh\necho partial\necho broken >&2\nexit 3\n")

    result = execute(url, sha, cache=cache)

    assert result.error_kind is ErrorKind.EXIT_CODE and result.exit_code == 3
    assert result.error_message == "exit_code: binary exited with code 3"
    assert (result.stdout, result.stderr) == ("partial\n", "broken\n")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[1].split()[0] == "Z")


def test_timeout_kills_the_whole_process_group(server, cache, tmp_path):
    pidfile = tmp_path / "child.pid"
    url, sha = server.publish(
        "hang.sh",
        f"""
        #!/bin/sh
        sleep 300 &
        echo $! > {pidfile}
        echo started
        trap '' TERM
        wait
        """,
    )
    started = time.monotonic()
    result = execute(url, sha, cache=cache, limits=Limits(timeout_seconds=1, kill_grace_seconds=0.5))

    assert time.monotonic() - started < 10
    assert result.error_kind is ErrorKind.TIMEOUT and "after 1 s" in result.error_message
    assert result.stdout == "started\n"
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the binary's child survived the timeout"


def test_cancel_kills_a_running_binary(server, cache):
    url, sha = server.publish("sleep.sh", "#!/bin/sh\nsleep 300\n")
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()

    result = execute(url, sha, cache=cache, cancel=cancel)

    assert result.error_kind is ErrorKind.CANCELLED and result.duration_seconds < 10


def test_output_is_truncated_to_the_limit_keeping_the_head(server, cache):
    url, sha = server.publish(
        "loud.sh",
        """
        #!/bin/sh
        echo FIRST-LINE
        head -c 3000000 /dev/zero | tr '\\0' 'a'
        echo LAST-LINE
        echo small >&2
        """,
    )
    result = execute(url, sha, cache=cache)

    assert result.succeeded
    assert result.stdout_truncated and not result.stderr_truncated
    assert len(result.stdout.encode()) <= OUTPUT_LIMIT_BYTES
    assert len(result.stdout.encode()) > OUTPUT_LIMIT_BYTES - 200
    assert result.stdout.startswith("FIRST-LINE\naaaa")
    assert "LAST-LINE" not in result.stdout
    tail = result.stdout.rsplit("\n", 2)[-2]
    kept = len(result.stdout.encode()) - len(tail) - 2  # the marker sits on a line of its own
    assert tail == f"{TRUNCATION_MARKER}, {3000021 - kept} of 3000021 bytes not kept]"
    assert result.stderr == "small\n"


def test_cache_hit_avoids_a_second_download_and_survives_tampering(server, cache):
    url, sha = server.publish("hello.sh", "#!/bin/sh\necho hello\n")

    first = execute(url, sha, cache=cache)
    second = execute(url, sha, cache=cache)
    assert first.stdout == second.stdout == "hello\n"
    assert server.hits == ["/hello.sh"] and cache.downloads == 1
    cached = cache.root / sha
    assert cached.stat().st_mode & 0o777 == 0o500

    cached.chmod(0o700)
    cached.write_text("#!/bin/sh\necho tampered\n")  # changed on disk: must not be run
    third = execute(url, sha, cache=cache)
    assert third.stdout == "hello\n" and server.hits == ["/hello.sh", "/hello.sh"]


_RSS_PROBE = """
import json, re, tempfile
from pathlib import Path
from headrace.jobs.execution import run_binary
def peak_kb():  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent
    return int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1))
script = Path(tempfile.mkdtemp()) / "flood.sh"
script.write_text("#!/bin/sh\\nhead -c 209715200 /dev/zero\\n")
script.chmod(0o500)
before = peak_kb()
result = run_binary(script)
after = peak_kb()
print(json.dumps({"before_kb": before, "peak_kb": after, "ok": result.succeeded,
                  "truncated": result.stdout_truncated, "len": len(result.stdout)}))
"""


def test_memory_stays_flat_when_the_binary_writes_200_mb():
    """Peak RSS of a process capturing 200 MB of stdout stays far below the output size."""
    probe = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    figures = json.loads(probe.stdout)
    assert figures["ok"] and figures["truncated"] and figures["len"] <= OUTPUT_LIMIT_BYTES
    assert figures["peak_kb"] < 50 * 1024, figures  # the goal: < 50 MB
    assert figures["peak_kb"] - figures["before_kb"] < 16 * 1024, figures


def test_the_executor_side_imports_neither_airflow_nor_the_queue_core():
    """``headrace executor`` must run on a host with only this package's pure-Python parts."""
    probe = "import sys, headrace.cli, headrace.jobs.executor; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for heavy in ("airflow", "flask", "sqlalchemy"):
        assert f"'{heavy}'" not in loaded and f"'{heavy}." not in loaded


def test_resource_limits_apply_to_the_binary(server, cache):
    script = "#!/bin/sh\nulimit -c\nulimit -n\nhead -c 8192 /dev/zero > big\necho $?\nwc -c < big\n"
    url, sha = server.publish("limits.sh", script)

    result = execute(url, sha, cache=cache, limits=Limits(max_file_bytes=4096, max_open_files=64))

    core, files, head_status, size = result.stdout.split()
    assert (core, files) == ("0", "64")  # no core dumps; open files capped
    assert head_status != "0" and int(size) == 4096  # writing past RLIMIT_FSIZE failed at the limit
