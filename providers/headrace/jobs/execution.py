"""Download, verify, execute and capture one job binary: the core shared by executor and operator.

A job is "run this URL's bytes, if they hash to this sha256". Everything that makes that safe is in
this module so that the ``headrace executor`` daemon and the operator's ``inline`` mode behave the
same way:

- the URL must start with a prefix of the allow-list (default ``https://``), and so must every
  redirect hop; the body is streamed with a size bound, never held in memory;
- the sha256 is checked on the downloaded file **before** it gets an execute bit; a verified binary
  is moved into the cache under its hash by an atomic rename, so a half-written or tampered file is
  never executable under a cache name;
- the binary is run without a shell, in a session (process group) of its own, with the job's
  arguments, only the job's environment plus a minimal ``PATH``/``HOME``, in a fresh temporary
  working directory and with resource limits; a timeout or a cancel kills the whole group;
- stdout and stderr are read in chunks; only the first :data:`OUTPUT_LIMIT_BYTES` of each are kept,
  with a marker where the rest was cut, so memory stays flat whatever the binary prints.

No Airflow, no Flask: the executor runs anywhere Python runs.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urljoin

import requests

OUTPUT_LIMIT_BYTES = 1024 * 1024  # the contract: stdout and stderr are truncated to 1 MB each
TRUNCATION_MARKER = "[headrace: output truncated"  # start of the line that marks the cut
_MARKER = "\n" + TRUNCATION_MARKER + ", {dropped} of {total} bytes not kept]\n"
DEFAULT_ALLOWED_PREFIXES = ("https://",)
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_CHUNK = 64 * 1024
_MAX_REDIRECTS = 5
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

# Runs in the child between fork and the job: set limits, then exec the binary (argv[5:]). A
# separate interpreter instead of ``preexec_fn``, which is unsafe in a multi-threaded parent (the
# executor runs a thread per job). ``-I -S`` keeps the job's environment from steering it; argv[4]
# says whether LC_CTYPE is the job's, as the interpreter's locale coercion (PEP 538) may add it.
_LAUNCHER = (
    "import os,resource,sys\n"
    "for name,value in zip(('RLIMIT_CORE','RLIMIT_FSIZE','RLIMIT_NOFILE'),map(int,sys.argv[1:4])):\n"
    "    lim=getattr(resource,name)\n"
    "    hard=resource.getrlimit(lim)[1]\n"
    "    value=value if hard==resource.RLIM_INFINITY else min(value,hard)\n"
    "    resource.setrlimit(lim,(value,value))\n"
    "env=dict(os.environ)\n"
    "if sys.argv[4]=='0':\n"
    "    env.pop('LC_CTYPE',None)\n"
    "try:\n"
    "    os.execve(sys.argv[5],sys.argv[5:],env)\n"
    "except OSError as exc:\n"
    "    sys.stderr.write(f'headrace: cannot execute binary: {exc}\\n')\n"
    "    os._exit(127)\n"
)


class ErrorKind(StrEnum):
    """Why a run did not succeed; the first word of :attr:`ExecutionResult.error_message`."""

    DOWNLOAD = "download"  # URL not allowed, HTTP error, redirect out of the allow-list, too large
    CHECKSUM = "checksum"  # the bytes do not hash to the job's sha256; never executed
    LAUNCH = "launch"  # the verified file could not be started
    EXIT_CODE = "exit_code"  # the binary ran and exited non-zero (or was killed by a signal)
    TIMEOUT = "timeout"  # killed (with its process group) after the job timeout
    CANCELLED = "cancelled"  # killed (with its process group) because the caller asked


class ExecutionError(Exception):
    """A failure before the binary ran (download, checksum)."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Limits:
    """Bounds on one run. Defaults suit a shared executor host."""

    timeout_seconds: float | None = 3600.0
    max_binary_bytes: int = 256 * 1024 * 1024
    output_limit_bytes: int = OUTPUT_LIMIT_BYTES
    max_file_bytes: int = 1024 * 1024 * 1024  # RLIMIT_FSIZE: largest file the binary may write
    max_open_files: int = 1024  # RLIMIT_NOFILE
    kill_grace_seconds: float = 2.0  # SIGTERM to SIGKILL of the process group
    download_timeout_seconds: float = 60.0  # connect and per-read timeout of the download


@dataclass(frozen=True)
class ExecutionResult:
    """What a run produced. ``error_kind`` is None exactly when the binary exited 0."""

    exit_code: int | None  # None if it never ran; negative signal number if killed by a signal
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    duration_seconds: float = 0.0  # of the run itself, without the download
    error_kind: ErrorKind | None = None
    error_message: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.error_kind is None


def url_allowed(url: str, allowed_prefixes: Sequence[str]) -> bool:
    """Plain prefix match: end a prefix with ``/`` after the host to pin the host."""
    return any(url.startswith(prefix) for prefix in allowed_prefixes)


@dataclass
class BinaryCache:
    """Verified binaries in ``root``, one file per sha256, read-only and executable.

    Only verified bytes ever get a cache name (atomic rename of a checked temp file), and a hit is
    re-hashed before use, so a file changed on disk is downloaded again rather than run.
    """

    root: Path
    allowed_prefixes: Sequence[str] = DEFAULT_ALLOWED_PREFIXES
    session: requests.Session | None = None
    downloads: int = 0  # how many downloads this cache made (observability and tests)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def fetch(self, url: str, sha256: str, *, limits: Limits = Limits()) -> Path:
        """Path of the verified binary for ``sha256``, downloading ``url`` if not cached."""
        expected = sha256.strip().lower()
        if not _SHA256.match(expected):
            raise ExecutionError(ErrorKind.CHECKSUM, f"binary_sha256 is not 64 hex digits: {sha256!r}")
        with self._guard:
            lock = self._locks.setdefault(expected, threading.Lock())
        with lock:  # two jobs with the same binary download it once
            target = self.root / expected
            if target.exists():
                if _sha256_of(target) == expected:
                    return target
                target.unlink(missing_ok=True)
            self._download_verified(url, expected, target, limits)
            return target

    def _download_verified(self, url: str, expected: str, target: Path, limits: Limits) -> None:
        fd, tmp_name = tempfile.mkstemp(dir=self.root, prefix=".part-")  # mode 0600: not executable
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                actual = self._stream(url, out, limits)
            if actual != expected:
                raise ExecutionError(
                    ErrorKind.CHECKSUM,
                    f"checksum mismatch: expected sha256 {expected}, downloaded bytes have {actual}; "
                    "not executed",
                )
            tmp.chmod(0o500)  # only now, after verification
            os.replace(tmp, target)
            self.downloads += 1
        finally:
            tmp.unlink(missing_ok=True)

    def _stream(self, url: str, out, limits: Limits) -> str:
        """Write the body of ``url`` to ``out`` (bounded), following allowed redirects; its sha256."""
        session = self.session or requests
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            if not url_allowed(current, self.allowed_prefixes):
                what = "binary URL" if current == url else f"redirect from {url} to"
                raise ExecutionError(
                    ErrorKind.DOWNLOAD,
                    f"download refused: {what} {current} is outside the allowed prefixes "
                    f"{list(self.allowed_prefixes)}",
                )
            timeout = limits.download_timeout_seconds
            try:
                response = session.get(current, stream=True, allow_redirects=False, timeout=timeout)
            except requests.RequestException as exc:
                raise ExecutionError(ErrorKind.DOWNLOAD, f"download failed: {current}: {exc}") from exc
            with response:
                if response.is_redirect:
                    current = urljoin(current, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise ExecutionError(
                        ErrorKind.DOWNLOAD, f"download failed: {current} answered HTTP {response.status_code}"
                    )
                return _copy_bounded(response, out, limits.max_binary_bytes, current)
        raise ExecutionError(
            ErrorKind.DOWNLOAD, f"download failed: more than {_MAX_REDIRECTS} redirects from {url}"
        )


def _copy_bounded(response: requests.Response, out, max_bytes: int, url: str) -> str:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ExecutionError(
            ErrorKind.DOWNLOAD, f"download refused: {url} is {declared} bytes, over the limit of {max_bytes}"
        )
    digest = hashlib.sha256()
    size = 0
    try:
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ExecutionError(
                    ErrorKind.DOWNLOAD, f"download refused: {url} is over the limit of {max_bytes} bytes"
                )
            digest.update(chunk)
            out.write(chunk)
    except requests.RequestException as exc:
        raise ExecutionError(ErrorKind.DOWNLOAD, f"download failed: {url}: {exc}") from exc
    return digest.hexdigest()


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _HeadBuffer:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]

    def render(self) -> tuple[str, bool]:
        """The kept text (at most ``limit`` UTF-8 bytes, marker included) and whether it was cut."""
        text = _decode_prefix(bytes(self.head))
        if self.total <= self.limit and len(text.encode()) <= self.limit:
            return text, False
        # Same wording as the server's own cap (headrace.jobs.output); sized for the longest number.
        budget = max(0, self.limit - len(_MARKER.format(dropped=self.total, total=self.total).encode()))
        head = _decode_prefix(text.encode()[:budget])
        dropped = self.total - len(head.encode())
        return head + _MARKER.format(dropped=dropped, total=self.total), True


def _decode_prefix(data: bytes) -> str:
    """Decode UTF-8 (invalid bytes replaced), dropping a character cut in two at the end."""
    return codecs.getincrementaldecoder("utf-8")(errors="replace").decode(data, final=False)


def job_environment(env_variables: Mapping[str, str] | None, workdir: Path) -> dict[str, str]:
    """Only the job's variables plus a minimal PATH and HOME (the job's own values win)."""
    env = {"PATH": DEFAULT_PATH, "HOME": str(workdir)}
    env.update({str(k): str(v) for k, v in (env_variables or {}).items()})
    return env


def run_binary(
    binary: Path,
    arguments: Sequence[str] = (),
    env_variables: Mapping[str, str] | None = None,
    *,
    limits: Limits = Limits(),
    cancel: threading.Event | None = None,
) -> ExecutionResult:
    """Run a verified binary to completion, timeout or cancel, capturing its output in chunks."""
    workdir = Path(tempfile.mkdtemp(prefix="headrace-job-"))
    started = time.monotonic()
    try:
        command = [
            sys.executable,
            "-I",
            "-S",
            "-c",
            _LAUNCHER,
            "0",
            str(limits.max_file_bytes),
            str(limits.max_open_files),
            "1" if env_variables and "LC_CTYPE" in env_variables else "0",
            str(binary),
            *map(str, arguments),
        ]
        try:
            proc = subprocess.Popen(  # no shell: argv is the job's, by design
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=workdir,
                env=job_environment(env_variables, workdir),
                start_new_session=True,  # its own process group: killpg reaches its children
                close_fds=True,
            )
        except OSError as exc:
            return ExecutionResult(None, error_kind=ErrorKind.LAUNCH, error_message=f"launch failed: {exc}")
        out, err = _HeadBuffer(limits.output_limit_bytes), _HeadBuffer(limits.output_limit_bytes)
        stopped = _capture(proc, out, err, limits, cancel, started)
        exit_code = proc.wait()
        duration = time.monotonic() - started
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    stdout, stdout_cut = out.render()
    stderr, stderr_cut = err.render()
    kind, message = _outcome(stopped, exit_code, limits)
    return ExecutionResult(exit_code, stdout, stderr, stdout_cut, stderr_cut, duration, kind, message)


def _outcome(
    stopped: ErrorKind | None, exit_code: int, limits: Limits
) -> tuple[ErrorKind | None, str | None]:
    if stopped is ErrorKind.TIMEOUT:
        return stopped, f"timeout: killed with its process group after {limits.timeout_seconds:g} s"
    if stopped is ErrorKind.CANCELLED:
        return stopped, "cancelled: killed with its process group"
    if exit_code < 0:
        return ErrorKind.EXIT_CODE, f"exit_code: killed by signal {signal.Signals(-exit_code).name}"
    if exit_code != 0:
        return ErrorKind.EXIT_CODE, f"exit_code: binary exited with code {exit_code}"
    return None, None


def _capture(
    proc: subprocess.Popen,
    out: _HeadBuffer,
    err: _HeadBuffer,
    limits: Limits,
    cancel: threading.Event | None,
    started: float,
) -> ErrorKind | None:
    """Pump both pipes until EOF; stop the group on timeout or cancel. Why it was stopped, if so."""
    deadline = started + limits.timeout_seconds if limits.timeout_seconds else None
    selector = selectors.DefaultSelector()
    for pipe, buffer in ((proc.stdout, out), (proc.stderr, err)):
        os.set_blocking(pipe.fileno(), False)
        selector.register(pipe, selectors.EVENT_READ, buffer)
    stopped: ErrorKind | None = None
    kill_at: float | None = None  # when SIGKILL follows the SIGTERM
    drain_until: float | None = None  # after the binary exited: how long stragglers may hold pipes
    try:
        while True:
            if selector.get_map():
                for key, _ in selector.select(timeout=0.1):
                    try:
                        chunk = os.read(key.fd, _CHUNK)
                    except BlockingIOError:
                        continue
                    if chunk:
                        key.data.feed(chunk)
                    else:
                        selector.unregister(key.fileobj)
            else:
                time.sleep(0.05)  # the binary closed its pipes but runs on
            now = time.monotonic()
            if stopped is None and cancel is not None and cancel.is_set():
                stopped = ErrorKind.CANCELLED
            elif stopped is None and deadline is not None and now >= deadline:
                stopped = ErrorKind.TIMEOUT
            if stopped is not None and kill_at is None:
                _signal_group(proc.pid, signal.SIGTERM)
                kill_at = now + limits.kill_grace_seconds
            if kill_at is not None and now >= kill_at:
                _signal_group(proc.pid, signal.SIGKILL)
            if drain_until is None and _exited(proc.pid):
                # Nothing outlives the job: what the binary left behind in its group dies now,
                # while its zombie still reserves the group id.
                _signal_group(proc.pid, signal.SIGKILL)
                drain_until = now + 2.0
            if drain_until is not None and (not selector.get_map() or now >= drain_until):
                break  # done; or a process that left the group still holds a pipe
    finally:
        _signal_group(proc.pid, signal.SIGKILL)
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
    return stopped


def _exited(pid: int) -> bool:
    """Whether ``pid`` has exited, without reaping it (so its group id cannot be reused yet)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def execute(
    binary_url: str,
    binary_sha256: str,
    arguments: Sequence[str] = (),
    env_variables: Mapping[str, str] | None = None,
    *,
    cache: BinaryCache,
    limits: Limits = Limits(),
    cancel: threading.Event | None = None,
) -> ExecutionResult:
    """The whole job: fetch and verify (via ``cache``), then run. Never raises for job failures."""
    if cancel is not None and cancel.is_set():
        return ExecutionResult(
            None, error_kind=ErrorKind.CANCELLED, error_message="cancelled: before download"
        )
    try:
        binary = cache.fetch(binary_url, binary_sha256, limits=limits)
    except ExecutionError as exc:
        return ExecutionResult(None, error_kind=exc.kind, error_message=str(exc))
    if cancel is not None and cancel.is_set():
        return ExecutionResult(
            None, error_kind=ErrorKind.CANCELLED, error_message="cancelled: before the binary ran"
        )
    return run_binary(binary, arguments, env_variables, limits=limits, cancel=cancel)
