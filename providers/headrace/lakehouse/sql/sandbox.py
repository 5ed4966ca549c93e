"""DuckDB in a child process that the operating system holds to a memory limit, a thread count and a deadline.

Why a process: DuckDB's own limits do not hold for one huge expression. Measured with DuckDB 2.0,
``memory_limit`` bounds the buffer pool (hash tables, sorts, materialised results) but not the vectors an
expression allocates (``SELECT list_sum(range(30000000))`` peaks at 1.9 GB under ``memory_limit='100MB'``),
and ``interrupt()`` is only looked at between chunks, so a constant expression folded at planning time runs
to its end (interrupted after 1 s, it answered after 4.4 s). The child gets DuckDB's ``memory_limit`` and
``threads``, no spilling to disk, an ``RLIMIT_DATA`` of its own footprint plus that limit plus a margin (an
allocation beyond it fails, and DuckDB reports it as Out of Memory) and is killed at the deadline. The
caller's process only ever holds the result, which is bounded too.

Tables reach the child without being materialised by the caller: local Parquet files that are the whole
table (``ParquetFiles``) are read by DuckDB's own Parquet reader, allowed exactly those files
(``allowed_paths``); a picklable ``pyarrow.dataset.Dataset`` is sent as such (the child reads the files,
with projection and filter pushdown); tables and record batch readers are streamed as Arrow IPC through
one pipe each (passed over a Unix socket), and a table the query scans more than once is collected inside
the child, under its limit. The result is fetched in batches and stops at the row limit or the byte budget.

Starting a child (an interpreter importing DuckDB and pyarrow) takes longer than many queries, so each
process keeps one spare child that has done its imports and waits for a job; every child still runs one
query only, and the next spare is started once a query has its answer.

Self-contained (standard library, duckdb, pyarrow) because the child runs this file by path: it needs
neither the ``headrace`` package nor Airflow, and inherits none of the server's environment.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import pickle
import re
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

__all__ = ["MAX_RESULT_BYTES", "QueryLimits", "SandboxError", "locked_connection", "run"]

log = logging.getLogger(__name__)

ArrowData = pa.Table | ds.Dataset | pa.RecordBatchReader
Failure = Literal["timeout", "memory", "result_too_large", "failed", "no_result", "crashed"]

# The caller turns the result into JSON (several times its Arrow size in Python objects): keep it small.
MAX_RESULT_BYTES = 32 * 2**20
# Above DuckDB's memory_limit: Arrow input batches, the result and DuckDB's allocations outside its pool.
MEMORY_MARGIN_BYTES = 256 * 2**20
_REPLY_SLACK_BYTES = 2**20  # header and IPC framing around a result of at most max_result_bytes
_RESULT_BATCH_ROWS = 8192  # rows per fetched result batch: the byte budget is checked between batches
# Below the api-server's priority: on a busy machine a heavy query takes the CPU the server does not need,
# and the server still answers (/health within 100 ms while DuckDB's threads run on every core).
_NICENESS = 10
_CHILD_GRACE_SECONDS = 5.0  # a child whose parent is gone ends itself this long after the deadline
# The only variables the child inherits (no Airflow settings, secrets or connection URLs): the basics and
# what pyarrow's S3 filesystem may need to find its credentials (AWS_*, ~/.aws under HOME).
_CHILD_ENV = (
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "TMPDIR", "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)  # fmt: skip
_CHILD_ENV_PREFIXES = ("AWS_",)

LOCKDOWN = (
    "SET TimeZone = 'UTC'",
    "SET python_enable_replacements = false",
    "SET enable_external_access = false",
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
)
_UNITS = {
    "": 1, "b": 1, "byte": 1, "bytes": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
    "tib": 2**40,
}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class QueryLimits:
    """What one query may use: ``memory_limit`` in DuckDB notation (``1GB`` = 10**9 bytes, ``1GiB`` =
    2**30) and ``threads`` (DuckDB's and pyarrow's)."""

    memory_limit: str = "1GB"
    threads: int = 2

    def __post_init__(self) -> None:
        self.memory_bytes  # noqa: B018 - validates
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ValueError(f"query_threads must be a positive integer; got {self.threads!r}")

    @property
    def memory_bytes(self) -> int:
        match = _SIZE.match(self.memory_limit) if isinstance(self.memory_limit, str) else None
        unit = _UNITS.get(match.group(2).lower()) if match else None
        if match is None or unit is None or float(match.group(1)) * unit < 2**20:
            raise ValueError(
                f"query_memory_limit must be a size such as 1GB or 512MiB; got {self.memory_limit!r}"
            )
        return int(float(match.group(1)) * unit)


class SandboxError(Exception):
    """The child gave no result: ``failure`` says why, ``message`` is DuckDB's or ours."""

    def __init__(self, failure: Failure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


def locked_connection(
    limits: QueryLimits | None = None,
    allowed_paths: Sequence[str] = (),
    connection: duckdb.DuckDBPyConnection | None = None,
) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB that cannot reach files, the network, extensions or its own settings.

    With ``limits``, also its memory limit, thread count and no temporary files (nothing spills to disk);
    ``allowed_paths``: the only files it may read (the Parquet files of the query's tables). All are set
    before the configuration is locked. ``connection``: a fresh one opened ahead (a spare child's), which
    has run nothing of a user's.
    """
    statements: list[str] = []
    if allowed_paths:
        quoted = ", ".join("'" + path.replace("'", "''") + "'" for path in allowed_paths)
        statements.append(f"SET allowed_paths = [{quoted}]")
    if limits is not None:  # before the lock-down: with external access off, temp_directory is fixed
        statements += [
            f"SET memory_limit = '{limits.memory_bytes}B'",
            f"SET threads = {limits.threads}",
            "SET temp_directory = ''",
        ]
    connection = connection or duckdb.connect(":memory:")
    try:
        for statement in [*statements, *LOCKDOWN, "SET lock_configuration = true"]:
            connection.execute(statement)
    except BaseException:
        connection.close()
        raise
    return connection


# ------------------------------------------------------------------------------------------ parent
def run(
    sql: str,
    tables: Mapping[str, ArrowData],
    *,
    uses: Mapping[str, int],
    limit: int | None,
    timeout_seconds: float,
    limits: QueryLimits,
    params: Sequence[Any] | None = None,
    max_result_bytes: int = MAX_RESULT_BYTES,
) -> tuple[list[tuple[str, str]], pa.Table]:
    """Run ``sql`` over ``tables`` (registered under their keys; ``uses`` says how often each is scanned)
    in a child process; at most ``limit + 1`` rows come back, with each column's name and DuckDB type.

    Raises :class:`SandboxError`, also when a table's own reader fails.
    """
    deadline = time.monotonic() + timeout_seconds
    job: dict[str, Any] = {
        "sql": sql,
        "params": list(params) if params is not None else None,
        "limit": limit,
        "limits": (limits.memory_bytes, limits.threads),
        "max_result_bytes": max_result_bytes,
        "timeout_seconds": timeout_seconds,
        "tables": [],
        "streams": 0,
    }
    feeds: list[_Feed] = []
    child_ends: list[int] = []
    child = None
    try:
        for name, data in tables.items():
            files = _local_parquet_files(data)
            if files is not None:
                job["tables"].append((name, "parquet", files, uses.get(name, 1)))
                continue
            data = getattr(data, "dataset", data)  # ParquetFiles elsewhere: its pyarrow dataset
            dataset = _pickled_dataset(data)
            if dataset is not None:
                job["tables"].append((name, "dataset", dataset, uses.get(name, 1)))
                continue
            read_end, write_end = os.pipe()
            job["tables"].append((name, "stream", len(child_ends), uses.get(name, 1)))
            child_ends.append(read_end)
            feeds.append(_Feed(name, write_end, _reader(data)))
        job["streams"] = len(child_ends)
        child = _take_child()
        if child_ends:
            socket.send_fds(child.sock, [b"\0"], child_ends)
        for fd in child_ends:
            os.close(fd)
        child_ends.clear()
        process = child.process
        feeds.append(_Feed("job", process.stdin, pickle.dumps(job)))
        for feed in feeds:
            feed.start()
        reply, errors = _collect(process, deadline, max_result_bytes + _REPLY_SLACK_BYTES)
    finally:
        for fd in child_ends:
            os.close(fd)
        if child is not None:
            child.close()
            _start_spare()
    for feed in feeds:
        if feed.error is not None:  # whatever the child answered, it did not see the whole table
            log.warning("Could not read table %s for a query", feed.table, exc_info=feed.error)
            raise SandboxError("failed", f"Could not read {feed.table}: {feed.error}")
    return _result(reply, errors, process.returncode)


class _Child:
    """A started query process: it imports DuckDB and pyarrow, then waits for its job on stdin and for
    the read ends of its table pipes on a Unix socket (``socket.send_fds``)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.owner = os.getpid()
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), str(theirs.fileno())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=[theirs.fileno()],
                env=env,
                cwd="/",
            )
        except BaseException:
            self.sock.close()
            raise
        finally:
            theirs.close()

    def usable(self, env: dict[str, str]) -> bool:
        return self.owner == os.getpid() and self.env == env and self.process.poll() is None

    def close(self) -> None:
        """Kill the process if it still runs and wait for it (also a spare never used)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        self.sock.close()


_spare_lock = threading.Lock()
_spare: _Child | None = None


def _take_child() -> _Child:
    """The spare child if it still fits (same environment, alive, started by this process), else a new one."""
    global _spare
    env = _child_env()
    with _spare_lock:
        child, _spare = _spare, None
    if child is not None and child.usable(env):
        return child
    if child is not None and child.owner == os.getpid():
        child.close()
    return _Child(env)


def _start_spare() -> None:
    """Start the spare child for the next query, unless one waits already."""
    global _spare
    with _spare_lock:
        if _spare is not None and _spare.owner == os.getpid():
            return
        try:
            _spare = _Child(_child_env())
        except OSError:
            log.warning("Could not start a spare query process", exc_info=True)
            _spare = None


@atexit.register
def _stop_spare() -> None:
    global _spare
    with _spare_lock:
        child, _spare = _spare, None
    if child is not None and child.owner == os.getpid():
        child.close()


def _child_env() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _CHILD_ENV or name.startswith(_CHILD_ENV_PREFIXES)
    }
    env["ARROW_DEFAULT_MEMORY_POOL"] = "system"  # mimalloc reserves 1 GiB up front, hiding real use
    return env


class _Feed(threading.Thread):
    """Writes one table as an Arrow IPC stream (or the job as bytes) into a pipe to the child.

    Ends when everything is written or when the child is gone (the pipe breaks). An error of the data's
    own reader is kept in ``error`` *before* the pipe closes, and the stream then lacks its end marker,
    so a result computed over part of a table is never taken for the answer.
    """

    def __init__(self, table: str, sink: int | IO[bytes], data: pa.RecordBatchReader | bytes) -> None:
        super().__init__(daemon=True, name=f"headrace-query-feed-{table}")
        self.table = table
        self.sink = sink
        self.data = data
        self.error: BaseException | None = None

    def run(self) -> None:
        sink = os.fdopen(self.sink, "wb") if isinstance(self.sink, int) else self.sink
        try:
            if isinstance(self.data, bytes):
                sink.write(self.data)
            else:
                writer = pa.ipc.new_stream(sink, self.data.schema)
                for batch in _batches(self.data):
                    writer.write_batch(batch)
                writer.close()
        except OSError:
            pass  # the child ended (or was ended) before it read everything
        except Exception as exc:
            self.error = exc
        finally:
            with contextlib.suppress(OSError):
                sink.close()


def _batches(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except OSError as exc:  # an I/O error of the source, not a broken pipe
            raise RuntimeError(f"could not read table data: {exc}") from exc
        yield batch


def _local_parquet_files(data: Any) -> list[str] | None:
    """The files of a ``ParquetFiles`` table on the local filesystem, which DuckDB reads itself."""
    from headrace.lakehouse.sql.model import ParquetFiles  # parent only: the child never sees the class

    if not isinstance(data, ParquetFiles) or not data.native:
        return None
    if not isinstance(data.dataset.filesystem, pafs.LocalFileSystem):
        return None
    return [os.path.abspath(path) for path in data.dataset.files]


def _pickled_dataset(data: ArrowData) -> bytes | None:
    if not isinstance(data, ds.Dataset):
        return None
    try:
        return pickle.dumps(data)
    except Exception:  # e.g. a Python filesystem handler that does not pickle: stream it instead
        return None


def _reader(data: ArrowData) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, ds.Dataset):
        return data.scanner(batch_readahead=1, fragment_readahead=1).to_reader()
    if isinstance(data, pa.Table):
        return data.to_reader(max_chunksize=64 * 1024)
    raise TypeError(f"expected Arrow data, got {type(data).__name__}")


def _collect(process: subprocess.Popen, deadline: float, max_bytes: int) -> tuple[bytes, bytes]:
    """The child's reply and the end of its stderr, read until it closes stdout and exits.

    Kills it at the deadline or when the reply grows beyond ``max_bytes``.
    """
    reply, errors = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        selector.register(process.stderr, selectors.EVENT_READ)
        while any(key.fileobj is process.stdout for key in selector.get_map().values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                raise SandboxError("timeout", "deadline")
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is process.stdout:
                    reply += chunk
                    if len(reply) > max_bytes:
                        process.kill()
                        raise SandboxError("result_too_large", f"more than {max_bytes} bytes")
                else:
                    errors = (errors + chunk)[-4096:]
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        process.kill()
        raise SandboxError("timeout", "deadline") from None
    return bytes(reply), bytes(errors)


def _result(reply: bytes, errors: bytes, returncode: int) -> tuple[list[tuple[str, str]], pa.Table]:
    size = int.from_bytes(reply[:4], "big") if len(reply) >= 4 else 0
    if not size or len(reply) < 4 + size:
        log.warning("The query process ended with %s; its stderr ends: %r", returncode, errors[-2000:])
        if returncode == -signal.SIGKILL:  # not by us (we raise before): the kernel's OOM killer
            raise SandboxError("memory", "the query process was killed, out of memory")
        cause = f"signal {signal.Signals(-returncode).name}" if returncode < 0 else f"exit code {returncode}"
        raise SandboxError("crashed", f"the query process ended without an answer ({cause})")
    header = json.loads(reply[4 : 4 + size])
    if header["status"] != "ok":
        raise SandboxError(header["status"], header["message"])
    table = pa.ipc.open_stream(pa.py_buffer(reply[4 + size :])).read_all()
    return [(name, kind) for name, kind in header["columns"]], table


# ------------------------------------------------------------------------------------------- child
def _child(sock_fd: int) -> None:
    """Wait for the job on stdin (and its table pipes on ``sock_fd``), run it, answer on stdout: a 4-byte
    length, a JSON header, Arrow IPC."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # stray prints go to stderr, never into the reply
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: no os.nice (Windows)
        os.nice(_NICENESS)
    # DuckDB's first connection and query in a process cost 20-100 ms: a spare pays them while it waits
    connection = duckdb.connect(":memory:")
    connection.execute("SELECT 1").fetchall()
    try:
        job = pickle.load(sys.stdin.buffer)
    except EOFError:  # a spare whose parent closed it (or ended) without a job
        os._exit(0)
    streams: list[int] = []
    if job["streams"]:
        with socket.socket(fileno=sock_fd) as sock:
            _, streams, _, _ = socket.recv_fds(sock, 1, job["streams"])
    timer = threading.Timer(job["timeout_seconds"] + _CHILD_GRACE_SECONDS, os._exit, args=(124,))
    timer.daemon = True
    timer.start()
    memory_bytes, threads = job["limits"]
    _limit_memory(memory_bytes + MEMORY_MARGIN_BYTES)
    pa.set_cpu_count(threads)
    pa.set_io_thread_count(threads)
    table = None
    try:
        header, table = _execute(job, QueryLimits(f"{memory_bytes}B", threads), streams, connection)
    except (MemoryError, duckdb.OutOfMemoryException) as exc:  # pyarrow's ArrowMemoryError is a MemoryError
        header = {"status": "memory", "message": f"Out of Memory Error: {exc}"}
    except Exception as exc:
        header = {"status": "failed", "message": str(exc)}
    body = b""
    if table is not None:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        body = sink.getvalue().to_pybytes()
    encoded = json.dumps(header).encode()
    with os.fdopen(reply_fd, "wb") as out:
        out.write(len(encoded).to_bytes(4, "big") + encoded + body)
    os._exit(0)  # no interpreter teardown: nothing is left to clean up


def _limit_memory(extra_bytes: int) -> None:
    """Cap the process's data segment at what it uses now plus ``extra_bytes`` (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    import resource

    with open("/proc/self/status") as status:
        used = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmData:"))
    resource.setrlimit(resource.RLIMIT_DATA, (used + extra_bytes, used + extra_bytes))


def _execute(
    job: dict[str, Any], limits: QueryLimits, streams: Sequence[int], connection: duckdb.DuckDBPyConnection
) -> tuple[dict[str, Any], pa.Table | None]:
    files = [path for _, kind, source, _ in job["tables"] if kind == "parquet" for path in source]
    connection = locked_connection(limits, allowed_paths=files, connection=connection)
    for name, kind, source, uses in job["tables"]:
        if kind == "parquet":
            connection.read_parquet(source).create_view(name)
            continue
        if kind == "dataset":
            data = pickle.loads(source)
        else:
            data = pa.ipc.open_stream(os.fdopen(streams[source], "rb"))
            if uses > 1:
                data = data.read_all()  # a stream can be scanned once; the query scans this table again
        connection.register(name, data)
    try:
        relation = connection.sql(job["sql"], params=job["params"])
        if relation is None:
            return {"status": "no_result", "message": "The statement returned no result."}, None
        # names and types of the query itself: LIMIT on top would rename duplicate columns (a, a -> a, a_1)
        columns = [[name, str(kind)] for name, kind in zip(relation.columns, relation.types, strict=True)]
        limit = job["limit"]
        # streamed: DuckDB stops at limit + 1 rows, and we at the byte budget, whichever comes first
        reader = (relation if limit is None else relation.limit(limit + 1)).to_arrow_reader(
            _RESULT_BATCH_ROWS
        )
        batches, size = [], 0
        for batch in reader:
            size += batch.nbytes
            if size > job["max_result_bytes"]:
                return {"status": "result_too_large", "message": f"more than {size} bytes"}, None
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except duckdb.OutOfMemoryException as exc:
        return {"status": "memory", "message": str(exc)}, None
    except duckdb.Error as exc:
        return {"status": "failed", "message": str(exc)}, None
    return {"status": "ok", "columns": columns}, table


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        _child(int(sys.argv[1]))
