"""Example: one job binary run both ways, queued for a ``headrace executor`` and inline in the task.

``queued`` submits the job through the ``headrace_api_default`` connection (host: the api-server's
URL, password: an API key with the ``write`` scope) and defers: the triggerer follows the job while
no worker slot is held. ``inline`` then runs the same binary inside its task, with the executor's own
download, sha256 check and run code, and passes the queued job's exit code as an argument.

The binary is named by two Airflow Variables, ``headrace_example_job_binary_url`` and
``headrace_example_job_binary_sha256``: whoever may edit Variables chooses the code that runs, never
whoever triggers a run (the run's ``who`` param is only an argument). Its URL must match
``[headrace] job_binary_url_allowlist``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param

from headrace.operators.job_execution import JobExecutionOperator

BINARY = {
    "binary_url": "{{ var.value.get('headrace_example_job_binary_url', '') }}",
    "binary_sha256": "{{ var.value.get('headrace_example_job_binary_sha256', '') }}",
}

with DAG(
    dag_id="example_job_execution",
    dag_display_name="Example: job binaries, queued and inline",
    description="A job binary run by a headrace executor (deferred task), then inline in a task.",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["headrace", "example", "jobs"],
    params={"who": Param("world", type="string", description="First argument of the binary")},
    doc_md=__doc__,
) as dag:
    queued = JobExecutionOperator(
        task_id="queued",
        **BINARY,
        arguments=["{{ params.who }}", "queued"],
        env_variables={"AIRFLOW_RUN_ID": "{{ run_id }}"},
        priority="foreground",
        mode="queue",
        poll_interval=2,
    )
    inline = JobExecutionOperator(
        task_id="inline",
        **BINARY,
        arguments=["{{ params.who }}", "inline", "{{ ti.xcom_pull(task_ids='queued', key='exit_code') }}"],
        env_variables={"AIRFLOW_RUN_ID": "{{ run_id }}"},
        mode="inline",
    )
    queued >> inline
