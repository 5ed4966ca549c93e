"""Time-bucketed metrics of Headrace pipelines, workflows, ingestion jobs and binary jobs, from
Airflow's run history (``dag_run``, their task XComs) and the job queue's table.

Each run or job falls into the bucket of its start (a queued run: when it was queued; a binary
job: when it was submitted); buckets are ``step`` wide from ``start``. Only DAGs the caller may
read are counted.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from headrace import config
from headrace.api.datamodels.observability import (
    Aggregates,
    MetricLabels,
    MetricPoint,
    ObservabilityMetrics,
    ObservabilityQuery,
)
from headrace.api.errors import RequestValidationError

_RUN_STATUS = {"success": "success", "failed": "failed", "running": "running", "queued": "queued"}
_JOB_STATUS = {"pending": "queued", "running": "running", "completed": "success", "failed": "failed"}
_SUM = "records_processed"
_MEAN = "pipeline_duration_seconds"


@dataclass(frozen=True)
class Item:
    """One run or job: its series, when it started and, once ended, how long it took."""

    pipeline: str
    status: str
    at: datetime
    duration: float | None
    records: int = 0


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return max((_aware(end) - _aware(start)).total_seconds(), 0.0) if start and end else None


def observe(query: ObservabilityQuery, readable: Callable[[set[str]], set[str]]) -> ObservabilityMetrics:
    """``readable`` narrows DAG ids to those the caller may read."""
    end = _aware(query.end) if query.end else datetime.now(UTC)
    start = _aware(query.start) if query.start else end - timedelta(hours=24)
    if start >= end:
        raise RequestValidationError.for_field("start", "must be before end")
    buckets = math.ceil((end - start).total_seconds() / query.step_seconds)
    if buckets > config.observability_max_buckets():
        raise RequestValidationError.for_field(
            "step",
            f"{buckets} buckets between start and end; at most {config.observability_max_buckets()} "
            "([headrace] observability_max_buckets): choose a wider step or a shorter window",
        )
    if query.metric == "job_queue_jobs":
        items = _jobs(start, end)
    else:
        items = _runs(query.metric, start, end, readable)
    if query.pipeline:
        items = [i for i in items if i.pipeline == query.pipeline]
    return ObservabilityMetrics(
        metric=query.metric,
        start=_iso(start),
        end=_iso(end),
        step_seconds=query.step_seconds,
        metrics=_points(query.metric, items, start, query.step_seconds),
        aggregates=_aggregates(query.metric, items),
    )


def _points(metric: str, items: list[Item], start: datetime, step: int) -> list[MetricPoint]:
    groups: dict[tuple[int, str, str], list[Item]] = defaultdict(list)
    for item in items:
        index = int((item.at - start).total_seconds() // step)
        groups[(index, item.pipeline, item.status)].append(item)
    points = []
    for (index, pipeline, status), members in sorted(groups.items()):
        if metric == _SUM:
            value: float | None = float(sum(m.records for m in members))
        elif metric == _MEAN:
            durations = [m.duration for m in members if m.duration is not None]
            value = round(sum(durations) / len(durations), 3) if durations else None
        else:
            value = float(len(members))
        if value is None:
            continue
        points.append(
            MetricPoint(
                timestamp=_iso(start + timedelta(seconds=index * step)),
                value=value,
                labels=MetricLabels(pipeline=pipeline, status=status),
            )
        )
    return points


def _aggregates(metric: str, items: list[Item]) -> Aggregates:
    done = sum(1 for i in items if i.status == "success")
    failed = sum(1 for i in items if i.status == "failed")
    durations = [i.duration for i in items if i.duration is not None and i.status in ("success", "failed")]
    return Aggregates(
        total=float(sum(i.records for i in items)) if metric == _SUM else float(len(items)),
        success_rate=round(done / (done + failed), 4) if done + failed else None,
        avg_duration_seconds=round(sum(durations) / len(durations), 3) if durations else None,
    )


def _runs(
    metric: str, start: datetime, end: datetime, readable: Callable[[set[str]], set[str]]
) -> list[Item]:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from headrace.api.services.ingestion_jobs import DAG_ID
    from headrace.api.services.operations import headrace_dag_ids

    with create_session() as session:
        dag_ids = (
            {DAG_ID} if metric == "ingestion_jobs" else set(headrace_dag_ids(session, with_ingestion=False))
        )
        dag_ids = readable(dag_ids) if dag_ids else set()
        if not dag_ids:
            return []
        began = func.coalesce(DagRun.start_date, DagRun.queued_at, DagRun.run_after)
        runs = session.execute(
            select(
                DagRun.dag_id,
                DagRun.run_id,
                DagRun.state,
                DagRun.start_date,
                DagRun.end_date,
                began.label("at"),
            ).where(DagRun.dag_id.in_(sorted(dag_ids)), began >= start, began < end)
        ).all()
        records: dict[tuple[str, str], int] = defaultdict(int)
        if metric == _SUM and runs:
            wanted = {(r.dag_id, r.run_id) for r in runs}
            for row in session.scalars(
                select(XComModel).where(
                    XComModel.dag_id.in_(sorted(dag_ids)),
                    XComModel.run_id.in_(sorted({r.run_id for r in runs})),
                    XComModel.key == "return_value",
                )
            ):
                if (row.dag_id, row.run_id) not in wanted:
                    continue
                result = XComModel.deserialize_value(row)
                count = (
                    result.get("records_processed", result.get("rows_written"))
                    if isinstance(result, dict)
                    else None
                )
                records[(row.dag_id, row.run_id)] += count if isinstance(count, int) else 0
    return [
        Item(
            pipeline=r.dag_id,
            status=_RUN_STATUS.get(str(r.state), "running"),
            at=_aware(r.at),
            duration=_seconds(r.start_date, r.end_date),
            records=records.get((r.dag_id, r.run_id), 0),
        )
        for r in runs
    ]


def _jobs(start: datetime, end: datetime) -> list[Item]:
    from airflow import settings
    from sqlalchemy import select

    from headrace.db.models import QueuedJob

    with settings.engine.connect() as connection:
        rows = connection.execute(
            select(
                QueuedJob.type,
                QueuedJob.status,
                QueuedJob.created_at,
                QueuedJob.started_at,
                QueuedJob.completed_at,
            ).where(QueuedJob.created_at >= start, QueuedJob.created_at < end)
        ).all()
    return [
        Item(
            pipeline=kind,
            status=_JOB_STATUS.get(status, "cancelled"),
            at=_aware(created),
            duration=_seconds(started, completed),
        )
        for kind, status, created, started, completed in rows
    ]
