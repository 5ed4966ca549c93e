"""Storage recommendations: table format, partitioning, file size, compaction and engine, by rules.

The rules (each answer quotes the one that decided it):

- **format**: updates or upserts (``update_heavy``, ``needs_updates``) -> Delta (row-level MERGE and
  deletes in process through deltalake); appends at volume, time series or write-heavy loads ->
  Iceberg (hidden partitioning that can evolve, snapshot isolation for many small commits); small
  (under ``SMALL_GB``), read-mostly data that is rewritten whole -> plain Parquet; otherwise Iceberg.
- **partitioning**: only with a time column (or ``time_series`` queries) and at least ``SMALL_GB``;
  the grain keeps a partition at ``PARTITION_TARGET_GB`` or more: ``day`` when a day adds that much,
  else ``month`` when a month does, else ``year``.
- **target file size**: 128 MB under 10 GB, 256 MB under 1 TB, 512 MB beyond (fewer files to plan
  over as tables grow).
- **compaction**: write-heavy, append-only and streaming loads leave many small files: compact daily;
  others weekly; plain Parquet is rewritten, not compacted.
- **engine**: the in-process Arrow engine up to ``ARROW_MAX_GB`` scanned (one machine's memory and
  disk), Spark beyond, or for ``ml`` workloads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SMALL_GB = 1.0
PARTITION_TARGET_GB = 1.0
ARROW_MAX_GB = 50.0
_UNITS = {"KB": 1 / 1024**2, "MB": 1 / 1024, "GB": 1.0, "TB": 1024.0}
_PER_MONTH = {"hour": 730.0, "day": 30.4, "week": 4.35, "month": 1.0, "year": 1 / 12}
_GROWTH = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB)\s*/\s*(hour|day|week|month|year)\s*$", re.IGNORECASE
)


@dataclass
class Profile:
    size_gb: float
    growth_gb_per_month: float = 0.0
    access_pattern: str = "balanced"
    query_types: list[str] = field(default_factory=list)
    time_column: str | None = None
    needs_updates: bool = False
    row_count: int | None = None
    current_format: str | None = None


@dataclass
class Advice:
    table_format: tuple[str, str]
    partitioning: tuple[str, str]
    target_file_size_mb: tuple[int, str]
    compaction: tuple[str, str]
    engine: tuple[str, str]


def growth_per_month(text: str | None) -> float:
    """``10GB/month`` -> 10.0; ``500MB/day`` -> about 14.8 (GB a month)."""
    if not text:
        return 0.0
    match = _GROWTH.match(text)
    if not match:
        raise ValueError(f"growth_rate '{text}' is not like 10GB/month")
    amount, unit, per = float(match.group(1)), match.group(2).upper(), match.group(3).lower()
    return amount * _UNITS[unit] * _PER_MONTH[per]


def recommend(profile: Profile) -> Advice:
    return Advice(
        table_format=_format(profile),
        partitioning=_partitioning(profile),
        target_file_size_mb=_file_size(profile),
        compaction=_compaction(profile),
        engine=_engine(profile),
    )


def _format(p: Profile) -> tuple[str, str]:
    if p.needs_updates or p.access_pattern == "update_heavy":
        return (
            "delta",
            "updates and upserts: Delta applies row-level MERGE and deletes in process (deltalake)",
        )
    if (
        p.access_pattern in ("write_heavy", "append_only")
        or "time_series" in p.query_types
        or "streaming" in p.query_types
    ):
        return "iceberg", (
            "frequent appends and time-based queries: Iceberg's snapshots isolate many small commits and its "
            "hidden partitioning can change grain as the table grows"
        )
    if p.size_gb < SMALL_GB and p.growth_gb_per_month < SMALL_GB and p.access_pattern == "read_heavy":
        return (
            "parquet",
            f"under {SMALL_GB:g} GB, read-mostly and rewritten whole: plain Parquet needs no table format",
        )
    return "iceberg", "the default: schema evolution, snapshots and time travel at no cost to readers"


def _partitioning(p: Profile) -> tuple[str, str]:
    has_time = p.time_column is not None or "time_series" in p.query_types
    column = p.time_column or "the event time column"
    if not has_time:
        return "none", "no time column and no time-series queries: nothing to prune by"
    if p.size_gb + p.growth_gb_per_month * 12 < SMALL_GB:
        return "none", f"under {SMALL_GB:g} GB within a year: one partition is cheaper to read"
    per_day = p.growth_gb_per_month / 30.4 if p.growth_gb_per_month else p.size_gb / 365
    if per_day >= PARTITION_TARGET_GB:
        return (
            f"day({column})",
            f"{per_day:.1f} GB a day: daily partitions stay above {PARTITION_TARGET_GB:g} GB",
        )
    if per_day * 30.4 >= PARTITION_TARGET_GB:
        return (
            f"month({column})",
            f"{per_day * 30.4:.1f} GB a month: monthly partitions of {PARTITION_TARGET_GB:g} GB or more",
        )
    return f"year({column})", f"{per_day * 365:.1f} GB a year: finer partitions would be too small"


def _file_size(p: Profile) -> tuple[int, str]:
    if p.size_gb < 10:
        return 128, "under 10 GB: 128 MB files keep parallelism without many small files"
    if p.size_gb < 1024:
        return 256, "10 GB to 1 TB: 256 MB files"
    return 512, "over 1 TB: 512 MB files keep the file count (and planning) down"


def _compaction(p: Profile) -> tuple[str, str]:
    if _format(p)[0] == "parquet":
        return "none", "plain Parquet is rewritten whole, not compacted"
    if p.access_pattern in ("write_heavy", "append_only") or "streaming" in p.query_types:
        return "daily", "frequent small writes: compact daily into the target file size"
    return "weekly", "few writes: a weekly compaction keeps files near the target size"


def _engine(p: Profile) -> tuple[str, str]:
    scanned = p.size_gb + p.growth_gb_per_month
    if "ml" in p.query_types:
        return "spark", "machine-learning workloads need Spark's distributed execution"
    if scanned <= ARROW_MAX_GB:
        return "arrow", f"{scanned:.1f} GB fits one machine: the in-process Arrow engine, no cluster"
    return "spark", f"{scanned:.1f} GB exceeds {ARROW_MAX_GB:g} GB: Spark spreads the scan over executors"
