"""Recommendations from a table's profile: a partitioning scheme for its time column, index candidates.

The rules, each answered with its reason:

- partitioning needs a date/time column and enough rows: under ``PARTITION_MIN_ROWS`` rows a table
  is one partition (more only adds files and planning); otherwise the scheme keeps each partition
  near ``TARGET_PARTITION_ROWS``: ``by_day`` when a day holds that many rows, else ``by_month``
  when a month does, else ``by_year``;
- an index is suggested for a foreign key column without one (every join to its parent scans),
  for a column whose values are unique but has no index (lookups by it scan), and for the
  partition candidate time column without one (time filters scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

PARTITION_MIN_ROWS = 1_000_000
TARGET_PARTITION_ROWS = 1_000_000
_TIME_WORDS = ("timestamp", "datetime", "date", "time")
_PREFERRED_TIME_NAMES = ("created_at", "event_time", "timestamp", "order_date", "created", "date", "ts")


@dataclass
class Reason:
    recommendation: str  # partitioning | index
    column: str | None
    value: str
    reason: str


def is_time_type(type_name: str) -> bool:
    name = type_name.lower()
    return any(word in name for word in _TIME_WORDS) and "interval" not in name


def time_column(columns: list[tuple[str, str]]) -> str | None:
    """The column to partition by: a preferred name among the time columns, else the first one."""
    times = [name for name, type_name in columns if is_time_type(type_name)]
    for preferred in _PREFERRED_TIME_NAMES:
        if preferred in times:
            return preferred
    return times[0] if times else None


def _days(low: object, high: object) -> float | None:
    if isinstance(low, datetime) and isinstance(high, datetime):
        return max((high - low).total_seconds() / 86400, 1.0)
    if isinstance(low, date) and isinstance(high, date):
        return float(max((high - low).days, 1))
    return None


def partitioning(column: str | None, row_count: int, low: object = None, high: object = None) -> Reason:
    if column is None:
        return Reason("partitioning", None, "none", "no date or time column to partition by")
    if row_count < PARTITION_MIN_ROWS:
        return Reason(
            "partitioning", column, "none",
            f"{row_count} rows fit in one partition (partitioning pays from {PARTITION_MIN_ROWS} rows); "
            f"partition by {column} when the table grows",
        )  # fmt: skip
    days = _days(low, high)
    if days is None:
        return Reason(
            "partitioning", column, "by_month", f"{column} is the time column; its range is unknown"
        )
    per_day = row_count / days
    if per_day >= TARGET_PARTITION_ROWS:
        scheme = "by_day"
    elif per_day * 30 >= TARGET_PARTITION_ROWS:
        scheme = "by_month"
    else:
        scheme = "by_year"
    return Reason(
        "partitioning", column, scheme,
        f"{row_count} rows over {days:.0f} days of {column} ({per_day:.0f} a day): {scheme} keeps partitions "
        f"near {TARGET_PARTITION_ROWS} rows",
    )  # fmt: skip


def index_candidates(
    *,
    foreign_keys: list[tuple[str, str]],  # (column, parent table)
    unique_columns: list[str],
    indexed: set[str],
    time_col: str | None,
) -> list[Reason]:
    found: list[Reason] = []
    for column, parent in foreign_keys:
        if column not in indexed:
            found.append(
                Reason("index", column, column, f"foreign key to {parent} without an index: joins scan")
            )
    for column in unique_columns:
        if column not in indexed and all(r.column != column for r in found):
            found.append(
                Reason("index", column, column, "values are unique but not indexed: lookups by it scan")
            )
    if time_col and time_col not in indexed and all(r.column != time_col for r in found):
        found.append(Reason("index", time_col, time_col, "time filters on it scan the whole table"))
    return found
