"""Connectors API (pipelines-api "Connectors"): Airflow's connection types, and AI configuration.

Permission: the connection types are public knowledge of the deployment, but the answer also lists
connections, so reading needs the permission to read connections; configuring one creates a
connection and needs the permission to create connections.
"""

from __future__ import annotations

from headrace.api.datamodels.connectors import ConfigureRequest, ConfigureResponse, ConnectorList
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, connection
from headrace.api.services import connectors as service

_NS = Namespace.CONNECTORS


@endpoint(
    "/connectors",
    "GET",
    _NS,
    summary="Installed connection types and readable connections",
    permission=connection("GET", Scope.READ),
    response=ConnectorList,
)
def list_connectors():
    """The connection types of the installed providers (Airflow's providers manager), each with its
    form fields and whether it can be tested and profiled, plus the connections (never a password;
    secret extras masked)."""
    return service.list_connectors()


@endpoint(
    "/connectors-ai/configure",
    "POST",
    _NS,
    summary="Recognise a system, fill its defaults, create and test the connection",
    permission=connection("POST", Scope.WRITE),
    body=ConfigureRequest,
    response=ConfigureResponse,
    status=201,
    errors=(400, 409),
)
def configure_connector(body: ConfigureRequest):
    """Recognises the system from ``description`` and ``hints`` among the installed connection types,
    fills the defaults (port, ``public`` schema, ``ssl_mode``) with the reason for each in
    ``defaults_applied``, lists what it could not decide in ``undecided``, then creates the Airflow
    connection and tests it (``test_status``)."""
    return service.configure(body)
