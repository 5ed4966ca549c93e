"""Data sources API (workflows-api "Data Source Management"): Airflow Connections, tested by their hooks.

Permissions are the auth manager's connection permissions: reading sources needs ``connections: GET``,
registering and testing ``connections: POST`` (testing uses the stored credentials, as Airflow's own
connection test does), deleting ``connections: DELETE``.
"""

from __future__ import annotations

from headrace.api.datamodels.data_sources import (
    DataSourceCreate,
    DataSourceCreated,
    DataSourceView,
    SourceTestResult,
)
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, connection
from headrace.api.services import data_sources as service

_NS = Namespace.AGENTS  # the workflows-api namespace of agents and data sources


@endpoint(
    "/data-sources",
    "POST",
    _NS,
    summary="Register a data source (an Airflow connection) and test it",
    permission=connection("POST", Scope.WRITE),
    body=DataSourceCreate,
    response=DataSourceCreated,
    status=201,
    errors=(400, 409),
)
def create_data_source(body: DataSourceCreate):
    """Creates the Airflow connection ``source_id`` (from ``name``) and tests it. ``credentials`` are
    inline (stored by Airflow, Fernet-encrypted) or a secret reference resolved through Airflow's
    secrets backends (``airflow``) or AWS Secrets Manager. A source that cannot be reached is still
    registered: ``connection_test.status`` is ``failed`` with its ``error``. A duplicate name is 409."""
    return service.create(body)


@endpoint(
    "/data-sources",
    "GET",
    _NS,
    summary="List data sources",
    permission=connection("GET", Scope.READ),
    response=list[DataSourceView],
)
def list_data_sources():
    """Every Airflow connection, including those made outside Headrace; never a password."""
    return [service.view(c) for c in service.list_connections()]


@endpoint(
    "/data-sources/<source_id>",
    "GET",
    _NS,
    summary="A data source",
    permission=connection("GET", Scope.READ),
    response=DataSourceView,
    errors=(404,),
)
def get_data_source(source_id: str):
    return service.view(service.get_connection(source_id))


@endpoint(
    "/data-sources/<source_id>",
    "DELETE",
    _NS,
    summary="Delete a data source (its Airflow connection)",
    permission=connection("DELETE", Scope.WRITE),
    errors=(404,),
    status=204,
)
def delete_data_source(source_id: str):
    service.delete(source_id)
    return None, 204


@endpoint(
    "/data-sources/<source_id>/test",
    "POST",
    _NS,
    summary="Test a data source step by step",
    permission=connection("POST", Scope.WRITE),
    response=SourceTestResult,
    errors=(404,),
)
def test_data_source(source_id: str):
    """``details``: ``host_reachable`` (TCP), ``authentication``, ``permissions`` (``read_only`` or
    ``read_write``, from the database's own grants) and ``schema_accessible``. An unreachable source is
    answered 200 with ``status: failed`` and the reason in ``error``."""
    return service.test(source_id)
