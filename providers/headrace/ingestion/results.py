"""What an ingestion run ends with: an :class:`IngestionResult`, or an :class:`IngestionFailed` error.

Kept apart from the engine so that file resolution, readers and commits can raise and build them
without importing the engine (which imports all of them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class IngestionResult:
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


class IngestionFailed(Exception):
    """A job that cannot complete; ``message`` is meant for users, ``file`` names the source at fault."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file

    def __str__(self) -> str:
        return self.message
