"""Schedule words: how a sentence says when a workflow runs, read into one schedule Headrace accepts.

``daily``, ``every 15 minutes``, ``every monday at 2am``, ``on demand``, a cron expression ...: each is
matched here, combined (a time of day or weekday narrows a preset to a cron expression), and checked
with :func:`headrace.workflows.schedule.parse_schedule`. Conflicts keep the first and say so.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from headrace.workflows.drafting.grammar import UNIT, compile_pattern, unit_seconds
from headrace.workflows.schedule import ScheduleError, parse_schedule

if TYPE_CHECKING:
    from headrace.workflows.drafting.parser import Parser

_MANUAL = compile_pattern(r"\b(?:manual(?:ly)?|on\s+demand|on\s+request)\b")
_CRON_BARE = compile_pattern(
    r"\bcron\s*(?:expression\s*)?:?\s*(?P<cron>(?:[\d*/,?A-Za-z-]+\s+){4}[\d*/,?A-Za-z-]+)"
)
_INTERVAL = compile_pattern(rf"\b(?:every|each)\s+(?P<n>\d+)\s*(?P<unit>{UNIT})")
_PERIOD = compile_pattern(
    r"\b(?:(?:every|each|once\s+(?:a|an|per|every)|per)\s+(?P<noun>minute|hour|day|night|week|month|quarter|year)"
    r"|(?P<adverb>hourly|daily|nightly|weekly|monthly|quarterly|yearly|annually))\b"
)
_WEEKDAY = compile_pattern(r"\b(?:every|on|each)\s+(?P<day>mon|tues|wednes|thurs|fri|satur|sun|week)days?\b")
_TIME = compile_pattern(
    r"\bat\s+(?:(?P<word>noon|midnight)|(?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<ampm>[ap])\.?m\b\.?"
    r"|(?P<h24>\d{1,2}):(?P<m24>\d{2}))(?:\s*(?:utc|gmt)\b)?"
)
_PERIOD_PRESET = {
    "hour": "@hourly",
    "hourly": "@hourly",
    "day": "@daily",
    "night": "@daily",
    "daily": "@daily",
    "nightly": "@daily",
    "week": "@weekly",
    "weekly": "@weekly",
    "month": "@monthly",
    "monthly": "@monthly",
    "quarter": "@quarterly",
    "quarterly": "@quarterly",
    "year": "@yearly",
    "yearly": "@yearly",
    "annually": "@yearly",
}
_WEEKDAYS = {
    "sun": "0",
    "mon": "1",
    "tues": "2",
    "wednes": "3",
    "thurs": "4",
    "fri": "5",
    "satur": "6",
    "week": "1-5",
}
_AT_TIME_CRON = {"@daily": "{m} {h} * * {d}", "@weekly": "{m} {h} * * {d}", "@monthly": "{m} {h} 1 * *"}
_AT_TIME_CRON |= {"@quarterly": "{m} {h} 1 */3 *", "@yearly": "{m} {h} 1 1 *"}


def read_schedule(parser: Parser) -> str | None:
    """Rule 8: every frequency, weekday, time of day or cron the sentence names, as one schedule."""
    found: list[tuple[int, str]] = []  # (pos, schedule) of every frequency named
    for m in _CRON_BARE.finditer(parser.work):
        if schedule_kind(m.group("cron")) == "cron":
            parser.cron.append(" ".join(m.group("cron").split()))
            parser.take(m.start(), m.end())
    for m in _INTERVAL.finditer(parser.work):
        count, unit = int(m.group("n")), _unit_name(m.group("unit"))
        text = f"every {unit}" if count == 1 else f"every {count} {unit}s"
        parser.take(m.start(), m.end())
        if schedule_kind(text) is None:
            parser.warn(f'"{m.group(0)}" is not a schedule Headrace accepts')
        else:
            found.append((m.start(), text))
    for m in _PERIOD.finditer(parser.work):
        word = (m.group("noun") or m.group("adverb")).lower()
        found.append((m.start(), "every minute" if word == "minute" else _PERIOD_PRESET[word]))
        parser.take(m.start(), m.end())
    manual = list(_MANUAL.finditer(parser.work))
    for m in manual:
        parser.take(m.start(), m.end())
    weekday = next(_WEEKDAY.finditer(parser.work), None)
    if weekday:
        parser.take(weekday.start(), weekday.end())
    time = next(_TIME.finditer(parser.work), None)
    at = _time_of_day(time) if time else None
    if time and at:
        parser.take(time.start(), time.end())
    found.sort()
    return _combine(parser, [s for _, s in found], weekday, at, bool(manual))


def _combine(
    parser: Parser, named: list[str], weekday: re.Match[str] | None, at: tuple[int, int] | None, manual: bool
) -> str | None:
    """One schedule from everything named; conflicts keep the first and say so."""
    if parser.cron:
        for other in [*parser.cron[1:], *named]:
            parser.warn(f'used the cron schedule "{parser.cron[0]}"; ignored "{other}"')
        return parser.cron[0]
    base = named[0] if named else None
    for other in named[1:]:
        if other != base:
            parser.warn(f'several schedules named; used "{base}", ignored "{other}"')
    if manual and (base or weekday or at):
        parser.warn("the description says both manual and scheduled; kept the schedule")
    day = _WEEKDAYS[weekday.group("day").lower()] if weekday else None
    if at is None and day is None:
        return base
    hour, minute = at or (0, 0)
    if base is None:
        if day is None:
            parser.warn(f"assumed a daily run at {hour:02d}:{minute:02d} (no frequency named)")
        base = "@weekly" if day is not None else "@daily"
    if base == "@daily" and day is not None:
        base = "@weekly"
    if base not in _AT_TIME_CRON:
        parser.warn(f'ignored the time of day or weekday: it does not fit "{base}"')
        return base
    if day is not None and base != "@weekly":
        parser.warn(f'ignored the weekday: it does not fit "{base}"')
    return _AT_TIME_CRON[base].format(
        m=minute, h=hour, d=day if day is not None else "*" if base == "@daily" else "0"
    )


def _unit_name(unit: str) -> str:
    """``mins`` -> ``minute``: the unit words parse_schedule accepts."""
    seconds = unit_seconds(unit)
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"}[seconds]


def _time_of_day(m: re.Match[str]) -> tuple[int, int] | None:
    if m.group("word"):
        return (12, 0) if m.group("word").lower() == "noon" else (0, 0)
    if m.group("h12"):
        hour, minute = int(m.group("h12")), int(m.group("m12") or 0)
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m.group("ampm").lower() == "p" else 0)
    else:
        hour, minute = int(m.group("h24")), int(m.group("m24"))
    return (hour, minute) if hour < 24 and minute < 60 else None


def schedule_kind(text: str) -> str | None:
    """``interval``, ``cron``, ``preset`` ... when Headrace accepts ``text`` as a schedule, else None."""
    try:
        return parse_schedule(text).kind
    except ScheduleError:
        return None
