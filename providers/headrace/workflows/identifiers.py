"""Table and column names as SQL: checked against one pattern, then quoted by sqlglot.

A name chosen when a run is triggered (a param of type ``identifier``) is checked three times: by the
REST API before it triggers, by Airflow (the DAG's ``Param`` carries :data:`IDENTIFIER` as its JSON
Schema ``pattern``, so its own trigger form and REST API refuse a bad value too), and by the
``identifier`` Jinja filter that puts it into SQL: ``{{ params.table | identifier('postgres') }}``
checks it once more and quotes every part, so even a value that slipped past the first two can never
end one statement and start another.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # sqlglot takes most of a second to import: only the filter and SQL helpers need it
    from sqlglot import exp

IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,2}$"
IDENTIFIER_RULE = (
    "letters, digits and _ (not starting with a digit), optionally dotted as schema.table "
    "or catalog.schema.table"
)
FILTER = "identifier"
_MATCH = re.compile(IDENTIFIER)


def is_identifier(value: Any) -> bool:
    return isinstance(value, str) and _MATCH.fullmatch(value) is not None


def identifier(value: Any, dialect: str | None = None) -> str:
    """``value`` as a quoted SQL name in ``dialect`` (sqlglot's name); ValueError when it is not a name.

    The ``identifier`` filter of every generated DAG: ``schema.orders`` -> ``"schema"."orders"``
    (```schema`.`orders``` in MySQL). Quoted names are case-sensitive in most databases.
    """
    if not is_identifier(value):
        raise ValueError(f"{value!r} is not an identifier: use {IDENTIFIER_RULE}")
    from sqlglot import exp

    return ".".join(exp.to_identifier(part, quoted=True).sql(dialect=dialect) for part in value.split("."))


def table(name: str) -> exp.Table:
    """``[catalog.][schema.]table`` as a sqlglot table; a part that is not a plain name gets quoted."""
    from sqlglot import exp

    *prefix, last = name.split(".")
    catalog, db = [None, None, *prefix][-2:]
    return exp.table_(last, db=db, catalog=catalog)


def select_all(name: str, dialect: str | None = None, *, quoted: bool | None = None) -> str:
    """``SELECT * FROM <name>`` built by sqlglot (never by formatting the name into text)."""
    from sqlglot import exp

    source = table(name)
    if quoted:
        for part in source.parts:
            part.set("quoted", True)
    return exp.select("*").from_(source).sql(dialect=dialect)


FILTERS = {FILTER: identifier}
_USES_FILTER = re.compile(r"\|\s*" + FILTER + r"\b")


def uses_filter(value: Any) -> bool:
    """Whether a (JSON-like) value has a Jinja expression that uses the ``identifier`` filter."""
    if isinstance(value, str):
        return "{" in value and _USES_FILTER.search(value) is not None
    if isinstance(value, dict):
        return any(uses_filter(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(uses_filter(v) for v in value)
    return False
