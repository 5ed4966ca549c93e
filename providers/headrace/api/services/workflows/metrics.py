"""Run metrics of a workflow's latest DagRun: durations, records and data volume per step, and what
its check steps found (checks run and failed, failing rows)."""

from __future__ import annotations

from headrace.api.datamodels.workflows import ExecutionMetrics, QualityMetrics, StepMetrics, WorkflowMetrics
from headrace.api.services import workflow_runs
from headrace.api.services.workflows.common import STEP_STATUS, plan_of, run_metrics
from headrace.workflows.plan import CHECK


def metrics(workflow_id: str) -> WorkflowMetrics:
    plan = plan_of(workflow_id)
    view = workflow_runs.latest_run(workflow_id)
    tasks = {t.task_id: t for t in view.tasks} if view else {}
    step_metrics = []
    checks_run = checks_failed = failing_rows = 0
    for task in plan.tasks:
        ti = tasks.get(task.key)
        result = ti.result if ti else None
        validation_errors = None
        if task.operator == CHECK and result:
            checks = result.get("checks", [])
            checks_run += len(checks)
            checks_failed += sum(1 for c in checks if not c.get("passed"))
            validation_errors = sum(int(c.get("failing_rows") or 0) for c in checks)
            failing_rows += validation_errors
        tries = ti.tries if ti else 0
        step_metrics.append(
            StepMetrics(
                step_name=task.key,
                status=STEP_STATUS.get(ti.state if ti else None, "pending"),
                duration=ti.duration if ti else None,
                records_processed=ti.records_processed if ti else None,
                tries=tries,
                success_rate=(1 / tries if ti.state == "success" else 0.0) if ti and tries else None,
                validation_errors=validation_errors,
            )
        )
    processing = sum(t.duration or 0 for t in tasks.values())
    total = view.duration if view else None
    run = run_metrics(view)
    return WorkflowMetrics(
        workflow_id=workflow_id,
        run_id=view.run_id if view else None,
        execution_metrics=ExecutionMetrics(
            total_duration=total,
            processing_time=round(processing, 3),
            overhead_time=round(max(total - processing, 0.0), 3) if total is not None else None,
            records_processed=run.records_processed,
            processing_rate=run.processing_rate,
            data_volume_mb=run.data_volume_mb,
        ),
        step_metrics=step_metrics,
        quality_metrics=QualityMetrics(
            checks_run=checks_run, checks_failed=checks_failed, failing_rows=failing_rows
        ),
    )
