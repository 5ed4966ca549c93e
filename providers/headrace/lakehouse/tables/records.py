"""What a table commit records and returns: the load record, the ledger of earlier loads, the outcome.

Each commit stores a :class:`LoadRecord` beside the data, in the format's own commit metadata
(Iceberg snapshot summary, Delta commit info, Hive-style commit marker), so the table itself knows
which job loaded which files: a retried job finds its earlier commit instead of loading twice, and a
new job skips files already loaded, without any database of our own that could disagree with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import pyarrow as pa

JOB_ID_KEY = "headrace.job-id"  # Iceberg snapshot summary
RESULT_KEY = "headrace.result"


class CommitFailed(Exception):
    """A table write that cannot complete; ``message`` is meant for users, ``file`` names the source
    at fault. The table is unchanged when it is raised.

    Callers above this layer may subclass it (ingestion's ``IngestionFailed`` does), so that their
    own errors raised while the table layer reads their streams pass through unchanged.
    """

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file

    def __str__(self) -> str:
        return self.message


@contextmanager
def reading(uri: str) -> Iterator[None]:
    """Turn any error while reading or converting ``uri`` into CommitFailed naming it."""
    try:
        yield
    except CommitFailed:
        raise
    except Exception as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        raise CommitFailed(f"Cannot read {uri}: {reason}", file=uri) from exc


class RowStream(Protocol):
    """One source's rows under one schema, as the stager consumes them (any reader's batch stream)."""

    uri: str
    schema: pa.Schema

    def __iter__(self) -> Iterator[pa.RecordBatch]: ...


class SourceFile(Protocol):
    """A source file as the load record keeps it: ``(uri, size, etag_or_mtime)`` identifies it."""

    @property
    def uri(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def etag_or_mtime(self) -> str: ...


@dataclass(frozen=True)
class CommitResult:
    """The outcome of one job's commit (or of its earlier commit, ``already_committed``)."""

    job_id: str
    target: str  # "catalog.schema.table"
    rows_written: int
    bytes_read: int
    files: list[str]
    skipped_files: list[str]
    duration_seconds: float
    version: str | None  # Iceberg snapshot id / Delta version / Hive-style commit id
    already_committed: bool = False
    committed: bool = field(default=True)  # False when every file was skipped: nothing was written

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom, REST responses)."""
        return asdict(self)


@dataclass(frozen=True)
class LoadRecord:
    """One job's load as stored in its commit; ``files`` are source file dicts (uri, size, etag)."""

    job_id: str
    write_mode: str
    files: list[dict[str, Any]]
    skipped_files: list[str]
    rows_written: int
    bytes_read: int
    duration_seconds: float

    @classmethod
    def build(
        cls,
        write_mode: str,
        job_id: str,
        files: Sequence[SourceFile],
        skipped: Sequence[SourceFile],
        rows: int,
        duration: float,
    ) -> LoadRecord:
        return cls(
            job_id=job_id,
            write_mode=write_mode,
            files=[{"uri": f.uri, "size": f.size, "etag_or_mtime": f.etag_or_mtime} for f in files],
            skipped_files=[f.uri for f in skipped],
            rows_written=rows,
            bytes_read=sum(f.size for f in files),
            duration_seconds=round(duration, 3),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> LoadRecord:
        values = json.loads(data) if isinstance(data, str) else data
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})

    def identities(self) -> set[tuple[str, int, str]]:
        return {(f["uri"], int(f["size"]), str(f["etag_or_mtime"])) for f in self.files}

    def result(self, target: str, version: str | None, *, already_committed: bool = False) -> CommitResult:
        return CommitResult(
            job_id=self.job_id,
            target=target,
            rows_written=self.rows_written,
            bytes_read=self.bytes_read,
            files=[f["uri"] for f in self.files],
            skipped_files=list(self.skipped_files),
            duration_seconds=self.duration_seconds,
            version=version,
            already_committed=already_committed,
        )


@dataclass(frozen=True)
class Ledger:
    """Headrace loads of a table, newest first, as ``(version, record)``."""

    entries: list[tuple[str | None, LoadRecord]] = field(default_factory=list)

    def find(self, job_id: str) -> tuple[str | None, LoadRecord] | None:
        return next((entry for entry in self.entries if entry[1].job_id == job_id), None)

    def loaded(self) -> set[tuple[str, int, str]]:
        """Files whose rows are in the table: loads since (and including) the last overwrite."""
        identities: set[tuple[str, int, str]] = set()
        for _, record in self.entries:
            identities |= record.identities()
            if record.write_mode == "overwrite":
                break
        return identities


def path_token(job_id: str) -> str:
    """The job id as a file or folder name (job ids may hold ':'), unique per job id."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)
    if safe == job_id:
        return safe
    return f"{safe}-{hashlib.sha1(job_id.encode()).hexdigest()[:8]}"
