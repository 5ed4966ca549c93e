"""Data-quality checks on a lakehouse table: what a check says (the models) and how it is evaluated.

A workflow's ``check`` step, the ``TableCheckOperator`` and the natural-language drafting grammar all
use these models, so ``{"type": "unique", "columns": ["order_id"]}`` means the same everywhere.

:func:`run_checks` evaluates them on the table's current data with DuckDB, on the locked connection
of :mod:`headrace.lakehouse.sql`. The SQL is built from column names checked against the table
(and quoted); values (accepted values) travel as bound parameters, never inside the SQL text.

``failing_rows`` of each result is the number of rows that violate the check:

* ``row_count``: how far the row count is outside ``[min, max]`` (0 when inside);
* ``not_null``: rows with a null in any of the columns;
* ``unique``: rows in groups of two or more rows sharing the columns' values (nulls count as equal
  values, as in GROUP BY: two rows with a null key duplicate each other);
* ``accepted_values``: rows whose non-null value is not in the list;
* ``freshness``: a property of the whole table, not of rows: 1 when the newest value is too old (or
  there is no value at all), else 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from headrace.lakehouse.errors import LakehouseError
from headrace.lakehouse.sql.model import DIALECT, QueryError, TableNotFound, TableRef, parse_table_name

if TYPE_CHECKING:  # the models validate without these (a DAG-parsing process imports only the models)
    import pyarrow as pa
    import pyarrow.dataset as ds

    from headrace.lakehouse.service import Lakehouse

# Where a task whose checks failed leaves its CheckReport (XCom), for the workflow runs API.
REPORT_XCOM_KEY = "check_report"


class _Check(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RowCount(_Check):
    """The table has at least ``min`` and at most ``max`` rows."""

    type: Literal["row_count"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _some_bound(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("row_count min is larger than max")
        return self


class NotNull(_Check):
    """No row has a null in any of ``columns``."""

    type: Literal["not_null"]
    columns: list[str] = Field(min_length=1)


class Unique(_Check):
    """No two rows share the same values of ``columns`` (taken together)."""

    type: Literal["unique"]
    columns: list[str] = Field(min_length=1)


class AcceptedValues(_Check):
    """Every non-null value of ``column`` is one of ``values``."""

    type: Literal["accepted_values"]
    column: str = Field(min_length=1)
    values: list[Any] = Field(min_length=1)


class Freshness(_Check):
    """The newest value of the timestamp ``column`` is at most ``max_age_seconds`` old."""

    type: Literal["freshness"]
    column: str = Field(min_length=1)
    max_age_seconds: int = Field(gt=0)


Check = Annotated[RowCount | NotNull | Unique | AcceptedValues | Freshness, Field(discriminator="type")]
CHECK_TYPES = ("row_count", "not_null", "unique", "accepted_values", "freshness")


# ------------------------------------------------------------------------------------------ evaluation
_CHECK_LIST: TypeAdapter[list[Check]] = TypeAdapter(list[Check])
_TABLE = "checked_table"  # the name the table is registered under on the DuckDB connection
_FROM = f'"{_TABLE}"'
TIMEOUT_SECONDS = 600.0


class CheckError(QueryError):
    """A check that cannot be evaluated (bad definition, unknown column, wrong column type)."""

    code = "INVALID_CHECK"


@dataclass(frozen=True)
class CheckResult:
    type: str
    passed: bool
    failing_rows: int
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CheckReport:
    table: str  # catalog.schema.table
    row_count: int
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [result for result in self.results if not result.passed]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (XCom): ``records_processed`` is the table's row count."""
        return {
            "table": self.table,
            "records_processed": self.row_count,
            "checks": [result.as_dict() for result in self.results],
            "failed": len(self.failed),
            "passed": not self.failed,
        }


def parse_checks(checks: Sequence[Check | dict[str, Any]]) -> list[Check]:
    """Check models from models or dicts; CheckError naming every bad field (``checks[0].columns``)."""
    try:
        return _CHECK_LIST.validate_python(list(checks))
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            # the loc holds the discriminator after the index: (0, "unique", "columns")
            loc = [p for i, p in enumerate(error["loc"]) if not (i == 1 and p in CHECK_TYPES)]
            where = "checks" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)
            problems.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
        raise CheckError("Invalid checks: " + "; ".join(problems), field="checks") from None
    except TypeError as exc:
        raise CheckError(f"Invalid checks: {exc}", field="checks") from None


def run_checks(
    lakehouse: Lakehouse,
    table: str,
    checks: Sequence[Check | dict[str, Any]],
    default_catalog: str | None = None,
    *,
    now: datetime | None = None,
    timeout_seconds: float = TIMEOUT_SECONDS,
) -> CheckReport:
    """Evaluate ``checks`` on the current data of ``table`` (``catalog.schema.table``, or
    ``schema.table`` with ``default_catalog``). Failed checks are results, not errors; a check that
    cannot be evaluated raises CheckError (QueryError for a missing table or a failed query).

    ``now`` (aware; default: the current time) is what freshness measures the age against.
    """
    models = parse_checks(checks)
    ref = parse_table_name(table, default_catalog=default_catalog, field="table")
    data = _read(lakehouse, ref)
    context = _Context(ref, data, timeout_seconds)
    row_count = int(context.scalar(f"SELECT count(*) FROM {_FROM}"))
    clock = now or datetime.now(UTC)
    results = [_evaluate(context, index, check, row_count, clock) for index, check in enumerate(models)]
    return CheckReport(str(ref), row_count, results)


def _read(lakehouse: Lakehouse, ref: TableRef) -> pa.Table | ds.Dataset:
    try:
        return lakehouse.read(ref.catalog, ref.schema, ref.table)
    except (LakehouseError, ValueError) as exc:
        raise TableNotFound(f"Table {ref} not found: {exc}", field="table") from exc


class _Context:
    """One table's data, its columns and a way to run checked SQL over it."""

    def __init__(self, ref: TableRef, data: pa.Table | ds.Dataset, timeout_seconds: float) -> None:
        self.ref = ref
        self.data = data
        self.schema: pa.Schema = data.schema
        self.timeout_seconds = timeout_seconds

    def column(self, name: str, where: str) -> str:
        """``name`` quoted for DuckDB; CheckError naming it when the table has no such column."""
        from sqlglot import exp

        if name not in self.schema.names:
            raise CheckError(
                f"{where}: column '{name}' is not a column of {self.ref} "
                f"(columns: {', '.join(self.schema.names)})",
                field=where,
            )
        return exp.to_identifier(name, quoted=True).sql(dialect=DIALECT)

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        import pyarrow.dataset as ds

        from headrace.lakehouse.sql.execution import run_sql

        # A dataset goes in as a stream: DuckDB pushes no filter into it, and pyarrow cannot apply
        # some (a string filter on files of a table whose other files hold string_view columns).
        data = self.data.scanner().to_reader() if isinstance(self.data, ds.Dataset) else self.data
        _, result = run_sql(
            sql,
            {_TABLE: data},
            limit=None,
            timeout_seconds=self.timeout_seconds,
            rename={_TABLE: str(self.ref)},
            params=params,
        )
        columns = [column.to_pylist() for column in result.columns]
        return list(zip(*columns, strict=True))

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.rows(sql, params)[0][0]


def _evaluate(context: _Context, index: int, check: Check, row_count: int, now: datetime) -> CheckResult:
    where = f"checks[{index}]"
    if isinstance(check, RowCount):
        return _row_count(check, row_count)
    if isinstance(check, NotNull):
        columns = [context.column(c, f"{where}.columns") for c in check.columns]
        nulls = " OR ".join(f"{column} IS NULL" for column in columns)
        failing = int(context.scalar(f"SELECT count(*) FROM {_FROM} WHERE {nulls}"))
        names = ", ".join(check.columns)
        message = f"{failing} row(s) have a null in {names}" if failing else f"no nulls in {names}"
        return CheckResult(check.type, not failing, failing, message)
    if isinstance(check, Unique):
        keys = ", ".join(context.column(c, f"{where}.columns") for c in check.columns)
        groups, failing = (
            int(value)
            for value in context.rows(
                f"SELECT count(*), coalesce(sum(n), 0) FROM "
                f"(SELECT count(*) AS n FROM {_FROM} GROUP BY {keys} HAVING count(*) > 1)"
            )[0]
        )
        names = ", ".join(check.columns)
        message = (
            f"{failing} row(s) share their {names} with another row ({groups} duplicated value(s))"
            if failing
            else f"{names} is unique"
        )
        return CheckResult(check.type, not failing, failing, message)
    if isinstance(check, AcceptedValues):
        return _accepted_values(context, check, where)
    return _freshness(context, check, where, now)


def _row_count(check: RowCount, rows: int) -> CheckResult:
    if check.min is not None and rows < check.min:
        return CheckResult(
            check.type, False, check.min - rows, f"{rows} row(s); at least {check.min} expected"
        )
    if check.max is not None and rows > check.max:
        return CheckResult(
            check.type, False, rows - check.max, f"{rows} row(s); at most {check.max} expected"
        )
    return CheckResult(check.type, True, 0, f"{rows} row(s)")


def _accepted_values(context: _Context, check: AcceptedValues, where: str) -> CheckResult:
    column = context.column(check.column, f"{where}.column")
    values = [value for value in check.values if value is not None]  # nulls are not checked
    placeholders = ", ".join("?" for _ in values)
    outside = f"{column} IS NOT NULL" + (f" AND {column} NOT IN ({placeholders})" if values else "")
    try:
        failing = int(context.scalar(f"SELECT count(*) FROM {_FROM} WHERE {outside}", values))
        examples = [
            row[0]
            for row in context.rows(
                f"SELECT DISTINCT {column} FROM {_FROM} WHERE {outside} ORDER BY 1 LIMIT 5", values
            )
        ]
    except QueryError as exc:
        raise CheckError(
            f"{where}.values: cannot compare with {check.column}: {exc.message}", field=f"{where}.values"
        ) from exc
    message = (
        f"{failing} row(s) have a {check.column} outside the accepted values, e.g. {examples}"
        if failing
        else f"every {check.column} is an accepted value"
    )
    return CheckResult(check.type, not failing, failing, message)


def _freshness(context: _Context, check: Freshness, where: str, now: datetime) -> CheckResult:
    import pyarrow as pa

    column = context.column(check.column, f"{where}.column")
    kind = context.schema.field(check.column).type
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        raise CheckError(
            f"{where}.column: freshness needs a timestamp or date column; {check.column} is {kind}",
            field=f"{where}.column",
        )
    newest = context.scalar(f"SELECT max({column}) FROM {_FROM}")
    if newest is None:
        return CheckResult(check.type, False, 1, f"{check.column} has no value")
    if not isinstance(newest, datetime):  # a date: its start
        newest = datetime.combine(newest, datetime.min.time())
    if newest.tzinfo is None:  # a timestamp without zone is taken as UTC
        newest = newest.replace(tzinfo=UTC)
    age = (now - newest).total_seconds()
    if age > check.max_age_seconds:
        message = (
            f"newest {check.column} {newest.isoformat()} is {age:.0f} s old; "
            f"at most {check.max_age_seconds} s expected"
        )
        return CheckResult(check.type, False, 1, message)
    return CheckResult(
        check.type, True, 0, f"newest {check.column} {newest.isoformat()} is {max(age, 0):.0f} s old"
    )
