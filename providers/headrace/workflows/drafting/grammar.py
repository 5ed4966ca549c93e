"""The phrase grammar: the regular expressions each drafting rule matches, and how a match is read.

Names (identifiers, dotted tables, connection ids), SQL in quotes, file locations, check phrases (not
null, unique, accepted values, freshness, row counts), file type words, write modes and the subject.
Every pattern is compiled case-insensitively; the schedule's own words are in :mod:`.schedule_words`.
"""

from __future__ import annotations

import re
from typing import Any

# Words that carry no placeable meaning on their own: never reported as "could not place".
_STOP_WORDS = (
    "a an the data to from into then and also of in on at with for by as via using please that this "
    "these those is are be it its our my all each every some files file load loads loading ingest sync "
    "copy move replicate transfer import export extract pull push send stream bring get run runs table "
    "tables pipeline job workflow dag schedule scheduled there"
)
STOP = frozenset(_STOP_WORDS.split())

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CONN_ID = r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?<![.-])"
PART = r"[A-Za-z0-9_-]+"
DOTTED = rf"(?<![\w.-]){PART}(?:\.{PART}){{1,2}}(?![\w-]|\.\w)"  # schema.table or catalog.schema.table
TABLE = rf"(?<![\w.-]){PART}(?:\.{PART}){{0,2}}(?![\w-]|\.\w)"
_NUMBER = r"\d[\d,_]*"
UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|[smhdw])\b"
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600}
_UNIT_SECONDS |= {"hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_I = re.IGNORECASE


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


QUOTED = compile_pattern(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
SQL_START = compile_pattern(r"^\s*(?:select|with|insert|merge|create|delete|update)\b")
CRON_LEAD = compile_pattern(
    r"(?:\b(?:on|with|using)\s+)?(?:\ba\s+|\bthe\s+)?\b(?:cron|schedule)(?:\s+expression)?\s*:?\s*$"
)
CLAUSE_START = compile_pattern(r"\b(?:then|and)\b|;|\.(?=\s|$)")
TRANSFORM_TARGET = compile_pattern(rf"\b(?:into|to|as)\s+(?:the\s+)?(?:table\s+)?({DOTTED})")
TRANSFORM_FILLER = compile_pattern(r"\b(?:then|and|with|using|sql|query|the|run|into|to|as)\b")

URI = compile_pattern(r"(?<![\w/])((?:s3a?|minio|gs|gcs|abfss?|wasbs?|file|https?|hdfs)://[^\s`'\"<>,;()]+)")
LOCAL_PATH = compile_pattern(r"(?<![\w/:.])((?:~|\.{1,2})?/[\w.*?\[\]-]+(?:/[\w.*?\[\]-]*)*)")
FILE_NAME = compile_pattern(
    r"(?<![\w/:.])([\w*?-][\w.*?-]*(?:/[\w.*?-]+)*\.(?:csv|tsv|json|jsonl|ndjson|parquet|avro|orc))\b"
)

_CHECK_WORD = r"\b(?:check|checks|verify|ensure|assert|validate|make\s+sure)\b"
CHECK_START = compile_pattern(rf"{_CHECK_WORD}(?:\s+that\b)?")
CHECK_END = compile_pattern(rf"\bthen\b|;|\.(?=\s|$)|{_CHECK_WORD}")
_NOT_COLUMN = (
    r"(?:is|are|be|was|must|should|not|null|nulls|non|never|unique|in|of|one|either|among|and|or|the|that"
    r"|a|an|than|at|least|most|more|less|fewer|row|rows|records?|has|have|no|within|fresh|fresher|newer"
    r"|older|values?|each|every|check|ensure|verify|then|with|column|columns|table|there|all|only"
    r"|empty|exactly|between|duplicates?|count|it|its|under|up)"
)
COL = rf"(?<![\w.])(?!{_NOT_COLUMN}\b){IDENT}\b(?!\.\w)"
_COLS = rf"(?:columns?\s+)?{COL}(?:\s*,\s*(?:and\s+)?{COL}|\s+and\s+{COL})*"
_BE = r"(?:is|are|must\s+be|should\s+be)"
NOT_NULL = [
    compile_pattern(
        rf"(?P<cols>{_COLS})\s+{_BE}\s+(?:not\s+null|non[-\s]?null|never\s+null|not\s+nullable|present|required|mandatory)\b"
    ),
    compile_pattern(rf"\bno\s+nulls?\s+(?:in|for|on)\s+(?P<cols>{_COLS})"),
    compile_pattern(rf"(?P<cols>{_COLS})\s+(?:has|have|contains?)\s+no\s+nulls?\b"),
    compile_pattern(rf"\bnot[-\s]null\s+(?:on|for)?\s*(?P<cols>{_COLS})"),
]
UNIQUE = [
    compile_pattern(rf"(?P<cols>{_COLS})\s+{_BE}\s+unique\b"),
    compile_pattern(rf"(?P<cols>{_COLS})\s+(?:has|have|contains?)\s+no\s+duplicates?\b"),
    compile_pattern(rf"\bno\s+duplicates?\s+(?:in|of|on|for)\s+(?P<cols>{_COLS})"),
    compile_pattern(rf"\bunique(?:\s+values?\s+(?:in|of|for))?\s+(?P<cols>{_COLS})"),
]
_VALUE = r"(?:'[^']*'|\"[^\"]*\"|[\w.+-]+(?![\w.+-]))(?!\s+(?:is|are|must|should|has|have)\b)"
ACCEPTED = compile_pattern(
    rf"(?:column\s+)?(?P<col>{COL})\s+(?:{_BE}\s+|(?:has|have)\s+values?\s+)?(?:in|one\s+of|among|either)\s*"
    rf"(?:\((?P<paren>[^)]*)\)|\[(?P<bracket>[^\]]*)\]|\{{(?P<brace>[^}}]*)\}}"
    rf"|(?P<bare>{_VALUE}(?:\s*,\s*(?:or\s+|and\s+)?{_VALUE}|\s+or\s+{_VALUE}|\s+and\s+{_VALUE})*))"
)
FRESHNESS = compile_pattern(
    rf"(?P<col>{COL})\s+(?:(?:is|are|was|must\s+be|should\s+be)\s+)?"
    r"(?:fresh(?:er)?\s+(?:than|within)|newer\s+than|updated\s+within|(?:no|not)\s+older\s+than"
    r"|within(?:\s+the\s+(?:last|past))?|less\s+than|under|at\s+most)\s+"
    rf"(?P<n>\d+|an?|one)\s*(?P<unit>{UNIT})(?:\s+(?:old|ago))?"
)
_ROWS = r"\s+(?:rows?|records?)\b"
ROW_COUNT: list[tuple[re.Pattern[str], str]] = [
    (
        compile_pattern(
            rf"\b(?:at\s+least|min(?:imum)?(?:\s+of)?|no\s+(?:fewer|less)\s+than)\s+(?P<n>{_NUMBER}){_ROWS}"
        ),
        "min",
    ),
    (
        compile_pattern(
            rf"\b(?:at\s+most|max(?:imum)?(?:\s+of)?|no\s+more\s+than|up\s+to)\s+(?P<n>{_NUMBER}){_ROWS}"
        ),
        "max",
    ),
    (compile_pattern(rf"\bbetween\s+(?P<lo>{_NUMBER})\s+and\s+(?P<hi>{_NUMBER}){_ROWS}"), "between"),
    (compile_pattern(rf"\bexactly\s+(?P<n>{_NUMBER}){_ROWS}"), "exactly"),
    (compile_pattern(rf"\b(?:more|greater)\s+than\s+(?P<n>{_NUMBER}){_ROWS}"), "above"),
    (compile_pattern(rf"\b(?:fewer|less)\s+than\s+(?P<n>{_NUMBER}){_ROWS}"), "below"),
    (
        compile_pattern(
            rf"\b(?:row\s*count|number\s+of\s+rows|rows|count)\s*(?P<op>>=|=>|<=|=<|==|>|<|=)\s*(?P<n>{_NUMBER})"
        ),
        "op",
    ),
    (compile_pattern(r"\b(?:table|it|target|data)\s+(?:is\s+)?(?:not|non)[-\s]?empty\b"), "nonempty"),
    (compile_pattern(r"\b(?:has|have|contains?)\s+(?:some\s+)?(?:rows|records)\b"), "nonempty"),
]

FILE_WORD = compile_pattern(
    r"\b(json\s*lines|jsonl|ndjson|csv|tsv|json|parquet|avro|orc)\b(?:\s+(?:files?|format|objects?))?"
)
WRITE_MODE = compile_pattern(
    rf"\b(?:(?P<overwrite>overwrite|overwriting|replace|replacing|full\s+refresh)|(?P<append>append|appending"
    rf"|incremental(?:ly)?)|(?P<merge>upsert|upserting|merge|merging)(?:\s+(?:on|by)\s+(?P<keys>{_COLS}))?)\b"
)

_SUBJECT_VERBS = (
    r"(?:load|ingest|sync|synchronize|copy|move|replicate|transfer|export|import|extract|pull|push|send"
    r"|stream|bring)"
)
_SUBJECT_NOT = rf"(?!(?:{_NOT_COLUMN}|data|files?|from|to|into|our|my|some|new)\b)"
SUBJECT_PATTERNS = [
    compile_pattern(
        rf"\b{_SUBJECT_VERBS}\s+(?:(?:the|all|our|my|every)\s+)*(?:table\s+)?(?<![\w.]){_SUBJECT_NOT}"
        rf"(?P<t>{IDENT}(?:\.{IDENT})?)(?![\w]|\.\w)(?:\s+(?:data|table|tables|records|rows|events))?"
    ),
    compile_pattern(rf"(?<![\w.]){_SUBJECT_NOT}(?P<t>{IDENT})\s+(?:data|table|records|rows)\b"),
    compile_pattern(rf"\btable\s+{_SUBJECT_NOT}(?P<t>{IDENT})\b(?!\.\w)"),
]


def clean_token(token: str) -> str:
    """A word without the punctuation around it."""
    return token.strip(".'\u2013\u2014-&*+/")


def column_list(text: str) -> list[str]:
    """The column names of a ``columns a, b and c`` phrase, each once."""
    return list(dict.fromkeys(re.findall(COL, re.sub(r"^\s*columns?\s+", "", text, flags=_I), _I)))


def value_list(text: str) -> list[Any]:
    """``new, paid or 'shipped'`` -> ``["new", "paid", "shipped"]``; unquoted numbers become numbers."""
    values: list[Any] = []
    for part in re.split(r"\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", text.strip(), flags=_I):
        part = part.strip()
        if not part:
            continue
        if len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
            values.append(part[1:-1])
        elif re.fullmatch(r"-?\d+", part):
            values.append(int(part))
        elif re.fullmatch(r"-?\d+\.\d+", part):
            values.append(float(part))
        else:
            values.append(part)
    return values


def row_bounds(kind: str, m: re.Match[str]) -> tuple[int | None, int | None] | None:
    """(min, max) rows of one row count phrase."""
    if kind == "nonempty":
        return 1, None
    if kind == "between":
        return _number(m.group("lo")), _number(m.group("hi"))
    n = _number(m.group("n"))
    if kind == "op":
        op = m.group("op")
        return {
            ">=": (n, None), "=>": (n, None), ">": (n + 1, None), "<=": (None, n), "=<": (None, n),
            "<": (None, n - 1) if n > 0 else None, "=": (n, n), "==": (n, n),
        }.get(op)  # fmt: skip
    return {
        "min": (n, None),
        "max": (None, n),
        "exactly": (n, n),
        "above": (n + 1, None),
        "below": (None, n - 1) if n > 0 else None,
    }[kind]


def _number(text: str) -> int:
    return int(text.replace(",", "").replace("_", ""))


def unit_seconds(unit: str) -> int:
    """Seconds in one ``unit`` (``min``, ``hours``, ``d`` ...)."""
    word = unit.lower()
    return _UNIT_SECONDS.get(word) or _UNIT_SECONDS[word.rstrip("s")]
