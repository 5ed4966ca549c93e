"""The definition builder: steps, name and summary of a workflow from what the parser found.

Nothing is invented: hosts, connection ids and SQL come only from the sentence or from the
vocabulary. A missing table becomes a run parameter of type ``identifier``; a missing connection id
never does (it is Airflow's ``<type>_default``, with a warning). What cannot become a step becomes a
warning, and a draft without any step is a :class:`DraftError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from headrace.storage.filetypes import FileType
from headrace.workflows.drafting.parser import Parser, System, Target
from headrace.workflows.drafting.vocabulary import DIALECTS, DISPLAY, LABEL, STORAGE_TYPES
from headrace.workflows.identifiers import FILTER, select_all, table
from headrace.workflows.model import WORKFLOW_ID

GENERIC_TRANSFER = "airflow.providers.common.sql.operators.generic_transfer.GenericTransfer"


@dataclass(frozen=True)
class Draft:
    """A drafted definition to review before deploying: its name, summary and what to check first."""

    definition: dict[str, Any]  # a WorkflowDefinition as JSON-ready data
    name: str
    description: str
    warnings: list[str] = field(default_factory=list)  # unplaced phrases and assumptions to review


class DraftError(ValueError):
    """Nothing usable in the description; the message says what a description needs."""


def build(found: Parser, *, project: str | None, workflow_id: str | None) -> Draft:
    """The definition of what ``found`` holds; DraftError when no step can be made."""
    builder = Builder(found)
    steps = builder.steps()
    if not steps:
        reasons = "; ".join([*found.warnings, *builder.warnings])
        raise DraftError(
            f'Could not draft a workflow from "{found.text}": expected a source (files as '
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
    definition |= {"tags": ["generated"], "schedule": found.schedule, "paused": True}
    if builder.params:
        definition["params"] = builder.params
    definition["steps"] = steps
    return Draft(definition, name, definition["description"], _ordered([*found.warnings, *builder.warnings]))


class Builder:
    """Steps from what the parser found; what cannot become a step becomes a warning."""

    def __init__(self, found: Parser) -> None:
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
        source = _first(s for s in found.sources if s.kind not in STORAGE_TYPES)
        destination = _first(s for s in found.destinations if s.kind not in STORAGE_TYPES)
        target = _first(t for t in found.targets if not t.used)
        storage = [s for s in [*found.sources, *found.destinations] if s.kind in STORAGE_TYPES]
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
    def _ingest(self, target: Target) -> dict[str, Any] | None:
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

    def _transfer(self, source: System, destination: System) -> dict[str, Any]:
        """A GenericTransfer between two databases, reading the subject table.

        The SQL is built by sqlglot in each database's dialect. Without a table in the sentence, the
        table is the run parameter ``table`` of type identifier, quoted in by the identifier filter.
        """
        subject = source.table or self.found.subject
        reads, writes = DIALECTS.get(source.kind), DIALECTS.get(destination.kind)
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

    def _conn_id(self, argument: str, system: System) -> str:
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
            name = target and self.found.table_name(target)
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


def _display(system: System) -> str:
    return DISPLAY.get(system.kind, system.word)


def _label(kind: str) -> str:
    return LABEL.get(kind, kind)


def _step_id(prefix: str, table: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", f"{prefix}_{table}")[:100]
