"""What an ingestion run ends with: an :class:`IngestionResult`, or an :class:`IngestionFailed` error.

Kept apart from the engine so that file resolution, readers and commits can raise and build them
without importing the engine (which imports all of them). A run ends with its table commit, so its
result is the commit's (:class:`~headrace.lakehouse.tables.CommitResult`), and the table layer's
:class:`~headrace.lakehouse.tables.CommitFailed` reaches callers as an IngestionFailed with the same
message and file (:func:`ingestion_errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from headrace.lakehouse.tables import CommitFailed, CommitResult

__all__ = [
    "CANCEL_XCOM_KEY",
    "COMMIT_XCOM_KEY",
    "ERROR_XCOM_KEY",
    "CommitGate",
    "IngestionCancelled",
    "IngestionFailed",
    "IngestionResult",
    "ingestion_errors",
]

# Where a failed ingestion task leaves its error (XCom), for the ingestion jobs API to report.
ERROR_XCOM_KEY = "ingestion_error"
# The cancel handshake (see headrace.api.services.ingestion_jobs.cancel): the task records that it
# reached its table commit (COMMIT), then looks for a cancel request (CANCEL); the cancel records its
# request, then looks whether the task reached the commit. Each is a committed write before a read,
# so at least one side sees the other: never a commit the cancel did not know about.
COMMIT_XCOM_KEY = "headrace_commit_reached"
CANCEL_XCOM_KEY = "headrace_cancel_requested"

# Called by an engine once every row is staged, right before the table commit; raising
# IngestionCancelled there leaves the table unchanged.
CommitGate = Callable[[], None]

IngestionResult = CommitResult  # rows, bytes, files, skipped files, duration and the table version


class IngestionFailed(CommitFailed):
    """A job that cannot complete; ``message`` is meant for users, ``file`` names the source at fault.

    A CommitFailed, so that a reader's error raised while the table layer stages the rows passes
    through it unchanged.
    """


class IngestionCancelled(IngestionFailed):
    """The job was cancelled before its table commit: nothing was written."""


@contextmanager
def ingestion_errors() -> Iterator[None]:
    """Re-raise the table layer's CommitFailed as IngestionFailed (same message, same file)."""
    try:
        yield
    except IngestionFailed:
        raise
    except CommitFailed as exc:
        raise IngestionFailed(exc.message, file=exc.file) from exc
