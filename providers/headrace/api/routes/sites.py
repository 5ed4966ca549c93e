"""Central job-monitoring API: the sites it forwards ``?site=`` queries to (job-monitoring-api).

Static sites come from ``[headrace] monitoring_sites``; admins add and delete others here. The rules
are in :mod:`headrace.events.sites`, the forwarding in :mod:`headrace.api.services.sites`.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

from headrace.api.datamodels.sites import SiteCreate, SiteList, SiteView
from headrace.api.namespaces import Namespace
from headrace.api.registry import MONITORING_BASE, endpoint
from headrace.api.security import ADMIN, Principal, view
from headrace.api.services import sites as service

_NS = Namespace.EVENTS
_READ = view(AccessView.JOBS)


@endpoint(
    "/v1/sites",
    "GET",
    _NS,
    summary="List the sites of the central API",
    permission=_READ,
    response=SiteList,
    base=MONITORING_BASE,
)
def list_sites():
    """Static sites (``[headrace] monitoring_sites``) and added ones, sorted by id."""
    sites = [SiteView(id=s.id, endpoint=s.endpoint) for s in service.list_sites()]
    return SiteList(sites=sites, count=len(sites))


@endpoint(
    "/v1/sites",
    "POST",
    _NS,
    summary="Add a site",
    permission=ADMIN,
    body=SiteCreate,
    response=SiteView,
    status=201,
    errors=(409,),
    base=MONITORING_BASE,
)
def add_site(principal: Principal, body: SiteCreate):
    """``api_key`` is stored encrypted with Airflow's Fernet key and never shown back; an id that
    exists already (static or added) is answered 409."""
    site = service.add_site(body.id, body.endpoint, body.api_key, created_by=principal.username)
    return SiteView(id=site.id, endpoint=site.endpoint), 201


@endpoint(
    "/v1/sites/<site_id>",
    "DELETE",
    _NS,
    summary="Delete an added site",
    permission=ADMIN,
    status=204,
    errors=(404, 409),
    base=MONITORING_BASE,
)
def delete_site(site_id: str):
    """A static site (configured in ``[headrace] monitoring_sites``) cannot be deleted here: 409."""
    service.remove_site(site_id)
    return None, 204
