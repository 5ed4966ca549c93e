"""The blueprint of the pages: ``/pluginsv2/headrace/ui/...`` on the api-server.

Each view only authenticates the caller (the Airflow UI's ``_token`` cookie, through the same
:mod:`headrace.api.security` code the API uses) and renders a shell; ``static/<page>.js`` fills it
from the REST API. What a page offers (the cancel button, the upload form) follows the permission of
the API endpoint behind it, read from the endpoint's own declaration, so the two cannot disagree;
the API enforces it again on every call.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from headrace.api import registry
from headrace.api.errors import ApiError
from headrace.api.security import Principal, current_principal

URL_PREFIX = registry.ROOT + "/ui"  # below /headrace, beside the API's /headrace/api/v1
# How often the pages poll, in seconds: one request per API namespace per poll, so an open page
# spends 30 of the default 100 requests per 15 minutes of a namespace (see docs/ui.md).
POLL_SECONDS = 30

# The pages of the navigation: (endpoint, title).
PAGES = (
    ("overview", "Overview"),
    ("lakehouse", "Lakehouse"),
    ("ingestion", "Ingestion jobs"),
    ("jobs", "Job queue"),
    ("monitoring", "Monitoring"),
    ("workflows", "Workflows and pipelines"),
)


def _allowed(principal: Principal, method: str, rule: str) -> bool:
    """Whether the caller passes the permission check of the API endpoint ``method rule``."""
    for spec in registry.ENDPOINTS:
        if spec.method == method and spec.rule == rule:
            if spec.permission is None:
                return True
            return bool(spec.permission.check(get_auth_manager(), principal.user))
    raise LookupError(f"no endpoint {method} {rule}")  # a renamed route must not silently hide a button


def _principal() -> Principal | None:
    try:
        return current_principal()
    except ApiError:  # an expired or revoked cookie: the same as none, log in again
        return None


def _nav() -> list[tuple[str, str, str]]:
    return [(name, title, url_for(f"headrace_ui.{name}")) for name, title in PAGES]


def _render(page: str, template: str, script: str | None = None, **context: Any) -> ResponseReturnValue:
    """The page's template, with what every page needs; ``script`` (default ``<page>.js``) fills it."""
    common = {"nav": _nav(), "page": page, "page_title": dict(PAGES)[page]}
    principal = _principal()
    if principal is None:
        return render_template("headrace/login_needed.html", **common), 401
    return render_template(
        template,
        **common,
        user=principal.username,
        api_base=request.script_root + registry.ROOT + registry.API_BASE,
        ui_base=request.script_root + URL_PREFIX,
        poll_seconds=POLL_SECONDS,
        script=f"{page}.js" if script is None else script,
        can_admin=_allowed(principal, "GET", "/admin/stats"),
        can_upload=_allowed(principal, "POST", "/upload/multiple"),
        can_cancel=_allowed(principal, "DELETE", "/jobs/<job_id>"),
        **context,
    )


def create_blueprint() -> Blueprint:
    blueprint = Blueprint(
        "headrace_ui",
        __name__,
        url_prefix=URL_PREFIX,
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )

    @blueprint.get("/")
    def overview() -> ResponseReturnValue:
        return _render("overview", "headrace/overview.html")

    @blueprint.get("/lakehouse")
    def lakehouse() -> ResponseReturnValue:
        return _render("lakehouse", "headrace/lakehouse.html")

    @blueprint.get("/lakehouse/<catalog>/<schema>/<table>")
    def table(catalog: str, schema: str, table: str) -> ResponseReturnValue:
        # The names reach the page as data attributes (escaped by Jinja) and the API as encoded path
        # segments; the API validates them.
        return _render("lakehouse", "headrace/table.html", catalog=catalog, schema=schema, table=table)

    @blueprint.get("/jobs")
    def jobs() -> ResponseReturnValue:
        return _render("jobs", "headrace/jobs.html")

    # --- job page (begin)
    @blueprint.get("/jobs/<job_id>")
    def job(job_id: str) -> ResponseReturnValue:
        return _render("jobs", "headrace/job.html", script="job.js", job_id=job_id)

    # --- job page (end)

    # --- ingestion pages (begin)
    from headrace.api.services.ingestion_jobs import DAG_ID as INGESTION_DAG_ID

    def _ingestion(template: str, **context: Any) -> ResponseReturnValue:
        """An ingestion page: the Airflow UI's root (for links to DagRuns) and who may start or cancel."""
        principal = _principal()  # None renders the login panel (401) in _render
        return _render(
            "ingestion",
            template,
            script="ingestion.js",
            # The blueprint is mounted at <Airflow root>/pluginsv2; DagRun pages live below that root.
            airflow_base=request.script_root.removesuffix("/pluginsv2"),
            ingestion_dag_id=INGESTION_DAG_ID,
            can_start_ingestion=principal is not None and _allowed(principal, "POST", "/ingestion/jobs"),
            can_cancel_ingestion=principal is not None
            and _allowed(principal, "DELETE", "/ingestion/jobs/<job_id>"),
            **context,
        )

    @blueprint.get("/ingestion")
    def ingestion() -> ResponseReturnValue:
        return _ingestion("headrace/ingestion.html")

    # The dag_run tab (plugin.py): Airflow fills in {DAG_ID} and {RUN_ID} for every DAG's runs, as it
    # cannot limit a tab to one DAG, so another DAG's run gets a "not a Headrace ingestion run" panel.
    @blueprint.get("/ingestion/dag-run/<dag_id>/<path:run_id>")
    def ingestion_dag_run(dag_id: str, run_id: str) -> ResponseReturnValue:
        return _ingestion(
            "headrace/ingestion_dag_run.html",
            dag_id=dag_id,
            run_id=run_id,
            is_ingestion_run=dag_id == INGESTION_DAG_ID,
        )

    # --- ingestion pages (end)

    # --- monitoring page (begin)
    @blueprint.get("/monitoring")
    def monitoring() -> ResponseReturnValue:
        # The job-monitoring API (and its SSE stream) sits beside the REST API, not below it.
        base = request.script_root + registry.ROOT + registry.MONITORING_BASE
        return _render("monitoring", "headrace/monitoring.html", monitoring_base=base)

    # --- monitoring page (end)

    # --- workflows page (begin)
    @blueprint.get("/workflows")
    def workflows() -> ResponseReturnValue:
        # Each control follows its own endpoint's permission (generate and deploy: DAGs PUT; run:
        # DAGs (run) POST); without a login _render answers 401 before any flag is read.
        principal = _principal()
        rules = {
            "can_generate": "/pipelines:generate",
            "can_deploy": "/pipelines/<pipeline_id>:deploy",
            "can_run": "/pipelines/<pipeline_id>:run",
        }
        flags = {
            name: principal is not None and _allowed(principal, "POST", rule) for name, rule in rules.items()
        }
        return _render(
            "workflows",
            "headrace/workflows.html",
            monitoring_base=request.script_root + registry.ROOT + registry.MONITORING_BASE,
            **flags,
        )

    # --- workflows page (end)

    return blueprint
