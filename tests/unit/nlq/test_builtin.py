"""The built-in engine without a database: joins from naming, time phrases, unused words, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from headrace.nlq import Column, NotUnderstood, Schema, Table, translate
from headrace.nlq.words import relative_period

SCHEMA = Schema(
    {
        "users": Table(
            "users", [Column("id", "integer"), Column("name", "text"), Column("signup_date", "date")]
        ),
        "payments": Table(
            "payments",
            [
                Column("id", "integer"),
                Column("user_id", "integer"),
                Column("amount", "numeric"),
                Column("paid_at", "timestamp"),
            ],
        ),
    }
)
TODAY = date(2025, 3, 15)


def test_join_from_table_id_naming_and_time_phrase() -> None:
    result = translate("top 3 users by total amount last month", SCHEMA, "postgres", today=TODAY)
    assert 'JOIN "users"' in result.sql and '"payments"."user_id" = "users"."id"' in result.sql
    assert "'2025-02-01'" in result.sql and "'2025-03-01'" in result.sql and "LIMIT 3" in result.sql
    assert result.engine == "builtin" and result.unused_phrases == []


def test_dialects_and_unused_words() -> None:
    result = translate("how many payments since 2025-01-01 please quickly", SCHEMA, "mysql", today=TODAY)
    assert "`payments`" in result.sql and ">= '2025-01-01'" in result.sql
    assert result.unused_phrases == ["quickly"]


@pytest.mark.parametrize(
    ("unit", "which", "count", "start", "end"),
    [
        ("month", "last", 1, date(2025, 2, 1), date(2025, 3, 1)),
        ("year", "this", 1, date(2025, 1, 1), date(2026, 1, 1)),
        ("days", "last", 7, date(2025, 3, 8), date(2025, 3, 16)),
        ("week", "last", 1, date(2025, 3, 3), date(2025, 3, 10)),
    ],
)
def test_relative_periods(unit, which, count, start, end) -> None:
    period = relative_period(unit, which, TODAY, count)
    assert (period.start, period.end) == (start, end)


def test_questions_about_nothing_in_the_schema_are_refused() -> None:
    with pytest.raises(NotUnderstood):
        translate("what is the weather", SCHEMA, "postgres", today=TODAY)
