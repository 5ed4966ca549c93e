"""The shipped ingestion DAG: one run per ingestion job; the run conf is the job spec.

``POST /pluginsv2/headrace/api/v1/ingestion/jobs`` triggers it with ``run_id = job_id``; it can also be
triggered from the Airflow UI or CLI with a spec as conf.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from headrace.operators.ingestion import IngestionOperator

with DAG(
    dag_id="headrace_ingestion",
    description="Load files from object storage into a lakehouse table (one run per job)",
    schedule=None,
    catchup=False,
    is_paused_upon_creation=False,
    render_template_as_native_obj=True,
    max_active_runs=16,
    tags=["headrace", "ingestion"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    doc_md=__doc__,
) as dag:
    IngestionOperator(task_id="ingest", spec="{{ dag_run.conf }}", job_id="{{ run_id }}")
