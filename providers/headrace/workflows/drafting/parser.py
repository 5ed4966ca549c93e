"""The parser: one sentence, the characters each rule has used, and what the rules found.

Rules run in a fixed order (see :mod:`headrace.workflows.drafting`); each marks the characters it
used, so a later rule cannot match across them, and whatever meaningful text no rule used comes back
as a ``could not place "..."`` warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from headrace.storage.filetypes import FileType, type_from_name
from headrace.workflows.drafting.grammar import (
    ACCEPTED,
    CHECK_END,
    CHECK_START,
    CLAUSE_START,
    CONN_ID,
    CRON_LEAD,
    DOTTED,
    FILE_NAME,
    FILE_WORD,
    FRESHNESS,
    LOCAL_PATH,
    NOT_NULL,
    PART,
    QUOTED,
    ROW_COUNT,
    SQL_START,
    STOP,
    SUBJECT_PATTERNS,
    TABLE,
    TRANSFORM_FILLER,
    TRANSFORM_TARGET,
    UNIQUE,
    URI,
    WRITE_MODE,
    clean_token,
    column_list,
    compile_pattern,
    row_bounds,
    unit_seconds,
    value_list,
)
from headrace.workflows.drafting.schedule_words import read_schedule, schedule_kind
from headrace.workflows.drafting.vocabulary import Vocabulary


@dataclass
class Target:
    """A lakehouse table the sentence names, and where (to pick the table a check is about)."""

    pos: int
    name: str  # catalog.schema.table
    used: bool = False


@dataclass
class System:
    """A database or storage service the sentence names, in the role it has (source or destination)."""

    pos: int
    kind: str  # Airflow connection type
    word: str  # as written
    table: str | None = None
    conn_id: str | None = None  # named in the sentence ("from PostgreSQL connection pg_prod")


class Parser:
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
        self.sources: list[System] = []
        self.destinations: list[System] = []
        self.targets: list[Target] = []
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
        self.schedule = read_schedule(self)
        for phrase in self._leftovers():
            self.warn(f'could not place "{phrase}"')

    # --------------------------------------------------------------------------------- 1. quoted
    def _quoted(self) -> None:
        """SQL in quotes makes a transform of its clause; a quoted cron expression is the schedule."""
        for match in QUOTED.finditer(self.work):
            content = next(g for g in match.groups() if g is not None).strip()
            if SQL_START.match(content):
                self._transform(match, content)
            elif len(content.split()) == 5 and schedule_kind(content) == "cron":
                self.cron.append(" ".join(content.split()))
                lead = CRON_LEAD.search(self.work, 0, match.start())
                self.take(lead.start() if lead else match.start(), match.end())

    def _transform(self, match: re.Match[str], sql: str) -> None:
        starts = [m.end() for m in CLAUSE_START.finditer(self.work, 0, match.start())]
        start = starts[-1] if starts else 0
        end = match.end()
        target = None
        before = list(TRANSFORM_TARGET.finditer(self.work, start, match.start()))
        rest = self.work[end:]
        after = TRANSFORM_TARGET.match(self.work, end + len(rest) - len(rest.lstrip()))
        if after:
            target, end = after.group(1), after.end()
        elif before:
            target = before[-1].group(1)
        clause = self.work[start : match.start()] + " " + self.work[match.end() : end]
        words = TRANSFORM_FILLER.sub(" ", TRANSFORM_TARGET.sub(" ", clause))
        description = " ".join(re.sub(r"[^\w\s.-]", " ", words).split()).strip(" .")
        self.transforms.append((match.start(), sql, target, description))
        self.take(start, end)

    # ---------------------------------------------------------------------------------- 2. paths
    def _paths(self) -> None:
        """Object storage locations; only s3:// (Headrace's object store) can be ingested."""
        for match in URI.finditer(self.work):
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
        for pattern in (LOCAL_PATH, FILE_NAME):  # local files, or object names without a bucket
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
        for match in CHECK_START.finditer(self.work):
            following = CHECK_END.search(self.work, match.end())
            end = following.start() if following else len(self.work)
            found = len(self.checks)
            self._checks_in(match.end(), end)
            if len(self.checks) > found:
                self.take(match.start(), match.end())
                if self.check_pos is None:
                    self.check_pos = match.start()

    def _checks_in(self, start: int, end: int) -> None:
        for pattern in NOT_NULL:
            for m in pattern.finditer(self.work, start, end):
                self._add_check(m, {"type": "not_null", "columns": column_list(m.group("cols"))})
        for pattern in UNIQUE:
            for m in pattern.finditer(self.work, start, end):
                columns = column_list(m.group("cols"))  # "a and b are unique": each of them
                self._add_check(m, *({"type": "unique", "columns": [c]} for c in columns))
        for m in ACCEPTED.finditer(self.work, start, end):
            raw = next(m.group(g) for g in ("paren", "bracket", "brace", "bare") if m.group(g) is not None)
            values = value_list(raw)
            if values:
                self._add_check(m, {"type": "accepted_values", "column": m.group("col"), "values": values})
        for m in FRESHNESS.finditer(self.work, start, end):
            count = m.group("n").lower()
            amount = int(count) if count.isdigit() else 1
            seconds = amount * unit_seconds(m.group("unit"))
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
        for pattern, kind in ROW_COUNT:
            for m in pattern.finditer(self.work, start, end):
                if "\0" in self.work[m.start() : m.end()]:
                    continue
                bounds = row_bounds(kind, m)
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
        for match in FILE_WORD.finditer(self.work):
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
        for match in WRITE_MODE.finditer(self.work):
            self.take(match.start(), match.end())
            if self.write_mode:
                self.warn(f'several write modes named; kept "{self.write_mode["write_mode"]}"')
            elif match.group("overwrite"):
                self.write_mode = {"write_mode": "overwrite"}
            elif match.group("append"):
                self.write_mode = {"write_mode": "append"}
            elif match.group("keys"):
                self.write_mode = {"write_mode": "merge", "merge_keys": column_list(match.group("keys"))}
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
        role = compile_pattern(
            rf"\b(?P<role>from|to|into)\s+(?:(?:the|an?|our|my)\s+)?{system}"
            rf"(?:\s+(?:database|db|warehouse|server|instance|cluster|bucket))?"
            rf"(?:\s+(?:connection|conn)(?:\s+id)?\s+(?P<conn>{CONN_ID}))?"
            rf"(?:\s+table\s+(?P<table>{TABLE})|\s+(?P<dotted>{DOTTED}))?"
        )
        for m in role.finditer(self.work):
            found = self._system(m.start(), m.group("word"), m.group("table") or m.group("dotted"))
            found.conn_id = m.group("conn")
            (self.sources if m.group("role").lower() == "from" else self.destinations).append(found)
            self.take(m.start(), m.end())
        for m in compile_pattern(system).finditer(self.work):  # named without from/to: fill the missing role
            found = self._system(m.start(), m.group("word"), None)
            (self.destinations if self.sources else self.sources).append(found)
            self.take(m.start(), m.end())
        self.sources.sort(key=lambda s: s.pos)
        self.destinations.sort(key=lambda s: s.pos)

    def _system(self, pos: int, word: str, table: str | None) -> System:
        kinds = {" ".join(w.lower().split()): kind for w, kind in self.vocabulary.connector_types.items()}
        return System(pos, kinds[" ".join(word.lower().split())], word, table)

    # --------------------------------------------------------------------------------- 6. targets
    def _targets(self) -> None:
        """Lakehouse tables: after into/to, after ``table``, or any dotted name in a known catalog."""
        patterns = [
            rf"\b(?:into|to)\s+(?:the\s+)?(?:(?:lakehouse|iceberg|catalog)\s+)?(?:table\s+)?(?P<t>{DOTTED})",
            rf"\btable\s+(?P<t>{DOTTED})",
        ]
        if self.vocabulary.catalogs:
            known = "|".join(re.escape(c) for c in self.vocabulary.catalogs)
            patterns.append(rf"(?<![\w.-])(?P<t>(?:{known})\.{PART}\.{PART})(?![\w-]|\.\w)")
        for pattern in patterns:
            for m in compile_pattern(pattern).finditer(self.work):
                self.take(m.start(), m.end())
                name = self.table_name(m.group("t"))
                if name:
                    self.targets.append(Target(m.start(), name))
        for pos, _sql, target, _description in self.transforms:
            if target and (name := self.table_name(target)):
                self.targets.append(Target(pos, name, used=True))
        self.targets.sort(key=lambda t: t.pos)

    def table_name(self, dotted: str) -> str | None:
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
        for pattern in SUBJECT_PATTERNS:
            m = pattern.search(self.work)
            if m:
                self.subject = m.group("t")
                self.take(m.start(), m.end())
                return

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
            words = [t for t in run if clean_token(t.group()).lower() not in STOP and clean_token(t.group())]
            if words:
                first = run.index(words[0])
                last = run.index(words[-1])
                phrase = self.text[run[first].start() : run[last].end()].strip(".'-")
                phrases.append(phrase)
        return phrases
