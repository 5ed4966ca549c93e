"""Testing a connection step by step, so that a failure says which step failed.

1. the host: a TCP connection to ``host:port`` (refused or timed out: ``host_reachable`` false);
2. authentication: the database accepts the login (a wrong password fails here, not in step 1);
3. permissions: read from the database's own grants (:func:`.catalog.permissions`);
4. the schema: its catalog can be listed.

The answer never carries the password: error texts of drivers are passed through
:func:`redact` with every secret of the connection.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from headrace.sources import catalog


@dataclass
class TestOutcome:
    status: str  # success | failed
    response_time_ms: int
    tested_at: str
    host_reachable: bool
    authentication: str  # success | failed | not_tested
    permissions: str | None  # read_only | read_write
    schema_accessible: bool
    error: str | None = None
    schema_info: catalog.SchemaInfo | None = None


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def host_reachable(host: str, port: int, timeout: float) -> tuple[bool, str | None]:
    """Whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True, None
    except OSError as exc:
        return False, f"{host}:{port} is not reachable: {exc.strerror or exc}"


def test_sql_source(
    engine_factory: Callable[[], Engine],
    *,
    host: str | None,
    port: int | None,
    timeout: float,
    secrets: Iterable[str | None] = (),
    with_schema_info: bool = False,
) -> TestOutcome:
    """Run the four steps against a SQL database; the clock covers all of them."""
    secrets = list(secrets)
    started = time.perf_counter()

    def outcome(**fields) -> TestOutcome:
        elapsed = round((time.perf_counter() - started) * 1000)
        base = {"response_time_ms": elapsed, "tested_at": now_text(), "permissions": None}
        return TestOutcome(**{**base, **fields})

    if host and port:
        reachable, error = host_reachable(host, port, timeout)
        if not reachable:
            return outcome(
                status="failed", host_reachable=False, authentication="not_tested", schema_accessible=False,
                error=error,
            )  # fmt: skip
    try:
        engine = engine_factory()
    except Exception as exc:  # the hook refused to build it: nothing was tried against the server
        return outcome(
            status="failed", host_reachable=bool(host and port), authentication="not_tested",
            schema_accessible=False, error=redact(first_line(exc), secrets),
        )  # fmt: skip
    try:
        try:
            connection = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            return outcome(
                status="failed", host_reachable=True, authentication="failed", schema_accessible=False,
                error=redact(first_line(exc), secrets),
            )  # fmt: skip
        with connection:
            try:
                permissions = catalog.permissions(connection)
            except sa.exc.SQLAlchemyError:
                permissions = None
            try:
                info = catalog.schema_info(connection)
            except sa.exc.SQLAlchemyError as exc:
                return outcome(
                    status="failed", host_reachable=True, authentication="success", permissions=permissions,
                    schema_accessible=False, error=redact(first_line(exc), secrets),
                )  # fmt: skip
        return outcome(
            status="success", host_reachable=True, authentication="success", permissions=permissions,
            schema_accessible=True, schema_info=info if with_schema_info else None,
        )  # fmt: skip
    finally:
        engine.dispose()


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (a driver's own error under SQLAlchemy's), else its type."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
