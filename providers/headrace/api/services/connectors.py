"""``GET /connectors`` (Airflow's connection types and their forms) and ``POST /connectors-ai/configure``.

The connection types, hooks and form fields are Airflow's own: the same metadata its UI builds the
connection form from (``HookMetaService.hook_meta_data``). ``configure`` recognises the system from
the description and hints among the installed types, fills what a careful engineer would (the
system's port, ``public`` for PostgreSQL, TLS required except on this machine), says why for each,
lists what it could not decide, then creates the connection like ``POST /data-sources`` and tests it.
"""

from __future__ import annotations

import re
from typing import Any

from headrace.api.datamodels.connectors import (
    ConfigureRequest,
    ConfigureResponse,
    Connector,
    ConnectorField,
    ConnectorList,
)
from headrace.api.datamodels.data_sources import (
    ConnectionSettings,
    Credentials,
    DataSourceCreate,
)
from headrace.api.errors import RequestValidationError
from headrace.api.services import data_sources
from headrace.sources import systems

_STANDARD = ("host", "port", "login", "password", "schema", "description")


def _fields(meta: Any) -> list[ConnectorField]:
    found = []
    standard = meta.standard_fields
    for name in _STANDARD:
        behaviour = getattr(standard, "url_schema" if name == "schema" else name, None) if standard else None
        found.append(
            ConnectorField(
                name=name,
                kind="standard",
                label=getattr(behaviour, "title", None),
                hidden=bool(getattr(behaviour, "hidden", False)),
                secret=name == "password",
                placeholder=getattr(behaviour, "placeholder", None),
            )
        )
    for name, param in (meta.extra_fields or {}).items():
        schema = param.get("schema", param) if isinstance(param, dict) else {}
        kind = schema.get("type")
        found.append(
            ConnectorField(
                name=name,
                kind="extra",
                label=schema.get("title"),
                type=kind[0] if isinstance(kind, list) else kind,
                secret=schema.get("format") == "password",
                placeholder=None,
            )
        )
    return found


def list_connectors() -> ConnectorList:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    hooks = data_sources.hook_types()
    connectors = []
    for meta in sorted(HookMetaService.hook_meta_data(), key=lambda m: m.connection_type or ""):
        info = hooks.get(meta.connection_type or "")
        connectors.append(
            Connector(
                type=meta.connection_type or "",
                name=meta.hook_name or meta.connection_type or "",
                hook_class=meta.hook_class_name,
                testable=bool(info and info.connection_testable),
                profilable=data_sources.is_sql_capable(meta.connection_type or ""),
                fields=_fields(meta),
            )
        )
    connections = [data_sources.view(c) for c in data_sources.list_connections()]
    return ConnectorList(connectors=connectors, connections=connections)


def recognise(text: str, installed: set[str]) -> list[systems.System]:
    """The installed systems a text names, in the order it names them."""
    lower = f" {text.lower()} "
    found: list[tuple[int, systems.System]] = []
    for system in systems.SYSTEMS:
        if system.conn_type not in installed:
            continue
        positions = [
            m.start()
            for word in system.words
            for m in re.finditer(rf"(?<![\w]){re.escape(word)}(?![\w])", lower)
        ]
        if positions:
            found.append((min(positions), system))
    return [s for _, s in sorted(found, key=lambda f: f[0])]


def configure(body: ConfigureRequest) -> ConfigureResponse:
    installed = set(data_sources.hook_types())
    hints = body.hints
    named = recognise(" ".join(filter(None, [hints.type or "", body.description])), installed)
    if not named:
        known = ", ".join(s.label for s in systems.SYSTEMS if s.conn_type in installed)
        raise RequestValidationError.for_field(
            "description", f"could not recognise the system; name one of the installed ones: {known}"
        )
    system = named[0]
    undecided: list[str] = []
    if len(named) > 1:
        undecided.append(
            f"type: also named {', '.join(s.label for s in named[1:])}; chose {system.label}, the first"
        )
    defaults: dict[str, str] = {}
    configuration: dict[str, Any] = {}
    host = hints.host
    if host is None:
        undecided.append("host: not in the hints or the description")
        host = "localhost"
        defaults["host"] = "no host given: localhost, to be replaced"
    configuration["host"] = host
    port = hints.port
    if port is None and system.port:
        port = system.port
        defaults["port"] = f"the {system.label} default port"
    configuration["port"] = port
    if hints.database:
        configuration["database"] = hints.database
    elif system.needs_database:
        undecided.append("database: not given; the login's default database is used")
    if system.conn_type == "postgres":
        configuration["schema"] = hints.schema_name or "public"
        if hints.schema_name is None:
            defaults["schema"] = "PostgreSQL's default schema"
    ssl_mode = hints.ssl_mode
    if ssl_mode is None and system.conn_type in ("postgres", "mysql"):
        local = host in systems.LOCAL_HOSTS
        ssl_mode = (
            ("prefer" if local else "require")
            if system.conn_type == "postgres"
            else ("PREFERRED" if local else "REQUIRED")
        )
        defaults["ssl_mode"] = (
            "this machine: TLS when the server offers it"
            if local
            else "a remote host: credentials travel only over TLS"
        )
    if ssl_mode:
        configuration["ssl_mode"] = ssl_mode
    if hints.username is None:
        undecided.append("username: not given; the connection has no login yet")
    else:
        configuration["username"] = hints.username
    if hints.password is None and system.conn_type in ("postgres", "mysql"):
        undecided.append("password: not given; set it in the Airflow connection or use a secret reference")
    name = hints.name or f"{system.label} {hints.database or host}"
    created = data_sources.create(
        DataSourceCreate(
            name=name,
            type=system.conn_type,
            connection=ConnectionSettings(host=host, port=port, database=hints.database, ssl_mode=ssl_mode),
            credentials=Credentials(username=hints.username, password=hints.password),
            metadata={
                "role": body.type,
                "description": body.description,
                **({"schema": configuration["schema"]} if "schema" in configuration else {}),
            },
        )
    )
    return ConfigureResponse(
        connector_id=created.source_id,
        type=system.label,
        conn_type=system.conn_type,
        role=body.type,
        configuration=configuration,
        defaults_applied=defaults,
        undecided=undecided,
        test_status=created.connection_test.status,
        test_error=created.connection_test.error,
    )
