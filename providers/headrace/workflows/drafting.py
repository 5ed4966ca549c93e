"""Draft a workflow definition from one sentence ("Load sales data from PostgreSQL to ClickHouse daily").

A fixed grammar of regular expressions, not a model: the same sentence always gives the same draft,
and every rule can be read here. Each rule marks the characters it used; whatever meaningful text no
rule used comes back as a ``could not place "..."`` warning, so nothing the user wrote is dropped
silently. Nothing is invented either: hosts, connection ids and SQL come only from the sentence or
from the :class:`Vocabulary` (what exists in Airflow and Headrace). When a value is missing, the
draft says so in ``warnings``: a table becomes a run parameter of type ``identifier`` (quoted into
the SQL by the ``identifier`` filter); a connection id never does (whoever triggers a run must not
pick the database), so it is Airflow's conventional ``<type>_default``, to create, or to replace in
the sentence (``from PostgreSQL connection pg_prod``) or when deploying.

Rules, in the order they run (earlier rules take their words first):

1. quoted text: SQL (```SELECT ...```) makes a transform step of its clause; a quoted cron is the schedule;
2. file locations ``s3://bucket/prefix/*.csv`` (file type from the extension);
3. check clauses (``check``/``verify``/``ensure``/``make sure`` ...): unique, not null, accepted
   values, row count and freshness;
4. file type words (csv, json, parquet, avro, orc, tsv) and write modes (overwrite, append, merge on);
5. databases by name (``from PostgreSQL``, ``to ClickHouse table analytics.sales``,
   ``from PostgreSQL connection pg_prod``);
6. lakehouse tables (``into catalog.schema.table``, ``into table schema.table``);
7. the subject (``Load sales data`` names the table ``sales``);
8. the schedule (daily, every 15 minutes, at 2am, every monday, cron ...).

Plain Python (no Flask, no Airflow ORM), so the REST API and the command line can both use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from headrace.storage.filetypes import FileType, type_from_name
from headrace.workflows.identifiers import FILTER, select_all, table
from headrace.workflows.model import WORKFLOW_ID
from headrace.workflows.schedule import ScheduleError, parse_schedule

GENERIC_TRANSFER = "airflow.providers.common.sql.operators.generic_transfer.GenericTransfer"

# Words people use for a system -> the Airflow connection type of its hook.
_ALIASES: dict[str, str] = {
    "postgresql": "postgres",
    "postgres": "postgres",
    "pg": "postgres",
    "psql": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "mssql",
    "sql server": "mssql",
    "sqlserver": "mssql",
    "ms sql": "mssql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "bigquery": "gcpbigquery",
    "big query": "gcpbigquery",
    "redshift": "redshift",
    "clickhouse": "clickhouse",
    "click house": "clickhouse",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "vertica": "vertica",
    "teradata": "teradata",
    "databricks": "databricks",
    "hive": "hiveserver2",
    "exasol": "exasol",
    "s3": "aws",
    "amazon s3": "aws",
    "aws s3": "aws",
    "minio": "aws",
    "gcs": "google_cloud_platform",
    "google cloud storage": "google_cloud_platform",
    "azure blob storage": "wasb",
    "azure blob": "wasb",
}
_STORAGE_TYPES = frozenset({"aws", "google_cloud_platform", "wasb"})  # files, not tables
_DISPLAY = {
    "postgres": "PostgreSQL",
    "mysql": "MySQL",
    "mssql": "SQL Server",
    "oracle": "Oracle",
    "snowflake": "Snowflake",
    "gcpbigquery": "BigQuery",
    "redshift": "Redshift",
    "clickhouse": "ClickHouse",
    "sqlite": "SQLite",
    "duckdb": "DuckDB",
    "trino": "Trino",
    "presto": "Presto",
    "vertica": "Vertica",
    "teradata": "Teradata",
    "databricks": "Databricks",
    "hiveserver2": "Hive",
    "exasol": "Exasol",
    "aws": "S3",
    "google_cloud_platform": "GCS",
    "wasb": "Azure Blob Storage",
}
_LABEL = {"gcpbigquery": "bigquery", "aws": "s3", "google_cloud_platform": "gcs", "wasb": "azure_blob"}
# Airflow connection type -> the sqlglot dialect its SQL (and quoting) is written in.
_DIALECTS = {
    "postgres": "postgres",
    "mysql": "mysql",
    "mssql": "tsql",
    "oracle": "oracle",
    "snowflake": "snowflake",
    "gcpbigquery": "bigquery",
    "redshift": "redshift",
    "clickhouse": "clickhouse",
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "trino": "trino",
    "presto": "presto",
    "teradata": "teradata",
    "databricks": "databricks",
    "hiveserver2": "hive",
    "exasol": "exasol",
}

# Words that carry no placeable meaning on their own: never reported as "could not place".
_STOP_WORDS = (
    "a an the data to from into then and also of in on at with for by as via using please that this "
    "these those is are be it its our my all each every some files file load loads loading ingest sync "
    "copy move replicate transfer import export extract pull push send stream bring get run runs table "
    "tables pipeline job workflow dag schedule scheduled there"
)
_STOP = frozenset(_STOP_WORDS.split())

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_CONN_ID = r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?<![.-])"
_PART = r"[A-Za-z0-9_-]+"
_DOTTED = rf"(?<![\w.-]){_PART}(?:\.{_PART}){{1,2}}(?![\w-]|\.\w)"  # schema.table or catalog.schema.table
_TABLE = rf"(?<![\w.-]){_PART}(?:\.{_PART}){{0,2}}(?![\w-]|\.\w)"
_NUMBER = r"\d[\d,_]*"
_UNIT = r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|[smhdw])\b"
_UNIT_SECONDS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hr": 3600}
_UNIT_SECONDS |= {"hour": 3600, "d": 86400, "day": 86400, "w": 604800, "week": 604800}
_I = re.IGNORECASE


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, _I)


# ------------------------------------------------------------------------------------------- API
@dataclass(frozen=True)
class Vocabulary:
    """What the sentence may name: systems (by word), existing connections, lakehouse catalogs."""

    connector_types: dict[str, str]  # lower-case word or alias -> Airflow connection type
    connections: dict[str, list[str]]  # connection type -> existing Airflow connection ids
    catalogs: list[str]  # lakehouse catalogs known to Headrace


def default_vocabulary(
    catalogs: Iterable[str] = (), connections: Mapping[str, Iterable[str]] | None = None
) -> Vocabulary:
    """The built-in connector words, with the caller's catalogs and connections (by type)."""
    return Vocabulary(
        connector_types=dict(_ALIASES),
        connections={kind: list(ids) for kind, ids in (connections or {}).items()},
        catalogs=list(catalogs),
    )


@dataclass(frozen=True)
class Draft:
    definition: dict[str, Any]  # a WorkflowDefinition as JSON-ready data
    name: str
    description: str
    warnings: list[str] = field(default_factory=list)  # unplaced phrases and assumptions to review


class DraftError(ValueError):
    """Nothing usable in the description; the message says what a description needs."""


def draft(
    description: str, vocabulary: Vocabulary, *, project: str | None = None, workflow_id: str | None = None
) -> Draft:
    """A workflow definition drafted from ``description``; DraftError when no step can be made."""
    if not isinstance(description, str) or not description.strip():
        raise DraftError("The description is empty: describe a source, a target and optionally a schedule")
    parser = _Parser(description.strip(), vocabulary)
    parser.parse()
    return parser.build(project=project, workflow_id=workflow_id)


# ---------------------------------------------------------------------------------------- grammar
_QUOTED = _compile(r"`([^`]+)`|\"([^\"]+)\"|“([^”]+)”|(?<!\w)'([^']+)'(?!\w)")
_SQL_START = _compile(r"^\s*(?:select|with|insert|merge|create|delete|update)\b")
_CRON_LEAD = _compile(
    r"(?:\b(?:on|with|using)\s+)?(?:\ba\s+|\bthe\s+)?\b(?:cron|schedule)(?:\s+expression)?\s*:?\s*$"
)
_CLAUSE_START = _compile(r"\b(?:then|and)\b|;|\.(?=\s|$)")
_TRANSFORM_TARGET = _compile(rf"\b(?:into|to|as)\s+(?:the\s+)?(?:table\s+)?({_DOTTED})")
_TRANSFORM_FILLER = _compile(r"\b(?:then|and|with|using|sql|query|the|run|into|to|as)\b")

_URI = _compile(r"(?<![\w/])((?:s3a?|minio|gs|gcs|abfss?|wasbs?|file|https?|hdfs)://[^\s`'\"<>,;()]+)")
_LOCAL_PATH = _compile(r"(?<![\w/:.])((?:~|\.{1,2})?/[\w.*?\[\]-]+(?:/[\w.*?\[\]-]*)*)")
_FILE_NAME = _compile(
    r"(?<![\w/:.])([\w*?-][\w.*?-]*(?:/[\w.*?-]+)*\.(?:csv|tsv|json|jsonl|ndjson|parquet|avro|orc))\b"
)

_CHECK_WORD = r"\b(?:check|checks|verify|ensure|assert|validate|make\s+sure)\b"
_CHECK_START = _compile(rf"{_CHECK_WORD}(?:\s+that\b)?")
_CHECK_END = _compile(rf"\bthen\b|;|\.(?=\s|$)|{_CHECK_WORD}")
_NOT_COLUMN = (
    r"(?:is|are|be|was|must|should|not|null|nulls|non|never|unique|in|of|one|either|among|and|or|the|that"
    r"|a|an|than|at|least|most|more|less|fewer|row|rows|records?|has|have|no|within|fresh|fresher|newer"
    r"|older|values?|each|every|check|ensure|verify|then|with|column|columns|table|there|all|only"
    r"|empty|exactly|between|duplicates?|count|it|its|under|up)"
)
_COL = rf"(?<![\w.])(?!{_NOT_COLUMN}\b){_IDENT}\b(?!\.\w)"
_COLS = rf"(?:columns?\s+)?{_COL}(?:\s*,\s*(?:and\s+)?{_COL}|\s+and\s+{_COL})*"
_BE = r"(?:is|are|must\s+be|should\s+be)"
_NOT_NULL = [
    _compile(
        rf"(?P<cols>{_COLS})\s+{_BE}\s+(?:not\s+null|non[-\s]?null|never\s+null|not\s+nullable|present|required|mandatory)\b"
    ),
    _compile(rf"\bno\s+nulls?\s+(?:in|for|on)\s+(?P<cols>{_COLS})"),
    _compile(rf"(?P<cols>{_COLS})\s+(?:has|have|contains?)\s+no\s+nulls?\b"),
    _compile(rf"\bnot[-\s]null\s+(?:on|for)?\s*(?P<cols>{_COLS})"),
]
_UNIQUE = [
    _compile(rf"(?P<cols>{_COLS})\s+{_BE}\s+unique\b"),
    _compile(rf"(?P<cols>{_COLS})\s+(?:has|have|contains?)\s+no\s+duplicates?\b"),
    _compile(rf"\bno\s+duplicates?\s+(?:in|of|on|for)\s+(?P<cols>{_COLS})"),
    _compile(rf"\bunique(?:\s+values?\s+(?:in|of|for))?\s+(?P<cols>{_COLS})"),
]
_VALUE = r"(?:'[^']*'|\"[^\"]*\"|[\w.+-]+(?![\w.+-]))(?!\s+(?:is|are|must|should|has|have)\b)"
_ACCEPTED = _compile(
    rf"(?:column\s+)?(?P<col>{_COL})\s+(?:{_BE}\s+|(?:has|have)\s+values?\s+)?(?:in|one\s+of|among|either)\s*"
    rf"(?:\((?P<paren>[^)]*)\)|\[(?P<bracket>[^\]]*)\]|\{{(?P<brace>[^}}]*)\}}"
    rf"|(?P<bare>{_VALUE}(?:\s*,\s*(?:or\s+|and\s+)?{_VALUE}|\s+or\s+{_VALUE}|\s+and\s+{_VALUE})*))"
)
_FRESHNESS = _compile(
    rf"(?P<col>{_COL})\s+(?:(?:is|are|was|must\s+be|should\s+be)\s+)?"
    r"(?:fresh(?:er)?\s+(?:than|within)|newer\s+than|updated\s+within|(?:no|not)\s+older\s+than"
    r"|within(?:\s+the\s+(?:last|past))?|less\s+than|under|at\s+most)\s+"
    rf"(?P<n>\d+|an?|one)\s*(?P<unit>{_UNIT})(?:\s+(?:old|ago))?"
)
_ROWS = r"\s+(?:rows?|records?)\b"
_ROW_COUNT: list[tuple[re.Pattern[str], str]] = [
    (
        _compile(
            rf"\b(?:at\s+least|min(?:imum)?(?:\s+of)?|no\s+(?:fewer|less)\s+than)\s+(?P<n>{_NUMBER}){_ROWS}"
        ),
        "min",
    ),
    (
        _compile(
            rf"\b(?:at\s+most|max(?:imum)?(?:\s+of)?|no\s+more\s+than|up\s+to)\s+(?P<n>{_NUMBER}){_ROWS}"
        ),
        "max",
    ),
    (_compile(rf"\bbetween\s+(?P<lo>{_NUMBER})\s+and\s+(?P<hi>{_NUMBER}){_ROWS}"), "between"),
    (_compile(rf"\bexactly\s+(?P<n>{_NUMBER}){_ROWS}"), "exactly"),
    (_compile(rf"\b(?:more|greater)\s+than\s+(?P<n>{_NUMBER}){_ROWS}"), "above"),
    (_compile(rf"\b(?:fewer|less)\s+than\s+(?P<n>{_NUMBER}){_ROWS}"), "below"),
    (
        _compile(
            rf"\b(?:row\s*count|number\s+of\s+rows|rows|count)\s*(?P<op>>=|=>|<=|=<|==|>|<|=)\s*(?P<n>{_NUMBER})"
        ),
        "op",
    ),
    (_compile(r"\b(?:table|it|target|data)\s+(?:is\s+)?(?:not|non)[-\s]?empty\b"), "nonempty"),
    (_compile(r"\b(?:has|have|contains?)\s+(?:some\s+)?(?:rows|records)\b"), "nonempty"),
]

_FILE_WORD = _compile(
    r"\b(json\s*lines|jsonl|ndjson|csv|tsv|json|parquet|avro|orc)\b(?:\s+(?:files?|format|objects?))?"
)
_WRITE_MODE = _compile(
    rf"\b(?:(?P<overwrite>overwrite|overwriting|replace|replacing|full\s+refresh)|(?P<append>append|appending"
    rf"|incremental(?:ly)?)|(?P<merge>upsert|upserting|merge|merging)(?:\s+(?:on|by)\s+(?P<keys>{_COLS}))?)\b"
)

_SUBJECT_VERBS = (
    r"(?:load|ingest|sync|synchronize|copy|move|replicate|transfer|export|import|extract|pull|push|send"
    r"|stream|bring)"
)
_SUBJECT_NOT = rf"(?!(?:{_NOT_COLUMN}|data|files?|from|to|into|our|my|some|new)\b)"
_SUBJECT_PATTERNS = [
    _compile(
        rf"\b{_SUBJECT_VERBS}\s+(?:(?:the|all|our|my|every)\s+)*(?:table\s+)?(?<![\w.]){_SUBJECT_NOT}"
        rf"(?P<t>{_IDENT}(?:\.{_IDENT})?)(?![\w]|\.\w)(?:\s+(?:data|table|tables|records|rows|events))?"
    ),
    _compile(rf"(?<![\w.]){_SUBJECT_NOT}(?P<t>{_IDENT})\s+(?:data|table|records|rows)\b"),
    _compile(rf"\btable\s+{_SUBJECT_NOT}(?P<t>{_IDENT})\b(?!\.\w)"),
]

_MANUAL = _compile(r"\b(?:manual(?:ly)?|on\s+demand|on\s+request)\b")
_CRON_BARE = _compile(r"\bcron\s*(?:expression\s*)?:?\s*(?P<cron>(?:[\d*/,?A-Za-z-]+\s+){4}[\d*/,?A-Za-z-]+)")
_INTERVAL = _compile(rf"\b(?:every|each)\s+(?P<n>\d+)\s*(?P<unit>{_UNIT})")
_PERIOD = _compile(
    r"\b(?:(?:every|each|once\s+(?:a|an|per|every)|per)\s+(?P<noun>minute|hour|day|night|week|month|quarter|year)"
    r"|(?P<adverb>hourly|daily|nightly|weekly|monthly|quarterly|yearly|annually))\b"
)
_WEEKDAY = _compile(r"\b(?:every|on|each)\s+(?P<day>mon|tues|wednes|thurs|fri|satur|sun|week)days?\b")
_TIME = _compile(
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


@dataclass
class _Target:
    """A lakehouse table the sentence names, and where (to pick the table a check is about)."""

    pos: int
    name: str  # catalog.schema.table
    used: bool = False


@dataclass
class _System:
    pos: int
    kind: str  # Airflow connection type
    word: str  # as written
    table: str | None = None
    conn_id: str | None = None  # named in the sentence ("from PostgreSQL connection pg_prod")


class _Parser:
    """One sentence, the characters each rule has used, and what the rules found."""

    def __init__(self, text: str, vocabulary: Vocabulary) -> None:
        self.text = text
        self.work = text  # used characters become NUL, so later rules cannot match across them
        self.vocabulary = vocabulary
        self.warnings: list[str] = []
        self.transforms: list[tuple[int, str, str | None, str]] = []  # pos, sql, target, description
        self.cron: list[str] = []
        self.paths: list[str] = []
        self.path_types: list[FileType | None] = []
        self.unsupported_paths: list[str] = []
        self.file_words: list[tuple[FileType, bool]] = []  # (type, tab separated)
        self.checks: list[tuple[int, dict[str, Any]]] = []
        self.check_pos: int | None = None
        self.write_mode: dict[str, Any] = {}
        self.sources: list[_System] = []
        self.destinations: list[_System] = []
        self.targets: list[_Target] = []
        self.subject: str | None = None
        self.schedule: str | None = None

    # -------------------------------------------------------------------------------- bookkeeping
    def take(self, start: int, end: int) -> None:
        self.work = self.work[:start] + "\0" * (end - start) + self.work[end:]

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def parse(self) -> None:
        self._quoted()
        self._paths()
        self._check_clauses()
        self._file_words()
        self._write_mode()
        self._systems()
        self._targets()
        self._subject()
        self._schedule()
        for phrase in self._leftovers():
            self.warn(f'could not place "{phrase}"')

    # --------------------------------------------------------------------------------- 1. quoted
    def _quoted(self) -> None:
        """SQL in quotes makes a transform of its clause; a quoted cron expression is the schedule."""
        for match in _QUOTED.finditer(self.work):
            content = next(g for g in match.groups() if g is not None).strip()
            if _SQL_START.match(content):
                self._transform(match, content)
            elif len(content.split()) == 5 and _schedule_kind(content) == "cron":
                self.cron.append(" ".join(content.split()))
                lead = _CRON_LEAD.search(self.work, 0, match.start())
                self.take(lead.start() if lead else match.start(), match.end())

    def _transform(self, match: re.Match[str], sql: str) -> None:
        starts = [m.end() for m in _CLAUSE_START.finditer(self.work, 0, match.start())]
        start = starts[-1] if starts else 0
        end = match.end()
        target = None
        before = list(_TRANSFORM_TARGET.finditer(self.work, start, match.start()))
        rest = self.work[end:]
        after = _TRANSFORM_TARGET.match(self.work, end + len(rest) - len(rest.lstrip()))
        if after:
            target, end = after.group(1), after.end()
        elif before:
            target = before[-1].group(1)
        clause = self.work[start : match.start()] + " " + self.work[match.end() : end]
        words = _TRANSFORM_FILLER.sub(" ", _TRANSFORM_TARGET.sub(" ", clause))
        description = " ".join(re.sub(r"[^\w\s.-]", " ", words).split()).strip(" .")
        self.transforms.append((match.start(), sql, target, description))
        self.take(start, end)

    # ---------------------------------------------------------------------------------- 2. paths
    def _paths(self) -> None:
        """Object storage locations; only s3:// (Headrace's object store) can be ingested."""
        for match in _URI.finditer(self.work):
            uri = match.group(1).rstrip(".:")
            self.take(match.start(), match.start() + len(uri))
            if uri.lower().startswith("minio://"):
                converted = "s3://" + uri[len("minio://") :]
                self.warn(f'read "{uri}" as "{converted}" (Headrace\'s object store speaks S3)')
                uri = converted
            if uri.lower().startswith(("s3://", "s3a://")):
                self.paths.append(uri)
                self.path_types.append(type_from_name(uri.rstrip("/")))
            else:
                self.unsupported_paths.append(uri)
        for pattern in (_LOCAL_PATH, _FILE_NAME):  # local files, or object names without a bucket
            for match in pattern.finditer(self.work):
                path = match.group(1).rstrip(".:")
                self.take(match.start(), match.start() + len(path))
                self.unsupported_paths.append(path)
        for path in self.unsupported_paths:
            self.warn(
                f'cannot ingest from "{path}": Headrace ingests files from its object store; '
                "upload them to a bucket and name them as s3://bucket/prefix"
            )

    # ---------------------------------------------------------------------------------- 3. checks
    def _check_clauses(self) -> None:
        """Each ``check ...`` clause, up to the next ``then``, sentence end or check word."""
        for match in _CHECK_START.finditer(self.work):
            following = _CHECK_END.search(self.work, match.end())
            end = following.start() if following else len(self.work)
            found = len(self.checks)
            self._checks_in(match.end(), end)
            if len(self.checks) > found:
                self.take(match.start(), match.end())
                if self.check_pos is None:
                    self.check_pos = match.start()

    def _checks_in(self, start: int, end: int) -> None:
        for pattern in _NOT_NULL:
            for m in pattern.finditer(self.work, start, end):
                self._add_check(m, {"type": "not_null", "columns": _columns(m.group("cols"))})
        for pattern in _UNIQUE:
            for m in pattern.finditer(self.work, start, end):
                columns = _columns(m.group("cols"))  # "a and b are unique": each of them
                self._add_check(m, *({"type": "unique", "columns": [c]} for c in columns))
        for m in _ACCEPTED.finditer(self.work, start, end):
            raw = next(m.group(g) for g in ("paren", "bracket", "brace", "bare") if m.group(g) is not None)
            values = _values(raw)
            if values:
                self._add_check(m, {"type": "accepted_values", "column": m.group("col"), "values": values})
        for m in _FRESHNESS.finditer(self.work, start, end):
            count = m.group("n").lower()
            amount = int(count) if count.isdigit() else 1
            seconds = amount * _unit_seconds(m.group("unit"))
            if seconds > 0:
                check = {"type": "freshness", "column": m.group("col"), "max_age_seconds": seconds}
                self._add_check(m, check)
        self._row_count(start, end)

    def _add_check(self, match: re.Match[str], *checks: dict[str, Any]) -> None:
        if "\0" in self.work[match.start() : match.end()]:
            return  # an earlier pattern already used part of it
        self.take(match.start(), match.end())
        for check in checks:
            if check not in [c for _, c in self.checks]:
                self.checks.append((match.start(), check))

    def _row_count(self, start: int, end: int) -> None:
        """Every row count bound of the clause, as one row_count check."""
        low: int | None = None
        high: int | None = None
        pos: int | None = None
        for pattern, kind in _ROW_COUNT:
            for m in pattern.finditer(self.work, start, end):
                if "\0" in self.work[m.start() : m.end()]:
                    continue
                bounds = _bounds(kind, m)
                if bounds is None:
                    continue
                self.take(m.start(), m.end())
                pos = m.start() if pos is None else min(pos, m.start())
                if bounds[0] is not None:
                    low = bounds[0] if low is None else max(low, bounds[0])
                if bounds[1] is not None:
                    high = bounds[1] if high is None else min(high, bounds[1])
        if pos is None:
            return
        if low is not None and high is not None and low > high:
            self.warn(
                f"left out the row count check: at least {low} and at most {high} rows cannot both hold"
            )
            return
        check: dict[str, Any] = {"type": "row_count"}
        if low is not None:
            check["min"] = low
        if high is not None:
            check["max"] = high
        self.checks.append((pos, check))

    # ----------------------------------------------------------------------- 4. file type, write mode
    def _file_words(self) -> None:
        for match in _FILE_WORD.finditer(self.work):
            word = re.sub(r"\s+", "", match.group(1).lower())
            tab = word == "tsv"
            kind = (
                FileType.CSV
                if tab
                else FileType.JSON
                if word in ("jsonlines", "jsonl", "ndjson")
                else FileType(word)
            )
            self.file_words.append((kind, tab))
            self.take(match.start(), match.end())

    def _write_mode(self) -> None:
        for match in _WRITE_MODE.finditer(self.work):
            self.take(match.start(), match.end())
            if self.write_mode:
                self.warn(f'several write modes named; kept "{self.write_mode["write_mode"]}"')
            elif match.group("overwrite"):
                self.write_mode = {"write_mode": "overwrite"}
            elif match.group("append"):
                self.write_mode = {"write_mode": "append"}
            elif match.group("keys"):
                self.write_mode = {"write_mode": "merge", "merge_keys": _columns(match.group("keys"))}
            else:
                self.warn('"merge" needs its key columns ("merge on order_id"); kept write mode append')

    # --------------------------------------------------------------------------------- 5. systems
    def _systems(self) -> None:
        """Databases and storage services by name: ``from X`` is the source, ``to/into X`` the target."""
        words = sorted(self.vocabulary.connector_types, key=lambda w: (-len(w), w))
        if not words:
            return
        alias = "|".join(re.escape(w.lower()).replace(r"\ ", r"\s+") for w in words)
        system = rf"(?<![\w.])(?P<word>{alias})(?![\w]|\.\w)"
        role = _compile(
            rf"\b(?P<role>from|to|into)\s+(?:(?:the|an?|our|my)\s+)?{system}"
            rf"(?:\s+(?:database|db|warehouse|server|instance|cluster|bucket))?"
            rf"(?:\s+(?:connection|conn)(?:\s+id)?\s+(?P<conn>{_CONN_ID}))?"
            rf"(?:\s+table\s+(?P<table>{_TABLE})|\s+(?P<dotted>{_DOTTED}))?"
        )
        for m in role.finditer(self.work):
            found = self._system(m.start(), m.group("word"), m.group("table") or m.group("dotted"))
            found.conn_id = m.group("conn")
            (self.sources if m.group("role").lower() == "from" else self.destinations).append(found)
            self.take(m.start(), m.end())
        for m in _compile(system).finditer(self.work):  # named without from/to: fill the missing role
            found = self._system(m.start(), m.group("word"), None)
            (self.destinations if self.sources else self.sources).append(found)
            self.take(m.start(), m.end())
        self.sources.sort(key=lambda s: s.pos)
        self.destinations.sort(key=lambda s: s.pos)

    def _system(self, pos: int, word: str, table: str | None) -> _System:
        kinds = {" ".join(w.lower().split()): kind for w, kind in self.vocabulary.connector_types.items()}
        return _System(pos, kinds[" ".join(word.lower().split())], word, table)

    # --------------------------------------------------------------------------------- 6. targets
    def _targets(self) -> None:
        """Lakehouse tables: after into/to, after ``table``, or any dotted name in a known catalog."""
        patterns = [
            rf"\b(?:into|to)\s+(?:the\s+)?(?:(?:lakehouse|iceberg|catalog)\s+)?(?:table\s+)?(?P<t>{_DOTTED})",
            rf"\btable\s+(?P<t>{_DOTTED})",
        ]
        if self.vocabulary.catalogs:
            known = "|".join(re.escape(c) for c in self.vocabulary.catalogs)
            patterns.append(rf"(?<![\w.-])(?P<t>(?:{known})\.{_PART}\.{_PART})(?![\w-]|\.\w)")
        for pattern in patterns:
            for m in _compile(pattern).finditer(self.work):
                self.take(m.start(), m.end())
                name = self._table_name(m.group("t"))
                if name:
                    self.targets.append(_Target(m.start(), name))
        for pos, _sql, target, _description in self.transforms:
            if target and (name := self._table_name(target)):
                self.targets.append(_Target(pos, name, used=True))
        self.targets.sort(key=lambda t: t.pos)

    def _table_name(self, dotted: str) -> str | None:
        """``catalog.schema.table``; a two-part name gets the only (or first) known catalog."""
        parts = dotted.split(".")
        catalogs = self.vocabulary.catalogs
        if len(parts) == 3:
            if parts[0] not in catalogs:
                known = ", ".join(catalogs) if catalogs else "none"
                self.warn(
                    f'catalog "{parts[0]}" of {dotted} is not a known lakehouse catalog (known: {known})'
                )
            return dotted
        if not catalogs:
            self.warn(f'no lakehouse catalog is known for "{dotted}": write it as catalog.schema.table')
            return None
        if len(catalogs) == 1:
            self.warn(f'assumed catalog "{catalogs[0]}" for "{dotted}" (the only known catalog)')
        else:
            self.warn(
                f'assumed catalog "{catalogs[0]}" for "{dotted}" (known: {", ".join(catalogs)}); '
                "write catalog.schema.table to choose"
            )
        return f"{catalogs[0]}.{dotted}"

    # --------------------------------------------------------------------------------- 7. subject
    def _subject(self) -> None:
        for pattern in _SUBJECT_PATTERNS:
            m = pattern.search(self.work)
            if m:
                self.subject = m.group("t")
                self.take(m.start(), m.end())
                return

    # -------------------------------------------------------------------------------- 8. schedule
    def _schedule(self) -> None:
        found: list[tuple[int, str]] = []  # (pos, schedule) of every frequency named
        for m in _CRON_BARE.finditer(self.work):
            if _schedule_kind(m.group("cron")) == "cron":
                self.cron.append(" ".join(m.group("cron").split()))
                self.take(m.start(), m.end())
        for m in _INTERVAL.finditer(self.work):
            count, unit = int(m.group("n")), _unit_name(m.group("unit"))
            text = f"every {unit}" if count == 1 else f"every {count} {unit}s"
            self.take(m.start(), m.end())
            if _schedule_kind(text) is None:
                self.warn(f'"{m.group(0)}" is not a schedule Headrace accepts')
            else:
                found.append((m.start(), text))
        for m in _PERIOD.finditer(self.work):
            word = (m.group("noun") or m.group("adverb")).lower()
            found.append((m.start(), "every minute" if word == "minute" else _PERIOD_PRESET[word]))
            self.take(m.start(), m.end())
        manual = list(_MANUAL.finditer(self.work))
        for m in manual:
            self.take(m.start(), m.end())
        weekday = next(_WEEKDAY.finditer(self.work), None)
        if weekday:
            self.take(weekday.start(), weekday.end())
        time = next(_TIME.finditer(self.work), None)
        at = _time_of_day(time) if time else None
        if time and at:
            self.take(time.start(), time.end())
        found.sort()
        self.schedule = self._combine([s for _, s in found], weekday, at, bool(manual))

    def _combine(
        self, named: list[str], weekday: re.Match[str] | None, at: tuple[int, int] | None, manual: bool
    ) -> str | None:
        """One schedule from everything named; conflicts keep the first and say so."""
        if self.cron:
            for other in [*self.cron[1:], *named]:
                self.warn(f'used the cron schedule "{self.cron[0]}"; ignored "{other}"')
            return self.cron[0]
        base = named[0] if named else None
        for other in named[1:]:
            if other != base:
                self.warn(f'several schedules named; used "{base}", ignored "{other}"')
        if manual and (base or weekday or at):
            self.warn("the description says both manual and scheduled; kept the schedule")
        day = _WEEKDAYS[weekday.group("day").lower()] if weekday else None
        if at is None and day is None:
            return base
        hour, minute = at or (0, 0)
        if base is None:
            if day is None:
                self.warn(f"assumed a daily run at {hour:02d}:{minute:02d} (no frequency named)")
            base = "@weekly" if day is not None else "@daily"
        if base == "@daily" and day is not None:
            base = "@weekly"
        if base not in _AT_TIME_CRON:
            self.warn(f'ignored the time of day or weekday: it does not fit "{base}"')
            return base
        if day is not None and base != "@weekly":
            self.warn(f'ignored the weekday: it does not fit "{base}"')
        return _AT_TIME_CRON[base].format(
            m=minute, h=hour, d=day if day is not None else "*" if base == "@daily" else "0"
        )

    # ------------------------------------------------------------------------------- leftovers
    def _leftovers(self) -> list[str]:
        """Runs of unused words between used text and punctuation, stop words trimmed."""
        runs: list[list[re.Match[str]]] = []
        previous_end = -1
        for token in re.finditer(r"[^\s\0,;:!?()\[\]{}\"`“”]+", self.work):
            joined = previous_end >= 0 and not self.work[previous_end : token.start()].strip()
            if joined and runs and not runs[-1][-1].group().endswith("."):
                runs[-1].append(token)
            else:
                runs.append([token])
            previous_end = token.end()
        phrases = []
        for run in runs:
            words = [t for t in run if _clean(t.group()).lower() not in _STOP and _clean(t.group())]
            if words:
                first = run.index(words[0])
                last = run.index(words[-1])
                phrase = self.text[run[first].start() : run[last].end()].strip(".'-")
                phrases.append(phrase)
        return phrases

    # ----------------------------------------------------------------------------------- build
    def build(self, *, project: str | None, workflow_id: str | None) -> Draft:
        builder = _Builder(self)
        steps = builder.steps()
        if not steps:
            reasons = "; ".join([*self.warnings, *builder.warnings])
            raise DraftError(
                f'Could not draft a workflow from "{self.text}": expected a source (files as '
                "s3://bucket/prefix/*.csv, or 'from <database>') and a target ('into catalog.schema.table' "
                "or 'to <database>')" + (f". Problems: {reasons}" if reasons else "")
            )
        name = builder.name()
        workflow = workflow_id or name
        if not re.match(WORKFLOW_ID, workflow):
            raise DraftError(f"'{workflow}' is not a valid workflow id: use letters, digits, _ . and -")
        definition: dict[str, Any] = {"id": workflow, "description": builder.summary()}
        if project:
            definition["project"] = project
        definition |= {"tags": ["generated"], "schedule": self.schedule, "paused": True}
        if builder.params:
            definition["params"] = builder.params
        definition["steps"] = steps
        return Draft(
            definition, name, definition["description"], _ordered([*self.warnings, *builder.warnings])
        )


class _Builder:
    """Steps from what the parser found; what cannot become a step becomes a warning."""

    def __init__(self, found: _Parser) -> None:
        self.found = found
        self.vocabulary = found.vocabulary
        self.params: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self.kind = ""  # ingest, transfer, transform or check
        self.source_label = ""
        self.target_label = ""
        self.table_label = ""
        self.summary_text = ""
        self.file_type = FileType.CSV
        self.target_name = ""

    def warn(self, message: str) -> None:
        if message not in self.warnings and message not in self.found.warnings:
            self.warnings.append(message)

    def steps(self) -> list[dict[str, Any]]:
        found = self.found
        steps: list[dict[str, Any]] = []
        producers: dict[str, str] = {}  # table -> id of the step that writes it
        source = _first(s for s in found.sources if s.kind not in _STORAGE_TYPES)
        destination = _first(s for s in found.destinations if s.kind not in _STORAGE_TYPES)
        target = _first(t for t in found.targets if not t.used)
        storage = [s for s in [*found.sources, *found.destinations] if s.kind in _STORAGE_TYPES]
        if storage and not found.paths:
            self.warn(f"name the files in {storage[0].word} as s3://bucket/prefix/*.csv to ingest them")
        if found.paths and target:
            step = self._ingest(target)
            if step:
                steps.append(step)
                producers[target.name] = step["id"]
                target.used = True
            if destination:
                self.warn(
                    f"ignored {_display(destination)}: files are ingested into the lakehouse table only"
                )
        elif found.paths:
            if destination:
                self.warn(
                    f"Headrace cannot load files into {_display(destination)}: "
                    "ingest them into a lakehouse table instead"
                )
            else:
                self.warn("the files have no target: add 'into catalog.schema.table'")
        elif source and destination:
            steps.append(self._transfer(source, destination))
        elif source and target:
            self.warn(
                f"Headrace cannot load from {_display(source)} into a lakehouse table: "
                "export the data to files in object storage and ingest them"
            )
        elif source:
            self.warn(f"{_display(source)} has no destination: add 'to <database>'")
        elif destination and not found.transforms:
            self.warn(f"{_display(destination)} has no source: add 'from <database>'")
        for step in self._transforms(producers, steps):
            steps.append(step)
        if found.checks:
            check = self._check(producers)
            if check:
                steps.append(check)
        return steps

    # ----------------------------------------------------------------------------- step kinds
    def _ingest(self, target: _Target) -> dict[str, Any] | None:
        found = self.found
        kind, tab = self._file_type()
        if kind is None:
            return None
        self.file_type, self.target_name = kind, target.name
        catalog, schema, table = target.name.split(".")
        source: dict[str, Any] = {
            "file_paths": found.paths[0] if len(found.paths) == 1 else list(found.paths)
        }
        source["file_type"] = kind.value
        if tab:
            source["file_format_properties"] = {"field_delimiter": "\t"}
        self.kind, self.source_label, self.target_label = "ingest", "s3", catalog
        self.table_label = table
        return {
            "id": _step_id("ingest", table),
            "kind": "ingest",
            "source": source,
            "target": {"catalog": catalog, "schema": schema, "table": table, **found.write_mode},
        }

    def _file_type(self) -> tuple[FileType | None, bool]:
        """The files' type: from the extensions, else from a word (csv, json ...); None warns."""
        found = self.found
        by_name = list(dict.fromkeys(t for t in found.path_types if t is not None))
        by_word = list(dict.fromkeys(found.file_words))
        if len(by_name) > 1:
            self.warn(
                f"the files have several types ({', '.join(t.value for t in by_name)}): "
                "one step reads one type"
            )
        if by_name:
            if by_word and by_word[0][0] is not by_name[0]:
                self.warn(
                    f'used file type "{by_name[0].value}" from the file name, not "{by_word[0][0].value}"'
                )
            tab = bool(by_word) and by_word[0] == (by_name[0], True)
            return by_name[0], tab
        if by_word:
            return by_word[0]
        self.warn(
            "the file type is unknown: name it (csv, json, parquet, avro or orc) or use a file extension"
        )
        return None, False

    def _transfer(self, source: _System, destination: _System) -> dict[str, Any]:
        """A GenericTransfer between two databases, reading the subject table.

        The SQL is built by sqlglot in each database's dialect. Without a table in the sentence, the
        table is the run parameter ``table`` of type identifier, quoted in by the identifier filter.
        """
        subject = source.table or self.found.subject
        reads, writes = _DIALECTS.get(source.kind), _DIALECTS.get(destination.kind)
        if subject:
            sql = select_all(subject, reads)
            destination_table = table(destination.table or subject.split(".")[-1]).sql(dialect=writes)
        else:
            self.params["table"] = {
                "type": "identifier",
                "description": "Table to copy: a name, or schema.name.",
            }
            sql = "SELECT * FROM " + _quoted_param("table", reads)
            destination_table = (
                table(destination.table).sql(dialect=writes)
                if destination.table
                else _quoted_param("table", writes)
            )
            self.warn('no table named ("Load sales data ..."): set the run parameter "table"')
        arguments = {
            "sql": sql,
            "destination_table": destination_table,
            "source_conn_id": self._conn_id("source_conn_id", source),
            "destination_conn_id": self._conn_id("destination_conn_id", destination),
        }
        if subject:
            self.warn(
                f'GenericTransfer inserts into an existing table: create "{arguments["destination_table"]}" '
                f"in {_display(destination)} first"
            )
        self.kind, self.source_label, self.target_label = (
            "transfer",
            _label(source.kind),
            _label(destination.kind),
        )
        self.table_label = (subject or "").split(".")[-1]
        self.summary_text = f"{_display(source)} to {_display(destination)} sync"
        return {
            "id": _step_id("transfer", self.table_label or "table"),
            "kind": "operator",
            "operator": GENERIC_TRANSFER,
            "arguments": arguments,
        }

    def _conn_id(self, argument: str, system: _System) -> str:
        """The connection the sentence names, else the only one of the type, else ``<type>_default``.

        Never a run parameter: the connection is fixed in the definition, so whoever triggers a run
        cannot point it at another database.
        """
        ids = self.vocabulary.connections.get(system.kind, [])
        what = f"{_display(system)} ({system.kind})"
        if system.conn_id:
            if system.conn_id not in ids:
                self.warn(f'{argument}: no {what} connection "{system.conn_id}" exists yet: create it')
            return system.conn_id
        if len(ids) == 1:
            return ids[0]
        default = f"{system.kind}_default"
        role = "from" if argument.startswith("source") else "to"
        choose = (
            f'name one in the description ("{role} {_display(system)} connection <id>") '
            f'or when deploying ("connections": {{"{argument}": "<id>"}})'
        )
        if ids:
            exists = "" if default in ids else ", which does not exist"
            self.warn(
                f"{argument}: several {what} connections ({', '.join(sorted(ids))}); "
                f'used "{default}"{exists}: {choose}'
            )
        else:
            self.warn(
                f"{argument}: no Airflow connection of type {system.kind} exists; used "
                f'"{default}" (Airflow\'s default name): create it, or {choose}'
            )
        return default

    def _transforms(self, producers: dict[str, str], steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        made = []
        for _pos, sql, target, description in self.found.transforms:
            name = target and self.found._table_name(target)
            if not name:
                self.warn("left out the SQL transform: name its table ('into catalog.schema.table')")
                continue
            table = name.split(".")[-1]
            step: dict[str, Any] = {"id": _step_id("transform", table), "kind": "transform"}
            if description:
                step["description"] = description
            step |= {"sql": sql, "target": name}
            upstream = [s["id"] for s in steps + made if s["kind"] != "check"]
            if upstream:
                step["depends_on"] = [upstream[-1]]
            producers[name] = step["id"]
            made.append(step)
            if not self.kind:
                self.kind, self.target_label, self.table_label = "transform", name.split(".")[0], table
        return made

    def _check(self, producers: dict[str, str]) -> dict[str, Any] | None:
        """One check step on the table the checks follow (else the first table named)."""
        found = self.found
        tables = [t for t in found.targets if t.used or not producers] or found.targets
        before = [t for t in tables if found.check_pos is None or t.pos < found.check_pos]
        chosen = (before[-1] if before else tables[0]) if tables else None
        if chosen is None:
            self.warn("left out the checks: they run on lakehouse tables, and no lakehouse table is named")
            return None
        checks = [c for _, c in sorted(found.checks, key=lambda pc: pc[0])]
        table = chosen.name.split(".")[-1]
        step: dict[str, Any] = {"id": _step_id("check", table), "kind": "check", "table": chosen.name}
        step["checks"] = checks
        if chosen.name in producers:
            step["depends_on"] = [producers[chosen.name]]
        if not self.kind:
            self.kind, self.target_label, self.table_label = "check", chosen.name.split(".")[0], table
        return step

    # ----------------------------------------------------------------------------- naming
    def name(self) -> str:
        subject = (self.found.subject or self.table_label or "").split(".")[-1]
        if self.kind in ("ingest", "transfer"):
            parts = [subject, self.source_label, "to", self.target_label]
        else:
            parts = [self.kind, subject]
        name = re.sub(r"[^a-z0-9]+", "_", "_".join(p for p in parts if p).lower()).strip("_")
        return (name or "generated_workflow")[:200]

    def summary(self) -> str:
        found = self.found
        if self.kind == "transfer":
            text = self.summary_text
        elif self.kind == "ingest":
            text = f"{self.file_type.value.upper()} files from S3 into {self.target_name}"
        elif self.kind == "transform":
            text = f"SQL transform into {self.table_label}"
        else:
            text = f"Data-quality checks on {self.table_label}"
        if found.checks and self.kind != "check":
            text += ", with checks"
        return text


# ----------------------------------------------------------------------------------------- helpers
def _first(items: Iterable[Any]) -> Any:
    return next(iter(items), None)


def _ordered(warnings: list[str]) -> list[str]:
    """Assumptions first, then the phrases nobody placed (in sentence order)."""
    unplaced = [w for w in warnings if w.startswith("could not place")]
    return [w for w in warnings if w not in unplaced] + unplaced


def _quoted_param(name: str, dialect: str | None) -> str:
    """The run parameter ``name`` (of type identifier) as a quoted name in ``dialect``."""
    call = f"{FILTER}({dialect!r})" if dialect else FILTER
    return "{{ params." + name + " | " + call + " }}"


def _display(system: _System) -> str:
    return _DISPLAY.get(system.kind, system.word)


def _label(kind: str) -> str:
    return _LABEL.get(kind, kind)


def _step_id(prefix: str, table: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", f"{prefix}_{table}")[:100]


def _clean(token: str) -> str:
    return token.strip(".'\u2013\u2014-&*+/")


def _columns(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(_COL, re.sub(r"^\s*columns?\s+", "", text, flags=_I), _I)))


def _values(text: str) -> list[Any]:
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


def _bounds(kind: str, m: re.Match[str]) -> tuple[int | None, int | None] | None:
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


def _unit_name(unit: str) -> str:
    """``mins`` -> ``minute``: the unit words parse_schedule accepts."""
    seconds = _unit_seconds(unit)
    return {1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"}[seconds]


def _unit_seconds(unit: str) -> int:
    word = unit.lower()
    return _UNIT_SECONDS.get(word) or _UNIT_SECONDS[word.rstrip("s")]


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


def _schedule_kind(text: str) -> str | None:
    try:
        return parse_schedule(text).kind
    except ScheduleError:
        return None
