"""The WebSocket's ``agent_status`` and ``system_alert`` messages, checked once per process.

Agents are the components this process can see in the metadata database: Headrace's binary-job
executors (``headrace_job_executor``) and Airflow's scheduler, triggerer and dag-processor (Airflow's
``job`` table). Their status comes from the age of their last heartbeat; ``resource_usage`` only for
processes on this host that psutil can find (never guessed: null otherwise). A message is sent when a
status changes. ``system_alert`` is this host's memory / CPU percent crossing
``[headrace] alert_memory_percent`` / ``alert_cpu_percent``: one alert when it crosses up, one
``info`` when it is back below (edge-triggered).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil

from headrace import config
from headrace.api.streams import fanout

log = logging.getLogger(__name__)

INTERVAL = 5.0  # seconds between two checks (slower than the event poll)
EXECUTOR_STALE, EXECUTOR_OFFLINE = timedelta(seconds=60), timedelta(minutes=5)
AIRFLOW_COMPONENTS = {
    "SchedulerJob": "scheduler",
    "TriggererJob": "triggerer",
    "DagProcessorJob": "dag-processor",
}


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Monitor(fanout.Hub):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, dict[str, Any]] = {}  # agent_id -> last agent_status message
        self.alerting: dict[str, bool] = {}  # "memory" / "cpu" -> above its threshold
        self._processes: dict[int, psutil.Process] = {}  # kept so cpu_percent measures between checks

    def snapshot(self) -> list[dict[str, Any]]:
        """The current status of every agent, for a new subscriber."""
        return list(self.statuses.values())

    async def produce(self) -> None:
        while self.subscribers:
            for message in await asyncio.to_thread(self.check):
                self.publish(message)
            await asyncio.sleep(INTERVAL)

    def check(self) -> list[dict[str, Any]]:
        messages = []
        try:
            agents = self.agents()
        except Exception:
            log.exception("Could not read the agents' heartbeats")
            agents = []
        for agent in agents:
            previous = self.statuses.get(agent["agent_id"])
            self.statuses[agent["agent_id"]] = agent
            if previous is None or (previous["status"], previous["current_task"]) != (
                agent["status"],
                agent["current_task"],
            ):
                messages.append(agent)
        messages += self.host_alerts()
        return messages

    def agents(self) -> list[dict[str, Any]]:
        from airflow import settings
        from airflow.jobs.job import Job, health_check_threshold
        from airflow.utils.net import get_hostname
        from sqlalchemy import func, select

        from headrace.db.models import JobExecutor

        now, here = datetime.now(UTC), get_hostname()
        found = []
        with settings.engine.connect() as connection:
            executors = connection.execute(
                select(JobExecutor.id, JobExecutor.last_seen_at, JobExecutor.current_job_id).where(
                    JobExecutor.last_seen_at >= now - timedelta(days=1)
                )
            ).all()
            latest = (
                select(func.max(Job.id))
                .where(Job.job_type.in_(AIRFLOW_COMPONENTS), Job.state == "running")
                .group_by(Job.job_type, Job.hostname)
            )
            jobs = connection.execute(
                select(Job.job_type, Job.hostname, Job.latest_heartbeat).where(Job.id.in_(latest))
            ).all()
        for executor_id, last_seen, current_job in executors:
            age = now - _aware(last_seen)
            status = "offline" if age > EXECUTOR_OFFLINE else "unhealthy" if age > EXECUTOR_STALE else None
            status = status or ("busy" if current_job else "healthy")
            found.append(self._message(executor_id, status, current_job if status == "busy" else None, None))
        for job_type, hostname, heartbeat in jobs:
            component = AIRFLOW_COMPONENTS[job_type]
            threshold = health_check_threshold(job_type, 5)
            age = (now - _aware(heartbeat)).total_seconds() if heartbeat else float("inf")
            status = "healthy" if age <= threshold else "unhealthy" if age <= 3 * threshold else "offline"
            usage = self._usage(component) if hostname == here and status != "offline" else None
            found.append(self._message(f"{component}@{hostname}", status, None, usage))
        return found

    def _message(self, agent_id: str, status: str, task: str | None, usage: dict | None) -> dict[str, Any]:
        return {
            "type": "agent_status",
            "agent_id": agent_id,
            "status": status,
            "current_task": task,
            "resource_usage": usage,
            "timestamp": _timestamp(),
        }

    def _usage(self, component: str) -> dict[str, float] | None:
        """CPU and memory of the one ``airflow <component>`` process on this host (its main process)."""
        matches = []
        for process in psutil.process_iter(["pid", "ppid", "cmdline"]):
            cmdline = process.info.get("cmdline") or []
            launcher = len(cmdline) >= 2 and any(part.endswith("airflow") for part in cmdline[:2])
            if launcher and component in cmdline[1:3]:
                matches.append(process)
        pids = {p.info["pid"] for p in matches}
        main = [p for p in matches if p.info["ppid"] not in pids]
        if len(main) != 1:
            return None
        process = self._processes.setdefault(main[0].info["pid"], main[0])
        try:
            with process.oneshot():
                return {
                    "cpu_percent": round(process.cpu_percent(None), 1),
                    "memory_mb": round(process.memory_info().rss / 2**20),
                }
        except psutil.Error:
            self._processes.pop(process.pid, None)
            return None

    def host_alerts(self) -> list[dict[str, Any]]:
        from airflow.utils.net import get_hostname

        agent_id = f"api-server@{get_hostname()}"
        readings = {
            "memory": (psutil.virtual_memory().percent, config.alert_memory_percent()),
            "cpu": (psutil.cpu_percent(None), config.alert_cpu_percent()),
        }
        alerts = []
        for name, (value, threshold) in readings.items():
            above = value >= threshold
            if above == self.alerting.get(name, False):
                continue
            self.alerting[name] = above
            word, back = ("memory", "Memory") if name == "memory" else ("CPU", "CPU")
            alerts.append(
                {
                    "type": "system_alert",
                    "severity": "warning" if above else "info",
                    "message": f"High {word} usage detected on {agent_id}"
                    if above
                    else f"{back} usage back to normal on {agent_id}",
                    "details": {"agent_id": agent_id, f"{name}_percent": value, "threshold": threshold},
                    "timestamp": _timestamp(),
                }
            )
        return alerts


def monitor() -> Monitor:
    return fanout.shared("monitor", Monitor)
