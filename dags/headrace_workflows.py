"""Headrace workflows: one Airflow DAG per definition file of the two definition folders.

Definitions are YAML or JSON files in ``[headrace] workflows_folder`` (shipped and hand-written,
default ``<dags folder>/workflows``) and ``[headrace] definitions_folder`` (what the APIs deploy,
default ``$AIRFLOW_HOME/headrace/definitions``). A bad definition, or a second file of an id, is
left out here and reported by ``headrace_workflow_errors.py`` as an import error.
"""

from headrace.workflows.loader import load_workflows

load_workflows(globals())
