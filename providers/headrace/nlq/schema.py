"""The schema a question is answered over: tables, columns, keys, and the joins between tables.

Joins come from declared foreign keys; where a schema declares none, from naming: a column
``customer_id`` joins the table ``customers`` (or ``customer``) on its primary key (or ``id``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Column:
    name: str
    type: str = ""

    @property
    def kind(self) -> str:
        """number, text, time, bool or other: what a question may do with it."""
        t = self.type.lower()
        if any(w in t for w in ("timestamp", "datetime", "date")) or t == "time":
            return "time"
        if any(w in t for w in ("int", "numeric", "decimal", "float", "double", "real", "money", "number")):
            return "number"
        if any(w in t for w in ("char", "text", "string", "enum", "utf8")):
            return "text"
        if "bool" in t:
            return "bool"
        return "other" if t else "unknown"


@dataclass
class Join:
    """``table.column = other.other_column``."""

    table: str
    column: str
    other: str
    other_column: str


@dataclass
class Table:
    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (column, table, column)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name.lower() == name.lower()), None)

    @property
    def key(self) -> str | None:
        if len(self.primary_key) == 1:
            return self.primary_key[0]
        return "id" if self.column("id") else None

    @property
    def label(self) -> str | None:
        """The column that names a row: name, title, email ... (shown next to the key in rankings)."""
        for candidate in ("name", "full_name", "title", "username", "email", "label", "code"):
            if self.column(candidate):
                return self.column(candidate).name
        return next((c.name for c in self.columns if c.name.endswith("_name")), None)


@dataclass
class Schema:
    tables: dict[str, Table]

    def joins(self) -> list[Join]:
        found: list[Join] = []
        declared = False
        for table in self.tables.values():
            for column, other, other_column in table.foreign_keys:
                if other in self.tables:
                    found.append(Join(table.name, column, other, other_column))
                    declared = True
        for table in self.tables.values():
            for column in table.columns:
                if not column.name.lower().endswith("_id"):
                    continue
                if any(j.table == table.name and j.column == column.name for j in found):
                    continue
                stem = column.name[:-3]
                for candidate in (
                    stem,
                    stem + "s",
                    stem + "es",
                    stem[:-1] + "ies" if stem.endswith("y") else "",
                ):
                    other = self.tables.get(candidate)
                    if other and other.name != table.name and other.key:
                        found.append(Join(table.name, column.name, other.name, other.key))
                        break
        del declared
        return found

    def path(self, start: str, goal: str) -> list[Join] | None:
        """The shortest chain of joins from ``start`` to ``goal`` (each join oriented start -> goal)."""
        if start == goal:
            return []
        edges: dict[str, list[Join]] = {}
        for j in self.joins():
            edges.setdefault(j.table, []).append(j)
            edges.setdefault(j.other, []).append(Join(j.other, j.other_column, j.table, j.column))
        seen = {start}
        queue: deque[tuple[str, list[Join]]] = deque([(start, [])])
        while queue:
            here, route = queue.popleft()
            for j in edges.get(here, []):
                if j.other in seen:
                    continue
                if j.other == goal:
                    return [*route, j]
                seen.add(j.other)
                queue.append((j.other, [*route, j]))
        return None
