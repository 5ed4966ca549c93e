"""Headrace workflows: an Airflow import error for every definition that cannot become a DAG.

Both folders the loader reads are checked (``[headrace] workflows_folder`` and
``[headrace] definitions_folder``), duplicate workflow ids across them included.

Kept apart from ``headrace_workflows.py`` so that a bad definition never marks the good DAGs broken.
It defines no DAG; when every definition is valid, it parses cleanly.
"""

from headrace.workflows.loader import raise_invalid_workflows

raise_invalid_workflows()
