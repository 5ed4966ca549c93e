"""Airflow adapter of the event log: this deployment's DagRuns (jobs) and task instances (subjobs).

:mod:`~headrace.listeners.dag_runs` is the scheduler-side listener the plugin registers;
:mod:`~headrace.listeners.task_instances` is the api-server's poller of Airflow's tables; both
translate through :mod:`~headrace.listeners.translate`. Nothing here is imported by the domain.
"""
