"""Agents (workflows-api): ``GET /agents`` and ``GET /agents/{agent_id}``.

The agents are this deployment's real moving parts (see :mod:`headrace.api.services.agents`); reading
them is cluster activity in Airflow's terms.
"""

from __future__ import annotations

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView

from headrace.api.datamodels.agents import AgentDetail, AgentList
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, view
from headrace.api.services import agents as service

_NS = Namespace.AGENTS
_READ = view(AccessView.CLUSTER_ACTIVITY, Scope.READ)


@endpoint("/agents", "GET", _NS, summary="List agents", permission=_READ, response=AgentList)
def list_agents():
    """Airflow's scheduler, triggerer and dag-processor (from their heartbeats), this api-server, the
    hosts that ran task instances in the last 24 hours, and Headrace's binary-job executors.
    `resource_usage` is measured with psutil for processes on this host only (null otherwise)."""
    return AgentList(agents=service.agents())


@endpoint(
    "/agents/<agent_id>",
    "GET",
    _NS,
    summary="An agent with its configuration and recent tasks",
    permission=_READ,
    response=AgentDetail,
    errors=(404,),
)
def get_agent(agent_id: str):
    """404 `AGENT_NOT_FOUND` for an id `GET /agents` does not list."""
    return service.detail(agent_id)
