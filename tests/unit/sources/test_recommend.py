"""The profile recommendation rules and the storage rules, on numbers."""

from __future__ import annotations

from datetime import datetime

from headrace.lakehouse import advice
from headrace.sources import recommend


def test_partitioning_grain_follows_rows_per_day() -> None:
    start = datetime(2024, 1, 1)
    assert recommend.partitioning(None, 10**9).value == "none"
    assert recommend.partitioning("ts", 500).value == "none"
    assert recommend.partitioning("ts", 40_000_000, start, datetime(2024, 1, 11)).value == "by_day"
    assert recommend.partitioning("ts", 10_000_000, start, datetime(2024, 4, 10)).value == "by_month"
    assert recommend.partitioning("ts", 2_000_000, start, datetime(2028, 1, 1)).value == "by_year"


def test_index_candidates_say_why() -> None:
    found = recommend.index_candidates(
        foreign_keys=[("customer_id", "customers")],
        unique_columns=["email"],
        indexed={"id"},
        time_col="created_at",
    )
    assert [(r.column, r.reason.split(":")[0]) for r in found] == [
        ("customer_id", "foreign key to customers without an index"),
        ("email", "values are unique but not indexed"),
        ("created_at", "time filters on it scan the whole table"),
    ]


def test_growth_rates() -> None:
    assert advice.growth_per_month("10GB/month") == 10
    assert round(advice.growth_per_month("500MB/day"), 1) == 14.8
    assert advice.growth_per_month("1TB/year") == 1024 / 12
