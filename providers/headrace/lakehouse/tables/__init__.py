"""Table writes: one job's rows staged, then committed once in the table's format, under a job id.

The commit protocol of every lakehouse format (Iceberg, Delta, Hive-style): :func:`open_table`
with a job id, :func:`previous_result` for the job's earlier commit (read from the table's own commit
metadata, so a retry never writes twice), then :func:`stage_and_commit` for row streams or
:func:`commit_parquet_files` for Parquet files an engine wrote. Column types are normalized and
evolved by the rules of :mod:`.schema`; a failure raises :class:`CommitFailed` and leaves the table
as it was. Callers describe the target with any object of the :class:`TableTarget` shape and the
source files with :class:`SourceFile`; this package imports nothing above the lakehouse.
"""

from __future__ import annotations

from headrace.lakehouse.tables.base import DEFAULT_BATCH_ROWS, TableCommitter
from headrace.lakehouse.tables.commit import (
    commit_parquet_files,
    open_table,
    parquet_stream,
    previous_result,
    stage_and_commit,
)
from headrace.lakehouse.tables.files import TableFiles, table_files
from headrace.lakehouse.tables.hive import hive_dataset
from headrace.lakehouse.tables.records import (
    CommitFailed,
    CommitResult,
    Ledger,
    LoadRecord,
    RowStream,
    SourceFile,
    path_token,
)
from headrace.lakehouse.tables.target import TableTarget, TargetPartition

__all__ = [
    "DEFAULT_BATCH_ROWS",
    "CommitFailed",
    "CommitResult",
    "Ledger",
    "LoadRecord",
    "RowStream",
    "SourceFile",
    "TableCommitter",
    "TableFiles",
    "TableTarget",
    "TargetPartition",
    "commit_parquet_files",
    "hive_dataset",
    "open_table",
    "parquet_stream",
    "path_token",
    "previous_result",
    "stage_and_commit",
    "table_files",
]
