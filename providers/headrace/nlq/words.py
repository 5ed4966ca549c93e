"""The words of the built-in engine: tokens, stop words, aggregates, rankings and time phrases.

Like the drafting grammar (:mod:`headrace.workflows.drafting.grammar`), a fixed vocabulary, not a
model: the same question over the same schema always gives the same SQL.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

TOKEN = re.compile(
    r"'(?P<sq>[^']*)'|\"(?P<dq>[^\"]*)\"|(?P<date>\d{4}-\d{2}-\d{2})|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<op>>=|<=|!=|<>|[<>=])|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
)

_STOP_WORDS = (
    "a an the of in on at to for from with by me show list give get find what which who whose is "
    "are was were be been there all each every and or please tell return display rows records data "
    "table tables that have has had do does did it its their them they we our my i you your as per "
    "than this those these value values where whats s"
)
STOP = frozenset(_STOP_WORDS.split())

AGGREGATES = {
    "count": "COUNT", "number": "COUNT", "how": "COUNT",
    "total": "SUM", "sum": "SUM", "overall": "SUM",
    "average": "AVG", "avg": "AVG", "mean": "AVG",
    "maximum": "MAX", "max": "MAX", "highest": "MAX", "largest": "MAX", "biggest": "MAX",
    "minimum": "MIN", "min": "MIN", "lowest": "MIN", "smallest": "MIN",
}  # fmt: skip
# Words that end an aggregate's reach: after "how many", "number of", "count of".
AGGREGATE_GLUE = frozenset({"many", "of", "the", "distinct", "unique", "different"})
DISTINCT = frozenset({"distinct", "unique", "different"})
GROUP_MARKERS = (("for", "each"), ("grouped", "by"), ("broken", "down", "by"), ("by",), ("per",), ("each",))
RECENT = frozenset({"recent", "latest", "newest", "last"})
OLDEST = frozenset({"oldest", "earliest", "first"})
TOP = frozenset({"top", "best", "most", "highest", "largest", "biggest"})
BOTTOM = frozenset({"bottom", "worst", "least", "fewest", "lowest", "smallest"})
EXPENSIVE = frozenset({"expensive", "priciest", "costliest"})
CHEAP = frozenset({"cheapest", "cheap", "inexpensive"})
PRICE_WORDS = ("price", "cost", "amount", "total")
GREATER = {"over": ">", "above": ">", "exceeding": ">", ">": ">", ">=": ">="}
LESS = {"under": "<", "below": "<", "<": "<", "<=": "<="}
PAIRS = {("more", "than"): ">", ("greater", "than"): ">", ("at", "least"): ">=", ("less", "than"): "<",
         ("fewer", "than"): "<", ("at", "most"): "<=", ("higher", "than"): ">",
         ("lower", "than"): "<"}  # fmt: skip
EQUALS = frozenset({"is", "=", "equals", "equal", ":", "of"})
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "twenty": 20, "fifty": 50, "hundred": 100}  # fmt: skip


@dataclass
class Token:
    text: str  # as written (quotes removed)
    word: str  # lower case
    kind: str  # word | num | date | op | quoted
    used: bool = False


def tokenize(question: str) -> list[Token]:
    tokens = []
    for m in TOKEN.finditer(question):
        kind = m.lastgroup or "word"
        text = m.group(kind)
        if kind in ("sq", "dq"):
            kind = "quoted"
        elif kind == "word" and text.lower() in _NUMBER_WORDS:
            kind, text = "num", str(_NUMBER_WORDS[text.lower()])
        tokens.append(Token(text, text.lower(), kind))
    return tokens


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def forms(name: str) -> set[tuple[str, ...]]:
    """The token sequences that name ``name``: ``order_items`` -> (order_items), (order, items),
    (order, item), (order_item)."""
    lower = name.lower()
    parts = tuple(p for p in lower.split("_") if p)
    found = {(lower,), (singular(lower),), parts, (*parts[:-1], singular(parts[-1]))} if parts else {(lower,)}
    return {f for f in found if f}


@dataclass
class Period:
    start: date | None
    end: date | None  # exclusive
    phrase: str


def _month_start(day: date, offset: int = 0) -> date:
    month = day.month - 1 + offset
    return date(day.year + month // 12, month % 12 + 1, 1)


def relative_period(unit: str, which: str, today: date, count: int = 1) -> Period | None:
    """``last month``, ``this year``, ``last 7 days`` ... as [start, end) dates, resolved today."""
    unit = singular(unit)
    if which == "this":
        if unit == "month":
            return Period(_month_start(today), _month_start(today, 1), "this month")
        if unit == "year":
            return Period(date(today.year, 1, 1), date(today.year + 1, 1, 1), "this year")
        if unit == "week":
            start = today - timedelta(days=today.weekday())
            return Period(start, start + timedelta(days=7), "this week")
        if unit == "day":
            return Period(today, today + timedelta(days=1), "today")
        return None
    if unit == "day":
        if count > 1:
            return Period(today - timedelta(days=count), today + timedelta(days=1), f"last {count} days")
        return Period(today - timedelta(days=1), today, "yesterday")
    if count > 1:  # rolling: the last N weeks/months/years up to today
        days = {"week": 7 * count, "month": 0, "year": 0}.get(unit)
        if unit == "week" and days:
            return Period(today - timedelta(days=days), today + timedelta(days=1), f"last {count} weeks")
        if unit == "month":
            start = _month_start(today, -count).replace(day=min(today.day, 28))
            return Period(start, today + timedelta(days=1), f"last {count} months")
        if unit == "year":
            start = date(today.year - count, today.month, min(today.day, 28))
            return Period(start, today + timedelta(days=1),
                          f"last {count} years")  # fmt: skip
        return None
    if unit == "month":
        return Period(_month_start(today, -1), _month_start(today), "last month")
    if unit == "year":
        return Period(date(today.year - 1, 1, 1), date(today.year, 1, 1), "last year")
    if unit == "week":
        start = today - timedelta(days=today.weekday() + 7)
        return Period(start, start + timedelta(days=7), "last week")
    return None


def month_period(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last) + timedelta(days=1), f"{year}-{month:02d}")
