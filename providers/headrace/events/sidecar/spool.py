"""The sidecar's disk spool: append-only, fsync'd segments read in order from a durable offset.

An event the sidecar acknowledged while the upstream was away lives here until the upstream took
it, so the spool must survive ``kill -9``: every append is one ``write`` followed by ``fsync`` (the
app gets its 200 only after that), and the replay position is a small ``offset`` file replaced
atomically (write, fsync, rename, fsync of the directory). Records are JSON lines in numbered
segment files (``00000000000000000001.jsonl``, ...); a segment wholly before the offset is deleted,
which is how space comes back. A crash in the middle of an append leaves at most a partial last line,
which was never acknowledged and is cut off when the spool is opened again.

Replay may resend the batch that was in flight at a crash (the offset moves only after the upstream
answered); that is safe because the upstream deduplicates on ``(site_id, idempotency_key)``.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SUFFIX = ".jsonl"
_OFFSET = "offset"
DEAD_LETTER_FILE = "dead-letter.jsonl"


class SpoolInUse(Exception):
    """Another process holds the spool directory (two writers would interleave and lose order)."""


class SpoolFull(Exception):
    """The spool holds ``max_bytes`` already: refuse (the app retries) rather than drop."""


@dataclass(frozen=True)
class Position:
    """Where replay stands: a segment number and a byte offset inside it."""

    segment: int
    offset: int


@dataclass(frozen=True)
class Batch:
    """Records read from the spool and the position just after the last of them."""

    records: list[dict[str, Any]]
    end: Position


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A bounded FIFO of JSON records on disk; safe to share between threads."""

    def __init__(self, directory: Path, max_bytes: int, segment_bytes: int | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        # Held until the process ends (the kernel drops it on kill -9 too).
        self._flock = open(self.directory / ".lock", "a")  # noqa: SIM115 - lives as long as the spool
        try:
            fcntl.flock(self._flock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._flock.close()
            raise SpoolInUse(f"{self.directory} is in use by another sidecar") from None
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(64 * 1024, min(8 * 1024**2, max_bytes // 8))
        self._lock = threading.Lock()
        self._position = self._read_offset()
        self._drop_segments_before(self._position.segment)
        self._repair_tail()
        self._count = self._count_pending()

    # -- state -------------------------------------------------------------------------------

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:020d}{_SUFFIX}"

    def _read_offset(self) -> Position:
        try:
            segment, offset = (self.directory / _OFFSET).read_text().split()
            return Position(int(segment), int(offset))
        except FileNotFoundError:
            segments = self._segments()
            return Position(segments[0] if segments else 1, 0)

    def _write_offset(self, position: Position) -> None:
        tmp = self.directory / f"{_OFFSET}.tmp"
        with open(tmp, "w") as fh:
            fh.write(f"{position.segment} {position.offset}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / _OFFSET)
        _fsync_dir(self.directory)

    def _drop_segments_before(self, segment: int) -> None:
        for number in self._segments():
            if number < segment:
                self._path(number).unlink(missing_ok=True)

    def _repair_tail(self) -> None:
        """Cut a partial last line (a crash during an append that was never acknowledged)."""
        segments = self._segments()
        if not segments:
            return
        path = self._path(segments[-1])
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
                os.fsync(fh.fileno())

    def _count_pending(self) -> int:
        count = 0
        for number in self._segments():
            if number < self._position.segment:
                continue
            with open(self._path(number), "rb") as fh:
                if number == self._position.segment:
                    fh.seek(self._position.offset)
                count += sum(1 for line in fh if line.strip())
        return count

    # -- public ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the directory lock (the files stay; a new Spool carries on from them)."""
        self._flock.close()

    def __len__(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        """Bytes of the segment files on disk (what the ``max_bytes`` bound applies to)."""
        return sum(self._path(n).stat().st_size for n in self._segments())

    def append(self, records: list[dict[str, Any]]) -> None:
        """Write ``records`` durably (one write, one fsync) or raise :class:`SpoolFull`."""
        if not records:
            return
        data = b"".join(
            json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records
        )
        with self._lock:
            if self.size_bytes + len(data) > self.max_bytes:
                raise SpoolFull(f"the spool holds {self.size_bytes} of {self.max_bytes} bytes")
            segments = self._segments()
            segment = segments[-1] if segments else self._position.segment
            path = self._path(segment)
            if path.exists() and path.stat().st_size and path.stat().st_size + len(data) > self.segment_bytes:
                segment += 1
                path = self._path(segment)
            created = not path.exists()
            with open(path, "ab") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            if created:
                _fsync_dir(self.directory)
            self._count += len(records)

    def peek(self, max_records: int = 500, max_bytes: int = 4 * 1024**2) -> Batch:
        """The oldest unreplayed records (oldest first) without consuming them."""
        with self._lock:
            position = self._position
            records: list[dict[str, Any]] = []
            size = 0
            for number in self._segments():
                if number < position.segment:
                    continue
                if number > position.segment:
                    position = Position(number, 0)
                with open(self._path(number), "rb") as fh:
                    fh.seek(position.offset)
                    offset = position.offset
                    for line in fh:
                        if records and (len(records) >= max_records or size + len(line) > max_bytes):
                            return Batch(records, position)
                        offset += len(line)
                        size += len(line)
                        position = Position(number, offset)
                        if line.strip():
                            records.append(json.loads(line))
            return Batch(records, position)

    def commit(self, batch: Batch) -> None:
        """Mark ``batch`` as delivered: move the durable offset, delete segments wholly behind it."""
        if not batch.records:
            return
        with self._lock:
            end = batch.end
            # At the end of a segment: go on at the next one (a fresh file once the spool is empty)
            # so the consumed one is deleted and its space counts no more against max_bytes.
            if end.offset >= self._path(end.segment).stat().st_size:
                end = Position(end.segment + 1, 0)
            self._write_offset(end)
            self._position = end
            self._drop_segments_before(end.segment)
            self._count = max(0, self._count - len(batch.records))


class DeadLetters:
    """Events the upstream refused as invalid, with its reasons: JSON lines, never retried."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def add(self, items: list[tuple[dict[str, Any], Any]]) -> None:
        if not items:
            return
        now = datetime.now(UTC).isoformat()
        data = "".join(
            json.dumps({"at": now, "errors": errors, "event": event}, ensure_ascii=False) + "\n"
            for event, errors in items
        )
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]
