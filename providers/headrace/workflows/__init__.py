"""Workflow definitions (YAML or JSON files) that the shipped loader turns into Airflow DAGs.

:mod:`~headrace.workflows.model` says what a definition may hold, :mod:`~headrace.workflows.plan`
checks it as a whole and decides each task, :mod:`~headrace.workflows.builder` builds the DAG,
:mod:`~headrace.workflows.render` prints it as a standalone DAG file and
:mod:`~headrace.workflows.loader` is what the dags folder runs. ``python -m headrace.workflows``
validates, prints the JSON Schema, or renders.
"""
