"""Headrace workflows: one Airflow DAG per definition file in the workflows folder.

Definitions are YAML or JSON files in ``[headrace] workflows_folder`` (default ``<dags folder>/workflows``).
A bad definition is left out here and reported by ``headrace_workflow_errors.py`` as an import error.
"""

from headrace.workflows.loader import load_workflows

load_workflows(globals())
