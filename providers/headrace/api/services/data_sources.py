"""Data sources are Airflow Connections: created, listed, tested and opened through Airflow.

``source_id`` is the ``conn_id``. A source registered here is stored by Airflow (its password
Fernet-encrypted when ``[core] fernet_key`` is set), so every DAG can use it; a connection an admin
made in Airflow is a source here too. Headrace keeps its own fields (name, configuration, metadata,
the secret reference) as JSON in the connection's ``description``, never in ``extra``: hooks pass
extras to their drivers. Engines are built by the connection's own hook.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from airflow.models.connection import Connection
from airflow.utils.session import create_session
from sqlalchemy.pool import NullPool

from headrace.api.datamodels.data_sources import (
    ConnectionTest,
    DataSourceCreate,
    DataSourceCreated,
    DataSourceView,
    SchemaInfo,
    SourceTestResult,
    TestDetails,
)
from headrace.api.errors import ApiError, Conflict, NotFound, RequestValidationError
from headrace.sources import checks, systems

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 10
_MARK = "headrace"
_SECRET_KEYS = re.compile(r"pass|secret|token|key|credential|private|auth", re.IGNORECASE)


class DataSourceError(ApiError):
    """workflows-api's ``DATA_SOURCE_ERROR``: the source's database could not be used (502)."""

    status, code, message = 502, "DATA_SOURCE_ERROR", "Data source connection failed"


def not_found(source_id: str) -> NotFound:
    return NotFound(
        f"Data source '{source_id}' not found",
        code="DATA_SOURCE_NOT_FOUND",
        details={"source_id": source_id, "suggestion": "List sources with GET /data-sources"},
    )


def slug(name: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return (value or "source")[:200]


def hook_types() -> dict[str, Any]:
    """Installed connection types -> HookInfo (Airflow's providers manager)."""
    # What ProvidersManager().hooks now forwards to (the same registry, without its deprecation warning).
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    return {k: v for k, v in ProvidersManagerTaskRuntime().hooks.items() if v is not None}


def is_sql_capable(conn_type: str) -> bool:
    info = hook_types().get(conn_type)
    if info is None:
        return False
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    try:
        return issubclass(import_string(info.hook_class_name), DbApiHook)
    except Exception:  # a provider whose hook does not import here
        return False


def import_string(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def meta(conn: Connection) -> dict[str, Any]:
    """Headrace's fields of a connection (empty for connections made elsewhere)."""
    try:
        document = json.loads(conn.description or "")
    except ValueError:
        return {}
    return document.get(_MARK, {}) if isinstance(document, dict) else {}


def display_name(conn: Connection) -> str:
    return meta(conn).get("name") or conn.conn_id


def masked_extra(conn: Connection, secret_fields: set[str] = frozenset()) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson
    except Exception:
        return {}
    return {k: ("***" if k in secret_fields or _SECRET_KEYS.search(k) else v) for k, v in extra.items()}


def view(conn: Connection) -> DataSourceView:
    info = meta(conn)
    return DataSourceView(
        source_id=conn.conn_id,
        name=display_name(conn),
        type=conn.conn_type or "",
        host=conn.host,
        port=conn.port,
        database=conn.schema,
        username=conn.login,
        extra=masked_extra(conn),
        configuration=info.get("configuration", {}),
        metadata=info.get("metadata", {}),
        credentials=info.get("credentials", {"kind": "inline" if conn.password else "none"}),
        sql_capable=is_sql_capable(conn.conn_type or ""),
        managed_by_headrace=bool(info),
    )


def get_connection(source_id: str) -> Connection:
    """The connection from the metastore, else from the secrets backends (environment, vault ...)."""
    with create_session() as session:
        conn = session.scalar(sa.select(Connection).where(Connection.conn_id == source_id))
        if conn is not None:
            session.expunge(conn)
            return conn
    try:
        return Connection.get_connection_from_secrets(source_id)
    except Exception:  # AirflowNotFoundException, or a backend that cannot answer
        raise not_found(source_id) from None


def list_connections() -> list[Connection]:
    with create_session() as session:
        found = list(session.scalars(sa.select(Connection).order_by(Connection.conn_id)))
        for conn in found:
            session.expunge(conn)
    return found


def resolve_secret(name: str, provider: str) -> tuple[str | None, str | None]:
    """``(username, password)`` of a secret reference."""
    if provider == "aws_secrets_manager":
        from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook

        from headrace import config

        try:
            secret = SecretsManagerHook(aws_conn_id=config.data_sources_aws_conn_id()).get_secret_as_dict(
                name
            )
        except Exception as exc:
            raise RequestValidationError.for_field(
                "credentials.secret_name",
                f"secret '{name}' could not be read from AWS Secrets Manager ({type(exc).__name__})",
            ) from None
        return secret.get("username") or secret.get("login"), secret.get("password")
    try:
        conn = Connection.get_connection_from_secrets(name)
    except Exception:
        raise RequestValidationError.for_field(
            "credentials.secret_name", f"no Airflow connection '{name}' in the metastore or secrets backends"
        ) from None
    return conn.login, conn.password


def _ssl_extra(
    system: systems.System | None, ssl_enabled: bool | None, ssl_mode: str | None
) -> dict[str, str]:
    if system is None or system.conn_type not in ("postgres", "mysql"):
        return {}
    if ssl_mode is None and ssl_enabled is None:
        return {}
    if system.conn_type == "postgres":
        return {"sslmode": ssl_mode or ("require" if ssl_enabled else "disable")}
    return {"ssl_mode": (ssl_mode or ("REQUIRED" if ssl_enabled else "DISABLED")).upper()}


def create(body: DataSourceCreate) -> DataSourceCreated:
    system = systems.by_name(body.type)
    conn_type = system.conn_type if system else body.type
    if conn_type not in hook_types():
        known = ", ".join(sorted(hook_types()))
        raise RequestValidationError.for_field(
            "type", f"'{body.type}' is not an installed connection type ({known})"
        )
    source_id = slug(body.name)
    creds = body.credentials
    username, password = creds.username, creds.password.get_secret_value() if creds.password else None
    credential_meta: dict[str, Any] = {"kind": "inline" if password or username else "none"}
    if creds.secret_name:
        provider = creds.secret_provider or "airflow"
        username, password = resolve_secret(creds.secret_name, provider)
        credential_meta = {
            "kind": "secret_reference",
            "secret_name": creds.secret_name,
            "secret_provider": provider,
        }
    extra = _ssl_extra(system, body.connection.ssl_enabled, body.connection.ssl_mode)
    timeout = body.configuration.timeout or DEFAULT_TIMEOUT
    if conn_type == "postgres":
        extra["connect_timeout"] = str(timeout)
    description = json.dumps(
        {
            _MARK: {
                "name": body.name,
                "configuration": body.configuration.model_dump(exclude_none=True),
                "metadata": body.metadata,
                "credentials": credential_meta,
            }
        }
    )
    conn = Connection(
        conn_id=source_id,
        conn_type=conn_type,
        description=description,
        host=body.connection.host,
        port=body.connection.port or (system.port if system else None),
        schema=body.connection.database,
        login=username,
        password=password,
        extra=json.dumps(extra) if extra else None,
    )
    with create_session() as session:
        if session.scalar(sa.select(Connection.id).where(Connection.conn_id == source_id)) is not None:
            raise Conflict(
                f"A data source named '{body.name}' already exists (source_id '{source_id}')",
                code="DATA_SOURCE_EXISTS",
                details={"source_id": source_id, "name": body.name},
            )
        session.add(conn)
    outcome = run_test(conn, with_schema_info=True)
    info = outcome.schema_info
    return DataSourceCreated(
        source_id=source_id,
        name=body.name,
        connection_test=_test_view(outcome, details=False),
        schema_info=SchemaInfo(
            schema=info.schema, tables=info.tables, views=info.views, estimated_size_mb=info.estimated_size_mb
        )
        if info
        else None,
    )


def delete(source_id: str) -> None:
    with create_session() as session:
        conn = session.scalar(sa.select(Connection).where(Connection.conn_id == source_id))
        if conn is None:
            raise not_found(source_id)
        session.delete(conn)


def test(source_id: str) -> SourceTestResult:
    conn = get_connection(source_id)
    return SourceTestResult(source_id=source_id, connection_test=_test_view(run_test(conn), details=True))


def _test_view(outcome: checks.TestOutcome, *, details: bool) -> ConnectionTest:
    return ConnectionTest(
        status=outcome.status,
        response_time=outcome.response_time_ms,
        tested_at=outcome.tested_at,
        error=outcome.error,
        details=TestDetails(
            host_reachable=outcome.host_reachable,
            authentication=outcome.authentication,
            permissions=outcome.permissions,
            schema_accessible=outcome.schema_accessible,
        )
        if details
        else None,
    )


def timeout_of(conn: Connection) -> int:
    return int(meta(conn).get("configuration", {}).get("timeout") or DEFAULT_TIMEOUT)


def hook_of(conn: Connection) -> Any:
    info = hook_types().get(conn.conn_type or "")
    if info is None:
        raise DataSourceError(f"No installed provider handles connection type '{conn.conn_type}'")
    hook_class = import_string(info.hook_class_name)
    return hook_class(**{info.connection_id_attribute_name: conn.conn_id}, connection=conn)


def engine_of(conn: Connection) -> sa.Engine:
    """A SQLAlchemy engine built by the connection's hook, with a connect timeout and no pool."""
    if not is_sql_capable(conn.conn_type or ""):
        raise RequestValidationError.for_field(
            "source", f"connection type '{conn.conn_type}' does not speak SQL"
        )
    hook = hook_of(conn)
    connect_args: dict[str, Any] = {}
    if conn.conn_type in ("postgres", "mysql"):
        connect_args["connect_timeout"] = timeout_of(conn)
    try:
        return hook.get_sqlalchemy_engine(engine_kwargs={"connect_args": connect_args, "poolclass": NullPool})
    except Exception as exc:  # the provider's hook cannot build it (a missing region, an unsaved id ...)
        reason = checks.redact(checks.first_line(exc), [conn.password])
        raise DataSourceError(
            f"The {conn.conn_type} hook cannot open data source '{conn.conn_id}': {reason}",
            details={"source_id": conn.conn_id},
        ) from None


def run_test(conn: Connection, *, with_schema_info: bool = False) -> checks.TestOutcome:
    if not is_sql_capable(conn.conn_type or ""):
        return _hook_test(conn)
    system = systems.by_conn_type(conn.conn_type or "")
    return checks.test_sql_source(
        lambda: engine_of(conn),
        host=conn.host,
        port=conn.port or (system.port if system else None),
        timeout=timeout_of(conn),
        secrets=[conn.password],
        with_schema_info=with_schema_info,
    )


def _hook_test(conn: Connection) -> checks.TestOutcome:
    """Connection types that are not SQL: the hook's own ``test_connection()``."""
    import time

    started = time.perf_counter()
    try:
        ok, message = hook_of(conn).test_connection()
    except Exception as exc:
        ok, message = False, f"{type(exc).__name__}: {exc}"
    elapsed = round((time.perf_counter() - started) * 1000)
    return checks.TestOutcome(
        status="success" if ok else "failed",
        response_time_ms=elapsed,
        tested_at=checks.now_text(),
        host_reachable=bool(ok),
        authentication="success" if ok else "not_tested",
        permissions=None,
        schema_accessible=bool(ok),
        error=None if ok else checks.redact(str(message), [conn.password]),
    )


@contextmanager
def sql_connection(source_id: str):
    """An open connection to a SQL source; 502 DATA_SOURCE_ERROR when the database cannot be reached."""
    conn = get_connection(source_id)
    engine = engine_of(conn)
    try:
        try:
            connection = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            reason = checks.redact(checks.first_line(exc), [conn.password])
            raise DataSourceError(
                f"Data source '{source_id}' could not be reached: {reason}", details={"source_id": source_id}
            ) from None
        with connection:
            yield conn, connection
    finally:
        engine.dispose()
