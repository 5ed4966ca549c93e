"""The read-only guard: one SQL text in, one checked query tree out, or a :class:`QueryError`.

The SQL is parsed with sqlglot (dialect ``duckdb``) and refused unless it is exactly one query that reads
nothing but ``catalog.schema.table`` names: no DDL/DML, no table functions other than value generators,
no file or URL reads, no functions that reach files, catalogs or the environment. This is the first
line only: the DuckDB that runs the query is locked down as well (:mod:`.sandbox`), so a query that
slipped past these checks still cannot touch files or the network.
"""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Tokenizer, TokenType

from headrace.lakehouse.sql.model import DIALECT, QueryError

__all__ = ["QUALIFY_HINT", "parse_read_only"]

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
QUALIFY_HINT = "Tables are addressed as catalog.schema.table"


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
            raise _read_only(f"Table functions are not allowed: {label.lower()}(...); {QUALIFY_HINT}.")
        return
    if isinstance(source, exp.Dot):
        return  # too many name parts: refused by table_references
    if isinstance(source, exp.Identifier):
        single = table.args.get("db") is None and table.args.get("catalog") is None
        if single and _PATH_LIKE.search(source.name):
            # DuckDB would read a file or URL for FROM 'x.parquet' (a "replacement scan")
            raise _read_only(f"Reading files or URLs is not allowed ({source.name!r}); {QUALIFY_HINT}.")
        return
    raise _read_only(f"Unsupported table source {source.sql(dialect=DIALECT)!r}; {QUALIFY_HINT}.")


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
