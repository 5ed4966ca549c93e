"""A table's history: Iceberg snapshots, Delta versions, Hive-style commits, with the job of each.

Every Headrace commit records its job id and load record in the format's own commit metadata (see
:mod:`.records`), so the history is read from the table itself: the snapshot summaries along the
current snapshot's ancestry (Iceberg), the ``commitInfo`` of each commit file in ``_delta_log``
(Delta; read with pyarrow, as :class:`~.delta.DeltaCommitter` does, not ``DeltaTable.history()``),
and the commit markers (Hive-style). Commits by other writers are listed too, without a job. What
the format no longer keeps (expired snapshots, cleaned-up Delta logs) is not there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyiceberg.table.snapshots import ancestors_of

from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.catalogs.delta import DeltaCatalog
from headrace.lakehouse.catalogs.folders import FolderCatalog
from headrace.lakehouse.catalogs.iceberg import IcebergCatalog
from headrace.lakehouse.tables import base
from headrace.lakehouse.tables.delta import JOB_ID_KEY as DELTA_JOB_ID_KEY
from headrace.lakehouse.tables.hive import HiveTable
from headrace.lakehouse.tables.records import JOB_ID_KEY, RESULT_KEY

_COMMIT_FILE = re.compile(r"\d{20}\.json")


@dataclass(frozen=True)
class TableChange:
    """One snapshot, version or commit. ``operation`` is the format's own word (Iceberg ``append``,
    ``delete``, ``overwrite``, ``replace``; Delta ``write (append)``, ``merge``, ...; Hive-style the
    write mode); row figures are ``None`` where the format does not record them."""

    version: str
    parent_version: str | None
    committed_at: datetime | None
    operation: str
    rows_added: int | None
    rows_deleted: int | None
    total_rows: int | None
    job_id: str | None  # the Headrace job that wrote it (the ingestion job id); None: another writer
    write_mode: str | None  # the job's append / overwrite / merge


@dataclass(frozen=True)
class TableHistory:
    """Newest first, at most ``limit``; ``truncated``: older ones exist."""

    format: str
    current_version: str | None
    changes: list[TableChange]
    truncated: bool


def table_history(catalog: FormatCatalog, schema: str, table: str, *, limit: int = 100) -> TableHistory:
    """The history of ``schema.table`` in ``catalog`` (the table must exist; names validated)."""
    if isinstance(catalog, IcebergCatalog):
        return _iceberg(catalog, schema, table, limit)
    # a missing schema or table raises the same NoSuchSchema / NoSuchTable as its metadata
    if not isinstance(catalog, FolderCatalog):
        raise TypeError(f"no history for a {type(catalog).__name__}")
    fs, path = catalog.table_location(schema, table).filesystem()  # Delta or Hive-style
    if isinstance(catalog, DeltaCatalog):
        return _delta(fs, path, limit)
    return _hive(HiveTable(fs, path), limit)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _millis(value: Any) -> datetime | None:
    number = _int(value)
    return datetime.fromtimestamp(number / 1000, UTC) if number is not None else None


def _write_mode(result: Any) -> str | None:
    if isinstance(result, str):
        try:
            result = json.loads(result)
        except ValueError:
            return None
    return result.get("write_mode") if isinstance(result, dict) else None


def _iceberg(catalog: IcebergCatalog, schema: str, table: str, limit: int) -> TableHistory:
    iceberg = catalog.load(schema, table)
    current = iceberg.current_snapshot()
    changes, truncated = [], False
    for snapshot in ancestors_of(current, iceberg.metadata) if current else []:
        if len(changes) == limit:
            truncated = True
            break
        summary = snapshot.summary
        properties = summary.additional_properties if summary else {}
        changes.append(
            TableChange(
                version=str(snapshot.snapshot_id),
                parent_version=str(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None,
                committed_at=_millis(snapshot.timestamp_ms),
                operation=summary.operation.value if summary else "unknown",
                rows_added=_int(properties.get("added-records", 0)),
                rows_deleted=_int(properties.get("deleted-records", 0)),
                total_rows=_int(properties.get("total-records")),
                job_id=properties.get(JOB_ID_KEY),
                write_mode=_write_mode(properties.get(RESULT_KEY)),
            )
        )
    version = str(current.snapshot_id) if current else None
    return TableHistory("iceberg", version, changes, truncated)


def _delta_rows(operation: str, metrics: dict[str, Any]) -> tuple[int | None, int | None]:
    """Rows added and deleted from delta-rs's ``operationMetrics`` (names differ per operation)."""
    if operation == "MERGE":
        added = _int(metrics.get("num_target_rows_inserted"))
        deleted = _int(metrics.get("num_target_rows_deleted"))
        return added, deleted
    return _int(metrics.get("num_added_rows")), _int(metrics.get("num_deleted_rows"))


def _delta(fs: Any, path: str, limit: int) -> TableHistory:
    versions = sorted(
        (int(info.base_name[:20]), info.path)
        for info in base.list_files(fs, f"{path}/_delta_log")
        if _COMMIT_FILE.fullmatch(info.base_name)
    )
    newest = versions[-1][0] if versions else None
    changes = []
    for version, file_path in reversed(versions[-limit:] if limit else []):
        with fs.open_input_stream(file_path) as stream:
            actions = [json.loads(line) for line in stream.read().decode().splitlines() if line.strip()]
        info = next((a["commitInfo"] for a in actions if "commitInfo" in a), {})
        name = str(info.get("operation", "unknown"))
        mode = (info.get("operationParameters") or {}).get("mode")
        added, deleted = _delta_rows(name, info.get("operationMetrics") or {})
        changes.append(
            TableChange(
                version=str(version),
                parent_version=str(version - 1) if version else None,
                committed_at=_millis(info.get("timestamp")),
                operation=f"{name.lower()} ({mode.lower()})" if isinstance(mode, str) else name.lower(),
                rows_added=added,
                rows_deleted=deleted,
                total_rows=None,
                job_id=info.get(DELTA_JOB_ID_KEY),
                write_mode=_write_mode(info.get(RESULT_KEY)),
            )
        )
    current = str(newest) if newest is not None else None
    return TableHistory("delta", current, changes, len(versions) > limit)


def _hive(hive: HiveTable, limit: int) -> TableHistory:
    markers = hive.markers()  # newest first
    changes = []
    for marker in markers[:limit]:
        record = marker.get(RESULT_KEY) or {}
        sequence = marker["sequence"]
        committed = marker.get("committed_at")
        changes.append(
            TableChange(
                version=str(sequence),
                parent_version=str(sequence - 1) if sequence > 1 else None,
                committed_at=datetime.fromisoformat(committed) if committed else None,
                operation=str(marker.get("write_mode", "unknown")),
                rows_added=_int(record.get("rows_written")),
                rows_deleted=None,
                total_rows=None,
                job_id=marker.get("job_id"),
                write_mode=marker.get("write_mode"),
            )
        )
    current = str(markers[0]["sequence"]) if markers else None
    return TableHistory("parquet", current, changes, len(markers) > limit)
