"""Headrace workflows: an Airflow import error for every definition that cannot become a DAG.

Kept apart from ``headrace_workflows.py`` so that a bad definition never marks the good DAGs broken.
It defines no DAG; when every definition is valid, it parses cleanly.
"""

from headrace.workflows.loader import raise_invalid_workflows

raise_invalid_workflows()
