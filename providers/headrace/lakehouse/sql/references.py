"""Which tables a checked query reads, and the query rewritten to read each under a generated name.

The rewritten query is what any engine runs: register each table's data under its generated name and
execute the SQL in the engine's dialect (DuckDB here, Spark SQL in the transform). Generated names
collide with no identifier of the query, and column references by full path (``s.t.col``) keep
working, so the user's SQL means the same after the rewrite.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlglot import exp

from headrace.lakehouse.sql.guard import QUALIFY_HINT, parse_read_only
from headrace.lakehouse.sql.model import DIALECT, QueryError, TableRef

__all__ = ["PreparedQuery", "prepare_query", "table_references"]


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
                f"Table name {written} has too many parts; {QUALIFY_HINT}.", code="UNQUALIFIED_TABLE"
            )
        if not isinstance(source, exp.Identifier):
            continue
        catalog, db = table.args.get("catalog"), table.args.get("db")
        parts = tuple(str(part.name) for part in (catalog, db, source) if part is not None)
        if len(parts) == 1:
            if parts[0].casefold() in _cte_names_in_scope(table):
                continue
            raise QueryError(f"Table {parts[0]} is not qualified; {QUALIFY_HINT}.", code="UNQUALIFIED_TABLE")
        if len(parts) == 2:
            if not default_catalog:
                raise QueryError(
                    f"Table {parts[0]}.{parts[1]} has no catalog and no default catalog was given; "
                    f"{QUALIFY_HINT}.",
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


@dataclass(frozen=True)
class PreparedQuery:
    """A checked read-only query rewritten to read each table under a generated name.

    Any engine can run it: register each table's data under ``names[ref]`` and execute ``sql()`` in
    its dialect (DuckDB in :mod:`.execution` and :mod:`.sandbox`; Spark SQL in the transform).
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
