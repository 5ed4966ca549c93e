"""Read-only SQL over lakehouse tables, executed by DuckDB on Arrow data.

The SQL is parsed with sqlglot (dialect ``duckdb``) and refused unless it is exactly one query that reads
nothing but ``catalog.schema.table`` names (no DDL/DML, no table functions, no file or URL reads). Each
table is resolved to Arrow data by the caller's resolver, registered in a fresh in-memory DuckDB under a
generated name, and the query is rewritten to point at those names. DuckDB is locked down (no external
access, no extension auto-install/auto-load, no Python replacement scans, configuration locked) before the
user's query runs, so even a query that slipped past the parse checks cannot touch files or the network.
:func:`run_query` (the Query API) runs DuckDB in a child process held to :class:`QueryLimits` and killed at
its timeout (see :mod:`headrace.lakehouse.sandbox` for why DuckDB's own limits are not enough).

Plain Python: no Flask, no Airflow.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Tokenizer, TokenType

from headrace.lakehouse import sandbox
from headrace.lakehouse.names import InvalidName, validate_name
from headrace.lakehouse.sandbox import QueryLimits

__all__ = [
    "Column",
    "PreparedQuery",
    "QueryError",
    "QueryLimits",
    "QueryResult",
    "TableNotFound",
    "TableRef",
    "parse_read_only",
    "parse_table_name",
    "prepare_query",
    "query_arrow",
    "run_query",
    "table_references",
]

DIALECT = "duckdb"

ArrowData = pa.Table | ds.Dataset | pa.RecordBatchReader
Resolver = Callable[["TableRef"], ArrowData]


# ---------------------------------------------------------------------------------------------- model
@dataclass(frozen=True)
class TableRef:
    catalog: str
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"


class QueryError(ValueError):
    """A query the caller got wrong: a stable ``code``, the request ``field`` at fault and a ``message``."""

    code: str = "QUERY_FAILED"

    def __init__(self, message: str, *, code: str | None = None, field: str = "sql") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, field={self.field!r}, message={self.message!r})"


class TableNotFound(QueryError):
    """Raised by resolvers for a ``catalog.schema.table`` that does not exist."""

    code = "TABLE_NOT_FOUND"


_PARTS = ("catalog", "schema", "table")


def parse_table_name(name: str, *, default_catalog: str | None = None, field: str = "table") -> TableRef:
    """``catalog.schema.table``, or ``schema.table`` in ``default_catalog``, with every part checked.

    For names given outside SQL (a transform's target, a checked table); ``field`` names the argument.
    """
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) == 2 and default_catalog:
        parts = [default_catalog, *parts]
    if len(parts) != 3:
        hint = "" if default_catalog or len(parts) != 2 else " (or schema.table with a default catalog)"
        raise QueryError(
            f"{field} must be catalog.schema.table{hint}; got {name!r}.", code="INVALID_TABLE", field=field
        )
    try:
        return TableRef(*(validate_name(part, label) for part, label in zip(parts, _PARTS, strict=True)))
    except InvalidName as exc:
        raise QueryError(f"{field}: {exc.message} ({name!r}).", code="INVALID_TABLE", field=field) from None


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type name, e.g. "BIGINT", "TIMESTAMP WITH TIME ZONE", "STRUCT(a INTEGER)"


@dataclass(frozen=True)
class QueryResult:
    columns: list[Column]
    rows: list[list[Any]]  # JSON-ready values
    row_count: int
    truncated: bool
    elapsed_ms: float


# ------------------------------------------------------------------------------------ parse & check
_QUERY_TYPES = (exp.Select, exp.SetOperation, exp.Values)

# Statement nodes that are never part of a read-only query, wherever they appear in the tree.
_FORBIDDEN_NODE_NAMES = (
    "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Copy", "Command", "Set",
    "Pragma", "Attach", "Detach", "Install", "Use", "Transaction", "Commit", "Rollback", "Describe",
    "Show", "Summarize", "Analyze", "Grant", "Revoke", "TruncateTable", "Kill", "Comment", "Cache",
    "Uncache", "LoadData", "Export", "Refresh", "Into",
)  # fmt: skip
_FORBIDDEN_NODES = tuple(node for node in (getattr(exp, n, None) for n in _FORBIDDEN_NODE_NAMES) if node)

# First keywords of statements that are not queries (also recognised when sqlglot cannot parse them).
_WRITE_KEYWORDS = frozenset(
    {
        "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "CREATE", "DROP", "ALTER", "TRUNCATE",
        "COPY", "ATTACH", "DETACH", "INSTALL", "FORCE", "LOAD", "UNLOAD", "PRAGMA", "SET", "RESET", "CALL",
        "EXPORT", "IMPORT", "VACUUM", "CHECKPOINT", "ANALYZE", "BEGIN", "START", "COMMIT", "END", "ROLLBACK",
        "ABORT", "USE", "PREPARE", "EXECUTE", "DEALLOCATE", "GRANT", "REVOKE", "COMMENT", "EXPLAIN",
        "DESCRIBE", "SHOW", "SUMMARIZE",
    }
)  # fmt: skip

# Table functions that only generate values; every other function in FROM position is refused.
_ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

# Functions refused anywhere in the tree: file, URL, catalog and environment access.
_DENIED_FUNCTIONS = frozenset(
    {
        "glob", "query", "query_table", "sniff_csv", "getenv", "current_setting", "getvariable",
        "st_read", "st_read_meta", "st_drivers", "load_extension", "checkpoint", "force_checkpoint",
        "which_secret", "scan_arrow_ipc", "arrow_scan", "arrow_scan_dumb", "python_map_function",
        "seq_scan", "index_scan", "summary", "test_all_types", "test_vector_types", "enable_logging",
        "disable_logging", "truncate_duckdb_logs",
    }
)  # fmt: skip
_DENIED_FUNCTION_PREFIXES = (
    "read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_", "sqlite_", "postgres_", "mysql_",
    "http_", "s3_", "gcs_", "azure_", "excel_", "from_csv", "json_execute", "sql_auto_complete",
)  # fmt: skip

_PATH_LIKE = re.compile(r"[./\\:]")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_QUALIFY_HINT = "Tables are addressed as catalog.schema.table"


def _read_only(message: str) -> QueryError:
    return QueryError(message, code="READ_ONLY")


def _statement_token_groups(sql: str) -> list[list[Any]]:
    try:
        tokens = Tokenizer(dialect=DIALECT).tokenize(sql)
    except TokenError as exc:
        raise QueryError(f"Could not parse SQL: {_clean(exc)}", code="INVALID_SQL") from exc
    groups: list[list[Any]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            groups.append([])
        else:
            groups[-1].append(token)
    return [group for group in groups if group]


def _clean(exc: Exception) -> str:
    return _ANSI.sub("", str(exc)).strip()


def _function_names(node: exp.Func) -> set[str]:
    names = {node.sql_name().lower(), type(node).__name__.lower()}
    if isinstance(node, exp.Anonymous):
        names.add(str(node.name).lower())
    return names


def _is_denied_function(name: str) -> bool:
    return name in _DENIED_FUNCTIONS or name.startswith(_DENIED_FUNCTION_PREFIXES)


def _check_table_source(table: exp.Table) -> None:
    source = table.this
    if isinstance(source, exp.Func):
        generator = isinstance(source, exp.GenerateSeries | exp.Unnest)
        if not generator and not _function_names(source) & _ALLOWED_TABLE_FUNCTIONS:
            label = source.name if isinstance(source, exp.Anonymous) else source.sql_name()
            raise _read_only(f"Table functions are not allowed: {label.lower()}(...); {_QUALIFY_HINT}.")
        return
    if isinstance(source, exp.Dot):
        return  # too many name parts: refused by table_references
    if isinstance(source, exp.Identifier):
        single = table.args.get("db") is None and table.args.get("catalog") is None
        if single and _PATH_LIKE.search(source.name):
            # DuckDB would read a file or URL for FROM 'x.parquet' (a "replacement scan")
            raise _read_only(f"Reading files or URLs is not allowed ({source.name!r}); {_QUALIFY_HINT}.")
        return
    raise _read_only(f"Unsupported table source {source.sql(dialect=DIALECT)!r}; {_QUALIFY_HINT}.")


def parse_read_only(sql: str) -> exp.Expression:
    """Parse exactly one read-only query, or raise :class:`QueryError`."""
    if not isinstance(sql, str) or not sql.strip():
        raise QueryError("SQL is empty.", code="INVALID_SQL")
    groups = _statement_token_groups(sql)
    if not groups:
        raise QueryError("SQL is empty.", code="INVALID_SQL")
    if len(groups) > 1:
        raise QueryError(f"Exactly one statement is allowed; got {len(groups)}.", code="MULTIPLE_STATEMENTS")
    first_keyword = groups[0][0].text.upper()
    if first_keyword in _WRITE_KEYWORDS:
        raise _read_only(f"Only read-only queries are allowed; {first_keyword} statements are refused.")
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except (ParseError, TokenError) as exc:
        raise QueryError(f"Could not parse SQL: {_clean(exc)}", code="INVALID_SQL") from exc
    if not statements:
        raise QueryError("SQL is empty.", code="INVALID_SQL")
    if len(statements) > 1:
        raise QueryError(
            f"Exactly one statement is allowed; got {len(statements)}.", code="MULTIPLE_STATEMENTS"
        )
    statement = statements[0]

    top = statement
    while isinstance(top, exp.Subquery | exp.Paren):
        top = top.this
    if not isinstance(top, _QUERY_TYPES):
        kind = str(top.this).upper() if isinstance(top, exp.Command) else top.key.upper()
        raise _read_only(
            f"Only read-only queries (SELECT, WITH ... SELECT, UNION/INTERSECT/EXCEPT, VALUES) are allowed; "
            f"got {kind}."
        )
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise _read_only(f"Only read-only queries are allowed; {node.key.upper()} is refused.")
        if isinstance(node, exp.Select) and node.args.get("into") is not None:
            raise _read_only("SELECT ... INTO is refused.")
        if isinstance(node, exp.Table):
            _check_table_source(node)
        if isinstance(node, exp.Func):
            denied = sorted(name for name in _function_names(node) if _is_denied_function(name))
            if denied:
                raise _read_only(f"Function {denied[0]}() is not allowed in queries.")
    return statement


# ----------------------------------------------------------------------------------- table references
def _cte_names_in_scope(table: exp.Table) -> set[str]:
    names: set[str] = set()
    node = table.parent
    while node is not None:
        with_ = node.args.get("with_") or node.args.get("with")
        if isinstance(with_, exp.With):
            names.update(cte.alias.casefold() for cte in with_.expressions if cte.alias)
        node = node.parent
    return names


def _iter_tables(
    expression: exp.Expression, default_catalog: str | None
) -> Iterator[tuple[exp.Table, TableRef, tuple[str, ...]]]:
    """Every real table node with its TableRef and its name parts as written, in order of appearance."""
    found = []
    for index, table in enumerate(t for t in expression.walk(bfs=False) if isinstance(t, exp.Table)):
        source = table.this
        if isinstance(source, exp.Func):
            continue  # an allowed generator (parse_read_only refuses the others)
        if isinstance(source, exp.Dot):
            written = table.sql(dialect=DIALECT)
            raise QueryError(
                f"Table name {written} has too many parts; {_QUALIFY_HINT}.", code="UNQUALIFIED_TABLE"
            )
        if not isinstance(source, exp.Identifier):
            continue
        catalog, db = table.args.get("catalog"), table.args.get("db")
        parts = tuple(str(part.name) for part in (catalog, db, source) if part is not None)
        if len(parts) == 1:
            if parts[0].casefold() in _cte_names_in_scope(table):
                continue
            raise QueryError(f"Table {parts[0]} is not qualified; {_QUALIFY_HINT}.", code="UNQUALIFIED_TABLE")
        if len(parts) == 2:
            if not default_catalog:
                raise QueryError(
                    f"Table {parts[0]}.{parts[1]} has no catalog and no default catalog was given; "
                    f"{_QUALIFY_HINT}.",
                    code="UNQUALIFIED_TABLE",
                )
            ref = TableRef(default_catalog, parts[0], parts[1])
        else:
            ref = TableRef(*parts)
        start = min(
            (part.meta.get("start", math.inf) for part in (catalog, db, source) if part is not None),
            default=math.inf,
        )
        found.append((start, index, table, ref, parts))
    found.sort(key=lambda item: (item[0], item[1]))
    for _, _, table, ref, parts in found:
        yield table, ref, parts


def table_references(expression: exp.Expression, *, default_catalog: str | None = None) -> list[TableRef]:
    """Every real table the query reads (not CTE names), de-duplicated, in order of first appearance."""
    refs: list[TableRef] = []
    for _, ref, _ in _iter_tables(expression, default_catalog):
        if ref not in refs:
            refs.append(ref)
    return refs


def _generated_names(expression: exp.Expression, count: int) -> list[str]:
    """Names ``t_0 .. t_n`` (or a longer prefix) that collide with no identifier of the query."""
    used = {str(ident.name).casefold() for ident in expression.find_all(exp.Identifier)}
    prefix = "t_"
    while any(f"{prefix}{i}" in used for i in range(count)):
        prefix = "_" + prefix
    return [f"{prefix}{i}" for i in range(count)]


def _rewrite(
    expression: exp.Expression, names: dict[TableRef, str], default_catalog: str | None
) -> exp.Expression:
    """Point every table reference at its generated name, keeping (or adding) the table alias."""
    tree = expression.copy()
    qualifiers: dict[tuple[str, ...], exp.Identifier] = {}
    for table, ref, parts in list(_iter_tables(tree, default_catalog)):
        original = table.this.copy()
        alias = table.args.get("alias")
        table.set("catalog", None)
        table.set("db", None)
        table.set("this", exp.to_identifier(names[ref]))
        if alias is None or alias.args.get("this") is None:
            if alias is None:
                table.set("alias", exp.TableAlias(this=original))
            else:
                alias.set("this", original)
            # full-path column references (s.t.col, c.s.t.col) keep working for unaliased tables
            for key in {parts, parts[-2:], (ref.catalog, ref.schema, ref.table)}:
                qualifiers[tuple(p.casefold() for p in key)] = original
    if qualifiers:
        for column in list(tree.find_all(exp.Column)):
            catalog, db, table_part = (column.args.get(k) for k in ("catalog", "db", "table"))
            if db is None or table_part is None:
                continue  # only s.t.col and c.s.t.col need rewriting
            written = tuple(str(p.name) for p in (catalog, db, table_part) if p is not None)
            target = qualifiers.get(tuple(p.casefold() for p in written))
            if target is not None:
                column.set("catalog", None)
                column.set("db", None)
                column.set("table", target.copy())
    return tree


# --------------------------------------------------------------------------------------- execution
def _execute(
    connection: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    limit: int | None,
    timeout_seconds: float,
    rename: dict[str, str] | None = None,
    params: list[Any] | None = None,
) -> tuple[list[Column], pa.Table]:
    """Run ``sql`` with at most ``limit + 1`` rows (all rows for None) and a timeout.

    ``params`` are bound to the SQL's ``?`` / ``$n`` placeholders. DuckDB errors become QueryError.
    """
    fired = threading.Event()

    def interrupt() -> None:
        fired.set()
        connection.interrupt()

    timer = threading.Timer(timeout_seconds, interrupt)
    timer.daemon = True
    timer.start()
    try:
        relation = connection.sql(sql, params=params)
        if relation is None:
            raise QueryError("The statement returned no result.", code="READ_ONLY")
        # names and types of the query itself: LIMIT on top would rename duplicate columns (a, a -> a, a_1)
        columns = [
            Column(name, str(kind)) for name, kind in zip(relation.columns, relation.types, strict=True)
        ]
        table = (relation if limit is None else relation.limit(limit + 1)).to_arrow_table()
    except duckdb.Error as exc:
        if fired.is_set() or isinstance(exc, duckdb.InterruptException):
            raise QueryError(
                f"The query did not finish within {timeout_seconds:g} seconds.", code="QUERY_TIMEOUT"
            ) from exc
        raise QueryError(_duckdb_message(exc, rename or {}), code="QUERY_FAILED") from exc
    finally:
        timer.cancel()
    return columns, table


def _duckdb_message(exc: Exception | str, rename: dict[str, str]) -> str:
    # drop DuckDB's "LINE 1: ..." excerpt: it quotes the rewritten SQL, not what the user sent
    message = re.split(r"\n\s*LINE \d+:", str(exc), maxsplit=1)[0].strip()
    for generated, original in rename.items():
        message = re.sub(rf"\b{re.escape(generated)}\b", original, message)
    return message


def _run_sql(
    sql: str,
    tables: dict[str, ArrowData],
    *,
    limit: int | None,
    timeout_seconds: float,
    rename: dict[str, str] | None = None,
    params: list[Any] | None = None,
) -> tuple[list[Column], pa.Table]:
    """Execute already-checked SQL over ``tables`` (registered under their keys) on a locked connection,
    in this process: for checks and transforms, which run in their own task process."""
    connection = sandbox.locked_connection()
    try:
        for name, data in tables.items():
            connection.register(name, data)
        return _execute(
            connection, sql, limit=limit, timeout_seconds=timeout_seconds, rename=rename, params=params
        )
    finally:
        connection.close()


def _validate_options(default_catalog: str | None, limit: int, timeout_seconds: float) -> None:
    if default_catalog is not None and (not isinstance(default_catalog, str) or not default_catalog.strip()):
        raise QueryError("catalog must be a non-empty string.", code="INVALID_CATALOG", field="catalog")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise QueryError("limit must be a positive integer.", code="INVALID_LIMIT", field="limit")
    if (
        isinstance(timeout_seconds, bool)
        or not isinstance(timeout_seconds, int | float)
        or timeout_seconds <= 0
    ):
        raise ValueError("timeout_seconds must be a positive number")


@dataclass(frozen=True)
class PreparedQuery:
    """A checked read-only query rewritten to read each table under a generated name.

    Any engine can run it: register each table's data under ``names[ref]`` and execute ``sql()`` in
    its dialect (the DuckDB path below; Spark SQL in the transform).
    """

    expression: exp.Expression  # the rewritten query
    names: dict[TableRef, str]  # every table read, in order of first appearance -> its generated name
    uses: dict[TableRef, int]  # how often each table is scanned

    def sql(self, dialect: str = DIALECT) -> str:
        return self.expression.sql(dialect=dialect)

    @property
    def rename(self) -> dict[str, str]:
        """Generated names back to table names, to word errors in the user's terms."""
        return {name: str(ref) for ref, name in self.names.items()}


def prepare_query(sql: str, *, default_catalog: str | None = None) -> PreparedQuery:
    """Parse and check ``sql`` (:func:`parse_read_only`), find its tables and rewrite their names."""
    expression = parse_read_only(sql)
    refs = table_references(expression, default_catalog=default_catalog)
    names = dict(zip(refs, _generated_names(expression, len(refs)), strict=True))
    uses: dict[TableRef, int] = {}
    for _, ref, _ in _iter_tables(expression, default_catalog):
        uses[ref] = uses.get(ref, 0) + 1
    return PreparedQuery(_rewrite(expression, names, default_catalog), names, uses)


def _resolve_tables(
    prepared: PreparedQuery, resolve: Resolver, *, collect: bool = True
) -> dict[str, ArrowData]:
    """Each table's data under its generated name; with ``collect``, a reader the query scans more than
    once is read into a table here (the sandbox does that in its own process instead)."""
    tables: dict[str, ArrowData] = {}
    for ref, name in prepared.names.items():
        data = resolve(ref)
        if collect and isinstance(data, pa.RecordBatchReader) and prepared.uses[ref] > 1:
            data = data.read_all()  # a reader can be scanned once; the query scans this table twice
        if not isinstance(data, pa.Table | ds.Dataset | pa.RecordBatchReader):
            raise TypeError(f"resolver returned {type(data).__name__} for {ref}; expected Arrow data")
        tables[name] = data
    return tables


def query_arrow(
    sql: str,
    resolve: Resolver,
    *,
    default_catalog: str | None = None,
    timeout_seconds: float = 3600.0,
) -> pa.Table:
    """Run one read-only query over resolved lakehouse tables and return its whole result as Arrow.

    No row limit and no JSON conversion: for callers that write the result (SQL transforms).
    """
    _validate_options(default_catalog, 1, timeout_seconds)
    prepared = prepare_query(sql, default_catalog=default_catalog)
    tables = _resolve_tables(prepared, resolve)
    _, table = _run_sql(
        prepared.sql(), tables, limit=None, timeout_seconds=timeout_seconds, rename=prepared.rename
    )
    return table


def run_query(
    sql: str,
    resolve: Resolver,
    *,
    default_catalog: str | None = None,
    limit: int = 1000,
    timeout_seconds: float = 30.0,
    limits: QueryLimits | None = None,
) -> QueryResult:
    """Run one read-only query over resolved lakehouse tables; at most ``limit`` rows come back.

    DuckDB runs in a child process held to ``limits`` (default: 1GB, 2 threads) and killed after
    ``timeout_seconds``: QUERY_MEMORY_LIMIT, QUERY_TIMEOUT, QUERY_RESULT_TOO_LARGE otherwise.
    """
    started = time.perf_counter()
    _validate_options(default_catalog, limit, timeout_seconds)
    limits = limits or QueryLimits()
    prepared = prepare_query(sql, default_catalog=default_catalog)
    tables = _resolve_tables(prepared, resolve, collect=False)
    uses = {prepared.names[ref]: count for ref, count in prepared.uses.items()}
    try:
        names, table = sandbox.run(
            prepared.sql(), tables, uses=uses, limit=limit, timeout_seconds=timeout_seconds, limits=limits
        )
    except sandbox.SandboxError as exc:
        raise _sandbox_error(exc, limits, timeout_seconds, prepared.rename) from None
    columns = [Column(name, kind) for name, kind in names]
    truncated = table.num_rows > limit
    if truncated:
        table = table.slice(0, limit)
    try:
        rows = _rows(table, columns)
    except (ValueError, OverflowError, TypeError, pa.ArrowException) as exc:
        raise QueryError(f"Could not convert the result: {exc}", code="QUERY_FAILED") from exc
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _sandbox_error(
    exc: sandbox.SandboxError, limits: QueryLimits, timeout_seconds: float, rename: dict[str, str]
) -> QueryError:
    """Why the sandbox gave no result, in the caller's terms (table names as written, the option to raise)."""
    if exc.failure == "timeout":
        message = f"The query did not finish within {timeout_seconds:g} seconds."
        return QueryError(message, code="QUERY_TIMEOUT")
    if exc.failure == "memory":
        return QueryError(
            f"The query needs more memory than the {limits.memory_limit} one query may use; simplify it, "
            "or ask an administrator to raise [headrace] query_memory_limit.",
            code="QUERY_MEMORY_LIMIT",
        )
    if exc.failure == "result_too_large":
        return QueryError(
            f"The result is larger than {sandbox.MAX_RESULT_BYTES // 2**20} MiB; "
            "ask for fewer rows (limit) or fewer or smaller columns.",
            code="QUERY_RESULT_TOO_LARGE",
            field="limit",
        )
    if exc.failure == "no_result":
        return QueryError(exc.message, code="READ_ONLY")
    return QueryError(_duckdb_message(exc.message, rename), code="QUERY_FAILED")


# -------------------------------------------------------------------------------- JSON-ready values
_EPOCH = datetime(1970, 1, 1)
_EPOCH_DATE = date(1970, 1, 1)
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_INT64_MAX, _INT64_MIN = 2**63 - 1, -(2**63) + 1
_INT32_MAX, _INT32_MIN = 2**31 - 1, -(2**31) + 1
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")


def _rows(table: pa.Table, columns: list[Column]) -> list[list[Any]]:
    converted = []
    for index, column in enumerate(columns):
        values = _convert(table.column(index).combine_chunks())
        if column.type in ("HUGEINT", "UHUGEINT"):  # exported as decimal128(38, 0); keep them numbers
            values = [None if v is None else int(v) for v in values]
        converted.append(values)
    return [list(row) for row in zip(*converted, strict=True)] if converted else []


def _convert(array: pa.Array) -> list[Any]:
    """Arrow array -> JSON-ready Python values, recursively."""
    t = array.type
    if isinstance(t, pa.ExtensionType):
        storage = array.storage
        if t.extension_name == "arrow.uuid":
            return [None if b is None else str(uuid.UUID(bytes=b)) for b in storage.to_pylist()]
        return _convert(storage)
    if pa.types.is_dictionary(t):
        return _convert(array.dictionary_decode())
    if pa.types.is_null(t):
        return [None] * len(array)
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        children = [_convert(child) for child in array.flatten()]
        nulls = array.is_null().to_pylist()
        return [
            None if nulls[i] else {name: values[i] for name, values in zip(names, children, strict=True)}
            for i in range(len(array))
        ]
    if pa.types.is_map(t):
        entries = array.cast(pa.list_(pa.struct([t.key_field, t.item_field])))
        pairs = _split_list(entries, lambda flat: list(zip(*map(_convert, flat.flatten()), strict=True)))
        return [None if p is None else {_json_key(k): v for k, v in p} for p in pairs]
    if pa.types.is_fixed_size_list(t) or pa.types.is_list_view(t) or pa.types.is_large_list_view(t):
        return _convert(array.cast(pa.list_(t.value_field)))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _split_list(array, _convert)
    if pa.types.is_timestamp(t):
        return _map_ints(array, lambda v: _timestamp(v, t.unit, t.tz))
    if pa.types.is_date32(t):
        return _map_ints(array, _date)
    if pa.types.is_date64(t):
        return _map_ints(array, lambda v: _date(v // 86_400_000))
    if pa.types.is_time(t):
        return _map_ints(array, lambda v: _time(v, t.unit))
    if pa.types.is_duration(t):
        return _map_ints(array, lambda v: _iso_duration(0, 0, v * (1_000_000_000 // _PER_SECOND[t.unit])))
    if t == pa.month_day_nano_interval():
        return [None if v is None else _iso_duration(*v) for v in array.to_pylist()]
    if pa.types.is_floating(t):
        return [_float(v) for v in array.to_pylist()]
    if pa.types.is_decimal(t):
        return [None if v is None else format(v, "f") for v in array.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [None if v is None else base64.b64encode(v).decode("ascii") for v in array.to_pylist()]
    if pa.types.is_binary_view(t):
        return _convert(array.cast(pa.binary()))
    if pa.types.is_string_view(t):
        return array.cast(pa.string()).to_pylist()
    return [_plain(v) for v in array.to_pylist()]


def _split_list(array: pa.Array, convert: Callable[[pa.Array], list[Any]]) -> list[Any]:
    lengths = pc.list_value_length(array).to_pylist()
    flat = convert(array.flatten())
    out: list[Any] = []
    position = 0
    for length in lengths:
        if length is None:
            out.append(None)
        else:
            out.append(list(flat[position : position + length]))
            position += length
    return out


def _map_ints(array: pa.Array, render: Callable[[int], str]) -> list[Any]:
    storage = pa.int32() if pa.types.is_date32(array.type) or array.type.bit_width == 32 else pa.int64()
    return [None if v is None else render(v) for v in array.view(storage).to_pylist()]


def _zone(tz: str) -> tzinfo:
    if tz.upper() in ("UTC", "Z", "ETC/UTC", "GMT"):
        return UTC
    match = _OFFSET.match(tz)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    return ZoneInfo(tz)


def _timestamp(value: int, unit: str, tz: str | None) -> str:
    if value >= _INT64_MAX:
        return "infinity"
    if value <= _INT64_MIN:
        return "-infinity"
    per_second = _PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    try:
        moment = _EPOCH + timedelta(seconds=seconds)
    except OverflowError:
        return str(pa.scalar(value, pa.timestamp(unit, tz)).cast(pa.string()))
    suffix = ""
    if tz:
        aware = moment.replace(tzinfo=UTC).astimezone(_zone(tz))
        moment = aware.replace(tzinfo=None)
        suffix = aware.isoformat()[len(moment.isoformat()) :]
    text = moment.isoformat()
    if fraction:
        digits = len(str(per_second)) - 1
        text += "." + f"{fraction:0{digits}d}"
    return text + suffix


def _date(days: int) -> str:
    if days >= _INT32_MAX:
        return "infinity"
    if days <= _INT32_MIN:
        return "-infinity"
    try:
        return (_EPOCH_DATE + timedelta(days=days)).isoformat()
    except OverflowError:
        return str(pa.scalar(days, pa.date32()).cast(pa.string()))


def _time(value: int, unit: str) -> str:
    per_second = _PER_SECOND[unit]
    seconds, fraction = divmod(value, per_second)
    hours, rest = divmod(seconds, 3600)
    text = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    if fraction:
        text += "." + f"{fraction:0{len(str(per_second)) - 1}d}"
    return text


def _iso_duration(months: int, days: int, nanoseconds: int) -> str:
    """ISO 8601 duration, e.g. ``P1Y2M3DT4H5M6.5S``; components may be negative (as in DuckDB intervals)."""
    years, months = int(months / 12), months - int(months / 12) * 12
    date_part = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (days, "D")) if n)
    sign = "-" if nanoseconds < 0 else ""
    seconds, nanos = divmod(abs(nanoseconds), 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    second_text = f"{seconds}" + (f".{nanos:09d}".rstrip("0") if nanos else "")
    time_part = "".join(
        f"{sign}{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (second_text, "S")) if n not in (0, "0")
    )
    if not date_part and not time_part:
        return "PT0S"
    return "P" + date_part + ("T" + time_part if time_part else "")


def _float(value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return json.dumps(key, separators=(",", ":"), sort_keys=True)


def _plain(value: Any) -> Any:
    """Fallback conversion of values pyarrow already turned into Python objects."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _iso_duration(0, value.days, (value.seconds * 1_000_000 + value.microseconds) * 1000)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {_json_key(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
