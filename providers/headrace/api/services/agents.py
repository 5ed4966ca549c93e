"""Agents: who does the work in this deployment, read from the metadata database at each request.

- Airflow's scheduler, triggerer and dag-processor: the newest row of each (component, host) in
  Airflow's ``job`` table; status from the heartbeat's age against Airflow's own health-check
  threshold of that component (healthy within it, unhealthy up to three times it, offline beyond or
  once the job has ended).
- This api-server: it is answering, so healthy; its resource usage covers all of its workers.
- Workers: the hosts where task instances ran in the last 24 hours (``task_instance.hostname``);
  busy while one runs there. An idle worker has no heartbeat of its own: it counts as healthy when
  the LocalExecutor runs its tasks inside a healthy scheduler on that host, else offline.
- Headrace's binary-job executors (``headrace_job_executor``), against ``[headrace]
  job_heartbeat_timeout``.

``resource_usage`` comes from psutil and only for processes on this host. Ids are
``<component>@<hostname>`` (the WebSocket's ``agent_status`` uses the same), or the executor's id.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from headrace import __version__, config
from headrace.api.datamodels.agents import (
    Agent,
    AgentDetail,
    CurrentTask,
    Performance,
    PerformanceSample,
    RecentTask,
    ResourceUsage,
)
from headrace.api.errors import NotFound
from headrace.operations import system

AIRFLOW_COMPONENTS = {
    "SchedulerJob": "scheduler",
    "TriggererJob": "triggerer",
    "DagProcessorJob": "dag-processor",
}
CAPABILITIES = {
    "scheduler": ["dag_scheduling", "task_queueing", "dag_run_listeners"],
    "triggerer": ["deferred_tasks", "async_triggers"],
    "dag-processor": ["dag_parsing", "headrace_workflow_loading"],
    "api-server": ["rest_api", "airflow_ui", "headrace_api", "websocket", "server_sent_events"],
    "worker": ["task_execution"],
    "executor": ["binary_jobs"],
}
WINDOW = timedelta(hours=24)
_RECENT = 10


class AgentNotFound(NotFound):
    code = "AGENT_NOT_FOUND"


@dataclass
class Found:
    """An agent and what its details need (kept out of the list answer)."""

    agent: Agent
    local_process: Any = None  # psutil.Process on this host, for the detail's sample
    executor: Any = None  # ExecutorInfo for executors


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _usage(process) -> ResourceUsage | None:
    measured = system.usage(process) if process is not None else None
    return ResourceUsage(**vars(measured)) if measured else None


def _airflow_home() -> str:
    from airflow.configuration import AIRFLOW_HOME

    return AIRFLOW_HOME


def _rate(done: int, failed: int) -> float | None:
    return round(done / (done + failed), 4) if done + failed else None


def _by_age(age: float, threshold: float) -> str:
    return "healthy" if age <= threshold else "unhealthy" if age <= 3 * threshold else "offline"


def collect(*, measure: bool = True) -> list[Found]:
    """Every agent; ``measure=False`` skips psutil (the counts of ``GET /metrics`` need no usage)."""
    from airflow.utils.net import get_hostname

    now, here = datetime.now(UTC), get_hostname()
    found = _airflow_components(now, here, measure)
    found.append(_api_server(now, here, measure))
    found += _workers(now, here, measure, found)
    found += _executors(now)
    return found


def agents() -> list[Agent]:
    return [f.agent for f in collect()]


def _airflow_components(now: datetime, here: str, measure: bool) -> list[Found]:
    from airflow import __version__ as airflow_version
    from airflow.jobs.job import Job, health_check_threshold
    from airflow.models.dagrun import DagRun
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        newest = (
            select(func.max(Job.id))
            .where(Job.job_type.in_(AIRFLOW_COMPONENTS), Job.latest_heartbeat >= now - 7 * WINDOW)
            .group_by(Job.job_type, Job.hostname)
        )
        jobs = session.execute(
            select(Job.id, Job.job_type, Job.hostname, Job.state, Job.latest_heartbeat).where(
                Job.id.in_(newest)
            )
        ).all()
        active_runs = session.scalar(
            select(func.count()).select_from(DagRun).where(DagRun.state.in_(("queued", "running")))
        )
        triggers = dict(
            session.execute(
                select(Trigger.triggerer_id, func.count())
                .where(Trigger.triggerer_id.is_not(None))
                .group_by(Trigger.triggerer_id)
            ).all()
        )
    found = []
    for job_id, job_type, hostname, state, heartbeat in sorted(jobs, key=lambda j: (j[1], j[2] or "")):
        component = AIRFLOW_COMPONENTS[job_type]
        age = (now - _aware(heartbeat)).total_seconds() if heartbeat else None
        threshold = health_check_threshold(job_type, 5)
        status = "offline" if state != "running" or age is None else _by_age(age, threshold)
        local = hostname == here and status != "offline"
        process = system.find_airflow_process(component, _airflow_home()) if local and measure else None
        performance = Performance(
            heartbeat_age_seconds=round(age, 1) if age is not None else None,
            active_workflows=active_runs if component == "scheduler" else None,
            active_triggers=triggers.get(job_id, 0) if component == "triggerer" else None,
        )
        agent = Agent(
            agent_id=f"{component}@{hostname}",
            type=component,
            status=status,
            version=airflow_version if hostname == here else None,
            hostname=hostname,
            capabilities=CAPABILITIES[component],
            performance=performance,
            resource_usage=_usage(process) if measure else None,
            last_heartbeat=_iso(heartbeat),
        )
        found.append(Found(agent, local_process=process))
    return found


def _api_server(now: datetime, here: str, measure: bool) -> Found:
    from headrace.api.services import operations

    root = system.server_root()
    summary = operations.stats().summary()
    agent = Agent(
        agent_id=f"api-server@{here}",
        type="api-server",
        status="healthy",
        version=__version__,
        hostname=here,
        capabilities=CAPABILITIES["api-server"],
        performance=Performance(
            average_response_time=round(summary.average_ms, 2) if summary.average_ms is not None else None,
            heartbeat_age_seconds=0.0,
        ),
        resource_usage=_usage(root) if measure else None,
        last_heartbeat=_iso(now),
    )
    return Found(agent, local_process=root)


def _workers(now: datetime, here: str, measure: bool, components: list[Found]) -> list[Found]:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.utils.session import create_session
    from sqlalchemy import or_, select

    from headrace.api.services.workflow_runs import executor

    with create_session() as session:
        rows = session.execute(
            select(
                TI.hostname, TI.task_id, TI.dag_id, TI.state, TI.start_date, TI.end_date, TI.duration, TI.pid
            )
            .where(TI.hostname.is_not(None), TI.hostname != "")
            .where(or_(TI.state == "running", TI.end_date >= now - WINDOW))
        ).all()
    hosts: dict[str, list] = defaultdict(list)
    for row in rows:
        hosts[row.hostname].append(row)
    local_scheduler = {
        f.agent.hostname for f in components if f.agent.type == "scheduler" and f.agent.status == "healthy"
    }
    found = []
    for hostname, tis in sorted(hosts.items()):
        running = sorted((t for t in tis if t.state == "running"), key=lambda t: t.start_date or now)
        ended = [t for t in tis if t.state in ("success", "failed", "upstream_failed") and t.end_date]
        done = sum(1 for t in ended if t.state == "success")
        durations = [t.duration for t in ended if t.state == "success" and t.duration is not None]
        if running:
            status = "busy"
        elif executor() == "LocalExecutor" and hostname in local_scheduler:
            status = "healthy"
        else:
            status = "offline"
        last = max(
            (_aware(t.end_date or t.start_date) for t in tis if t.end_date or t.start_date), default=None
        )
        process = None
        if running and hostname == here and measure:
            process = _process(running[0].pid)
        current = running[0] if running else None
        agent = Agent(
            agent_id=f"worker@{hostname}",
            type="worker",
            status=status,
            version=None,
            hostname=hostname,
            capabilities=CAPABILITIES["worker"],
            performance=Performance(
                completed_tasks=done,
                failed_tasks=len(ended) - done,
                success_rate=_rate(done, len(ended) - done),
                average_task_duration=round(sum(durations) / len(durations), 3) if durations else None,
            ),
            resource_usage=_usage(process),
            last_heartbeat=_iso(now if running else last),
            current_task=CurrentTask(
                task_id=current.task_id, workflow_id=current.dag_id, started_at=_iso(current.start_date)
            )
            if current
            else None,
        )
        found.append(Found(agent, local_process=process))
    return found


def _process(pid: int | None):
    import psutil

    if not pid:
        return None
    try:
        return psutil.Process(pid)
    except psutil.Error:
        return None


def _executors(now: datetime) -> list[Found]:
    from headrace.api.services import jobs

    timeout = config.job_heartbeat_timeout()
    found = []
    for info in jobs.queue().executors(active_only=False):
        age = (now - _aware(info.last_seen_at)).total_seconds()
        if age > WINDOW.total_seconds():
            continue
        status = _by_age(age, timeout)
        busy = status == "healthy" and info.current_job_id is not None
        failed = info.jobs_failed + info.jobs_lost
        agent = Agent(
            agent_id=info.id,
            type="executor",
            status="busy" if busy else status,
            version=None,
            hostname=info.hostname,
            capabilities=[*CAPABILITIES["executor"], *(f"job_type:{t}" for t in info.types or [])],
            performance=Performance(
                completed_tasks=info.jobs_completed,
                failed_tasks=failed,
                success_rate=_rate(info.jobs_completed, failed),
                heartbeat_age_seconds=round(age, 1),
            ),
            last_heartbeat=_iso(info.last_seen_at),
            current_task=CurrentTask(task_id=info.current_job_id, workflow_id=None) if busy else None,
        )
        found.append(Found(agent, executor=info))
    return found


def detail(agent_id: str) -> AgentDetail:
    match = next((f for f in collect() if f.agent.agent_id == agent_id), None)
    if match is None:
        raise AgentNotFound(
            f"Agent with ID '{agent_id}' was not found",
            details={"agent_id": agent_id, "suggestion": "List the agents with GET /agents"},
        )
    agent = match.agent
    recent = _recent_executor_jobs(agent.agent_id) if agent.type == "executor" else []
    if agent.type == "worker":
        recent = _recent_worker_tasks(agent.hostname or "")
    active = 1 if agent.current_task else 0
    usage = agent.resource_usage
    sample = PerformanceSample(
        timestamp=_iso(datetime.now(UTC)) or "",
        cpu_percent=usage.cpu_percent if usage else None,
        memory_mb=usage.memory_mb if usage else None,
        active_tasks=active if agent.type in ("worker", "executor") else None,
        task_completion_rate=_last_hour(recent) if agent.type in ("worker", "executor") else None,
    )
    return AgentDetail(
        **agent.model_dump(),
        configuration=_configuration(match),
        performance_history=[sample],
        recent_tasks=[task for task, _ in recent[:_RECENT]],
    )


def _last_hour(recent: list[tuple[RecentTask, datetime | None]]) -> float:
    since = datetime.now(UTC) - timedelta(hours=1)
    return float(sum(1 for _, ended in recent if ended and _aware(ended) >= since))


def _recent_worker_tasks(hostname: str) -> list[tuple[RecentTask, datetime | None]]:
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.execute(
            select(TI.task_id, TI.dag_id, TI.run_id, TI.state, TI.duration, TI.end_date)
            .where(TI.hostname == hostname, TI.start_date.is_not(None))
            .order_by(TI.start_date.desc())
            .limit(50)
        ).all()
        answer = []
        for ti in tis:
            row = session.scalar(
                XComModel.get_many(
                    run_id=ti.run_id, key="return_value", dag_ids=ti.dag_id, task_ids=ti.task_id
                )
            )
            result = XComModel.deserialize_value(row) if row is not None else None
            records = (
                result.get("records_processed", result.get("rows_written"))
                if isinstance(result, dict)
                else None
            )
            task = RecentTask(
                task_id=ti.task_id,
                workflow_id=ti.dag_id,
                status=str(ti.state),
                duration=ti.duration,
                records_processed=records if isinstance(records, int) else None,
            )
            answer.append((task, ti.end_date))
    return answer


def _recent_executor_jobs(executor_id: str) -> list[tuple[RecentTask, datetime | None]]:
    from airflow import settings
    from sqlalchemy import select

    from headrace.db.models import JobAttempt

    with settings.engine.connect() as connection:
        rows = connection.execute(
            select(JobAttempt.job_id, JobAttempt.status, JobAttempt.duration_seconds, JobAttempt.ended_at)
            .where(JobAttempt.executor_id == executor_id)
            .order_by(JobAttempt.started_at.desc())
            .limit(50)
        ).all()
    return [
        (RecentTask(task_id=job_id, status=status, duration=duration), ended)
        for job_id, status, duration, ended in rows
    ]


def _configuration(match: Found) -> dict[str, Any]:
    from airflow.configuration import conf

    agent = match.agent

    def get(section: str, key: str) -> Any:
        return conf.get(section, key, fallback=None)

    if agent.type == "scheduler":
        return {
            "executor": get("core", "executor"),
            "parallelism": get("core", "parallelism"),
            "max_active_runs_per_dag": get("core", "max_active_runs_per_dag"),
            "scheduler_heartbeat_sec": get("scheduler", "scheduler_heartbeat_sec"),
            "health_check_threshold": get("scheduler", "scheduler_health_check_threshold"),
        }
    if agent.type == "triggerer":
        return {
            "capacity": get("triggerer", "capacity") or get("triggerer", "default_capacity"),
            "health_check_threshold": get("triggerer", "triggerer_health_check_threshold"),
        }
    if agent.type == "dag-processor":
        return {
            "refresh_interval": get("dag_processor", "refresh_interval"),
            "health_check_threshold": get("dag_processor", "health_check_threshold"),
        }
    if agent.type == "api-server":
        return {"workers": get("api", "workers"), "rate_limit": config.rate_limit_for("metrics")}
    if agent.type == "worker":
        return {"executor": get("core", "executor"), "parallelism": get("core", "parallelism")}
    return {
        "types": match.executor.types if match.executor else None,
        "heartbeat_timeout": config.job_heartbeat_timeout(),
        "max_attempts": config.job_max_attempts(),
    }
