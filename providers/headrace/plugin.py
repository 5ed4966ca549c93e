"""The Airflow plugin: serves the Headrace REST API blueprint on the api-server.

Loaded through the ``airflow.plugins`` entry point of the installed package. ``plugins/headrace_plugin.py``
in the repository exposes the same class for a plugins folder, and stays silent when the entry point
is installed, so the plugin is never loaded twice.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from airflow.plugins_manager import AirflowPlugin

from headrace.api.blueprint import create_blueprint
from headrace.api.bridge import StreamingPluginBridge
from headrace.listeners import dag_runs
from headrace.ui import views as ui_views

PLUGIN_NAME = "headrace"


class HeadracePlugin(AirflowPlugin):
    name = PLUGIN_NAME
    flask_blueprints = [create_blueprint(), ui_views.create_blueprint()]
    # One "Headrace" entry in the Airflow navigation: the UI shows the pages at /plugin/headrace, in
    # an iframe of the same origin, so they share its login cookie and theme (see ui/views.py).
    external_views = [
        {
            "name": "Headrace",
            "href": "/pluginsv2" + ui_views.URL_PREFIX + "/",
            "url_route": "headrace",
            "destination": "nav",
            "nav_top_level": True,
        },
        # A tab on every DagRun page (Airflow fills in {DAG_ID} and {RUN_ID}; it cannot limit a tab to
        # one DAG): for headrace_ingestion runs the job's target table, status and rows written.
        {
            "name": "Ingestion job",
            "href": "/pluginsv2" + ui_views.URL_PREFIX + "/ingestion/dag-run/{DAG_ID}/{RUN_ID}",
            "url_route": "headrace-ingestion-job",
            "destination": "dag_run",
        },
    ]
    # Streams request bodies (uploads) past Airflow's buffering /pluginsv2 mount; see api/bridge.py.
    fastapi_root_middlewares = [{"middleware": StreamingPluginBridge, "name": "headrace-streaming-bridge"}]
    # DagRuns -> job events, in the scheduler (and the api-server when a run is marked).
    listeners = [dag_runs]


def entry_point_installed() -> bool:
    return any(ep.name == PLUGIN_NAME for ep in entry_points(group="airflow.plugins"))
