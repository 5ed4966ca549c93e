"""PostgreSQL's bulk path of the event log: a batch of rows as one JSON document, in one statement.

``INSERT INTO t (a, b) SELECT a, b FROM json_to_recordset(CAST(:rows AS json)) AS r(a text, b
timestamptz) ON CONFLICT ..`` with ``:rows`` a JSON array of objects: one bound parameter for the
whole batch. The alternatives cost more on both sides: SQLAlchemy's ``executemany`` processes every
parameter of every row in Python (and sends a 17,000-parameter ``VALUES``), and ``unnest`` over one
array per column makes the server parse and plan 17,000 literals. msgspec encodes a 1,000-event
batch in 0.4 ms (``json.dumps`` with a ``default`` for datetimes: 5.9 ms) and the server reads it
with its JSON parser.

Values must be JSON (str, int, float, bool, None, dict, list) or aware datetimes, which are sent as
ISO 8601 (UTC as ``Z``) and read back as ``timestamptz``; JSON columns take their objects as they
are. Floats must be finite: the API refuses NaN and infinities when it parses a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

_ENCODER = msgspec.json.Encoder()


def document(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON array (datetimes as ISO 8601 with their offset)."""
    return _ENCODER.encode(rows).decode()


def insert_sql(
    table: str,
    columns: Sequence[tuple[str, str]],
    tail: str,
    same: Sequence[tuple[str, str]] = (),
) -> str:
    """``INSERT INTO table (columns) SELECT .. FROM json_to_recordset(:rows) .. tail``.

    ``columns`` are ``(name, PostgreSQL type)``, constants of the caller (never input): each row
    object's keys are the column names. ``same`` are ``(name, SQL)`` columns whose value is the
    same for every row (``("inserted_at", "CAST(:now AS timestamptz)")``): one parameter, not
    one value per row in the document.
    """
    names = ", ".join(name for name, _ in (*columns, *same))
    values = ", ".join([*(name for name, _ in columns), *(sql for _, sql in same)])
    record = ", ".join(f"{name} {type_}" for name, type_ in columns)
    return (
        f"INSERT INTO {table} ({names}) SELECT {values} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record}) {tail}"
    )


__all__ = ["document", "insert_sql"]
