"""agent_status and system_alert as the WebSocket's monitor computes them, on the migrated metadata DB."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from headrace.api.streams import alerts


def test_agents_from_heartbeats_and_edge_triggered_host_alerts(app, monkeypatch):
    from airflow import settings
    from airflow.jobs.job import Job
    from airflow.utils.net import get_hostname

    from headrace.db.models import JobExecutor

    now = datetime.now(UTC)
    busy, gone, host = (
        f"exec-{uuid.uuid4().hex[:6]}",
        f"exec-{uuid.uuid4().hex[:6]}",
        f"h-{uuid.uuid4().hex[:6]}",
    )
    job_id = str(uuid.uuid4())
    with settings.engine.begin() as connection:
        for executor_id, seen, current in ((busy, now, job_id), (gone, now - timedelta(minutes=30), None)):
            connection.execute(
                sa.insert(JobExecutor).values(
                    id=executor_id,
                    first_seen_at=seen,
                    last_seen_at=seen,
                    current_job_id=current,
                    jobs_completed=0,
                    jobs_failed=0,
                    jobs_lost=0,
                )
            )
        connection.execute(
            sa.insert(Job.__table__).values(
                job_type="TriggererJob",
                state="running",
                hostname=host,
                latest_heartbeat=now - timedelta(hours=1),
            )
        )
    monitor = alerts.Monitor()
    monkeypatch.setattr("headrace.config.alert_memory_percent", lambda: 0.0)
    monkeypatch.setattr("headrace.config.alert_cpu_percent", lambda: 1000.0)
    first = monitor.check()
    by_agent = {m["agent_id"]: m for m in first if m["type"] == "agent_status"}
    assert by_agent[busy]["status"] == "busy" and by_agent[busy]["current_task"] == job_id
    assert by_agent[gone]["status"] == "offline" and by_agent[gone]["resource_usage"] is None
    assert by_agent[f"triggerer@{host}"]["status"] == "offline"  # not this host: no resource usage
    assert by_agent[f"triggerer@{host}"]["resource_usage"] is None and host != get_hostname()
    (alert,) = [m for m in first if m["type"] == "system_alert"]
    assert alert["severity"] == "warning" and alert["details"]["threshold"] == 0.0
    assert set(alert["details"]) == {"agent_id", "memory_percent", "threshold"}

    assert monitor.check() == []  # nothing changed: no message
    monkeypatch.setattr("headrace.config.alert_memory_percent", lambda: 1000.0)
    (back,) = monitor.check()
    assert back["type"] == "system_alert" and back["severity"] == "info"
