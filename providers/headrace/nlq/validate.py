"""The gate every generated query passes before anything runs, whichever engine wrote it.

The SQL is parsed with sqlglot in the source's dialect and accepted only when it is exactly one
``SELECT`` (or ``WITH ... SELECT``, or a set operation of selects) that reads nothing but the allowed
tables: no DDL or DML anywhere in the tree, no ``INTO``, no row locks, no functions that sleep, read
files or reach other servers. The accepted query is rendered back in that dialect.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError


class UnsafeQuery(ValueError):
    """Generated SQL that is not a single read-only statement over the allowed tables."""


_FORBIDDEN = tuple(
    node
    for node in (
        getattr(exp, name, None)
        for name in (
            "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Set", "Pragma",
            "Attach", "Detach", "Install", "Use", "Transaction", "Commit", "Rollback", "Describe", "Show",
            "Analyze", "Grant", "Revoke", "TruncateTable", "Kill", "Comment", "Cache", "Uncache", "LoadData",
            "Export", "Refresh", "Into", "Lock", "Copy",
        )
    )
    if node is not None
)  # fmt: skip
_DENIED_FUNCTIONS = frozenset(
    {
        "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark", "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir", "pg_stat_file", "lo_import", "lo_export", "load_file", "dblink", "dblink_exec",
        "set_config", "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "get_lock",
        "release_lock",
        "sys_exec", "sys_eval", "current_setting", "query_to_xml", "nextval", "setval", "txid_current",
    }
)  # fmt: skip
_QUERIES = (exp.Select, exp.SetOperation)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    return node.sql_name().lower()


def check(sql: str, dialect: str, allowed_tables: set[str]) -> str:
    """The query rendered in ``dialect`` when it is safe; :class:`UnsafeQuery` saying why otherwise."""
    text = (sql or "").strip().rstrip(";").strip()
    if not text:
        raise UnsafeQuery("empty SQL")
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        raise UnsafeQuery(f"not valid {dialect} SQL: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise UnsafeQuery(f"exactly one statement is allowed, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, _QUERIES):
        raise UnsafeQuery(f"only SELECT queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN):
            raise UnsafeQuery(f"{node.key.upper()} is not allowed in a read-only query")
        if isinstance(node, exp.Func) and _function_name(node) in _DENIED_FUNCTIONS:
            raise UnsafeQuery(f"function {_function_name(node)} is not allowed")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    allowed = {t.lower() for t in allowed_tables}
    for table in tree.find_all(exp.Table):
        name = table.name.lower()
        if not name:
            raise UnsafeQuery("table functions are not allowed")
        if name in ctes and not table.db:
            continue
        if name not in allowed:
            raise UnsafeQuery(
                f"table '{table.name}' is not among the allowed tables ({', '.join(sorted(allowed))})"
            )
    return tree.sql(dialect=dialect, pretty=True)
