"""A database's own catalog, read through SQLAlchemy's inspector and the system views.

Every figure comes from the database: table and view counts from its catalog, sizes from
``pg_total_relation_size`` (PostgreSQL) or ``information_schema.tables`` (MySQL/MariaDB), grants
from ``has_table_privilege`` or ``SHOW GRANTS``. Names from a request are matched against the
catalog's names here (:func:`resolve_table`); only a name found there is used, as a SQLAlchemy
table object whose identifiers the dialect quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

MB = 1024 * 1024
# The database's own catalogs are not data sources' tables: never profiled, previewed or queried.
SYSTEM_SCHEMAS = frozenset(
    {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}
)


class UnknownTable(ValueError):
    """A table name that the source's catalog does not have (the API's 400 naming ``table``)."""

    def __init__(self, name: str, known: list[str]) -> None:
        shown = ", ".join(known[:20]) + (" ..." if len(known) > 20 else "")
        super().__init__(f"no table or view '{name}' in the source's catalog; known: {shown or 'none'}")
        self.name = name


@dataclass
class ColumnInfo:
    name: str
    type: str
    nullable: bool
    primary_key: bool = False
    unique: bool = False  # a declared single-column unique constraint or unique index (or the key)
    indexed: bool = False  # the first column of some index


@dataclass
class ForeignKey:
    columns: list[str]
    table: str
    ref_columns: list[str]


@dataclass
class TableInfo:
    name: str
    schema: str | None
    columns: list[ColumnInfo]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    is_view: bool = False

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class SchemaInfo:
    """What ``POST /data-sources`` answers as ``schema_info``."""

    schema: str | None
    tables: int
    views: int
    estimated_size_mb: float


def default_schema(engine: Engine | Connection) -> str | None:
    return sa.inspect(engine).default_schema_name


def names(engine: Engine | Connection, schema: str | None = None) -> tuple[list[str], list[str]]:
    """``(tables, views)`` of ``schema`` (the connection's default one when None)."""
    inspector = sa.inspect(engine)
    return sorted(inspector.get_table_names(schema=schema)), sorted(inspector.get_view_names(schema=schema))


def schema_info(connection: Connection, schema: str | None = None) -> SchemaInfo:
    schema = schema or default_schema(connection)
    tables, views = names(connection, schema)
    return SchemaInfo(schema, len(tables), len(views), round(schema_size_bytes(connection, schema) / MB, 3))


def schema_size_bytes(connection: Connection, schema: str | None) -> int:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        sql = (
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r','m','p')"  # noqa: E501
        )
    elif dialect in ("mysql", "mariadb"):
        sql = (
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables "
            "WHERE table_schema = :schema"
        )
    else:
        return 0
    return int(connection.execute(sa.text(sql), {"schema": schema}).scalar() or 0)


def table_size_bytes(connection: Connection, table: TableInfo) -> int | None:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        sql = (
            "SELECT pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "  # noqa: E501
            "WHERE n.nspname = :schema AND c.relname = :table"
        )
    elif dialect in ("mysql", "mariadb"):
        sql = (
            "SELECT data_length + index_length FROM information_schema.tables "
            "WHERE table_schema = :schema AND table_name = :table"
        )
    else:
        return None
    value = connection.execute(sa.text(sql), {"schema": table.schema, "table": table.name}).scalar()
    return int(value) if value is not None else None


def resolve_table(connection: Connection, name: str) -> TableInfo:
    """The catalog's table (or view) called ``name`` (``table`` or ``schema.table``), with its columns
    and keys; :class:`UnknownTable` when the catalog has no such name."""
    schema, _, table = name.rpartition(".")
    if schema.lower() in SYSTEM_SCHEMAS or schema.lower().startswith("pg_"):
        raise UnknownTable(name, [])
    schema = schema or default_schema(connection)
    inspector = sa.inspect(connection)
    try:
        tables, views = names(connection, schema)
    except sa.exc.SQLAlchemyError:  # no such schema
        tables, views = [], []
    if table not in tables and table not in views:
        raise UnknownTable(name, tables + views)
    return describe(inspector, schema, table, is_view=table in views)


def describe(inspector: sa.Inspector, schema: str | None, table: str, *, is_view: bool = False) -> TableInfo:
    """Columns, primary key, declared unique columns, indexes and foreign keys of one catalog table."""
    pk = list((inspector.get_pk_constraint(table, schema=schema) or {}).get("constrained_columns") or [])
    unique: set[str] = set(pk) if len(pk) == 1 else set()
    indexed: set[str] = set(pk[:1])
    if not is_view:
        for constraint in inspector.get_unique_constraints(table, schema=schema):
            if len(constraint["column_names"]) == 1:
                unique.add(constraint["column_names"][0])
        for index in inspector.get_indexes(table, schema=schema):
            cols = [c for c in index.get("column_names") or [] if c]
            if cols:
                indexed.add(cols[0])
                if index.get("unique") and len(cols) == 1:
                    unique.add(cols[0])
    columns = [
        ColumnInfo(
            name=col["name"],
            type=_type_name(col["type"]),
            nullable=bool(col.get("nullable", True)),
            primary_key=col["name"] in pk,
            unique=col["name"] in unique,
            indexed=col["name"] in indexed,
        )
        for col in inspector.get_columns(table, schema=schema)
    ]
    fks = [
        ForeignKey(list(fk["constrained_columns"]), fk["referred_table"], list(fk["referred_columns"]))
        for fk in ([] if is_view else inspector.get_foreign_keys(table, schema=schema))
        if fk.get("referred_table")
    ]
    return TableInfo(table, schema, columns, pk, fks, is_view)


def _type_name(sa_type: sa.types.TypeEngine) -> str:
    try:
        return str(sa_type).lower()
    except sa.exc.CompileError:  # a type the generic compiler cannot spell
        return type(sa_type).__name__.lower()


def table_object(connection: Connection, table: TableInfo) -> sa.Table:
    """A SQLAlchemy table of the catalog's columns: queries built on it quote every identifier."""
    metadata = sa.MetaData()
    return sa.Table(
        table.name,
        metadata,
        *(sa.Column(c.name, sa.types.NullType()) for c in table.columns),
        schema=table.schema,
    )


# ----------------------------------------------------------------------------------------- grants
_WRITE_PRIVILEGES = ("ALL PRIVILEGES", "INSERT", "UPDATE", "DELETE")
_GRANT = re.compile(r"^GRANT\s+(?P<privs>.+?)\s+ON\s+(?P<target>\S+)\s+TO\s", re.IGNORECASE)


def permissions(connection: Connection, schema: str | None = None) -> str:
    """``read_write`` when the database grants this login any write on the schema, else ``read_only``."""
    dialect = connection.dialect.name
    schema = schema or default_schema(connection)
    if dialect == "postgresql":
        sql = (
            "SELECT has_schema_privilege(:schema, 'CREATE') OR COALESCE(bool_or("
            "has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE') "
            "OR has_table_privilege(c.oid, 'DELETE')), false) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relkind IN ('r','p')"  # noqa: E501
        )
        writable = bool(connection.execute(sa.text(sql), {"schema": schema}).scalar())
        return "read_write" if writable else "read_only"
    if dialect in ("mysql", "mariadb"):
        grants = [row[0] for row in connection.execute(sa.text("SHOW GRANTS FOR CURRENT_USER()"))]
        return "read_write" if any(_mysql_grant_writes(g, schema) for g in grants) else "read_only"
    return "read_write"  # SQLite and others: no grants; whoever can open the file can write it


def _mysql_grant_writes(grant: str, schema: str | None) -> bool:
    match = _GRANT.match(grant)
    if not match:
        return False
    privileges = match.group("privs").upper()
    if not any(p in privileges for p in _WRITE_PRIVILEGES):
        return False
    target_schema = match.group("target").split(".", 1)[0].strip("`")
    return target_schema == "*" or target_schema.replace("\\_", "_") == schema
