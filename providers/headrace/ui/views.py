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

# The pages of the navigation: (endpoint, title); the ones in UNAVAILABLE show a "not available" panel.
PAGES = (
    ("overview", "Overview"),
    ("lakehouse", "Lakehouse"),
    ("ingestion", "Ingestion jobs"),
    ("jobs", "Job queue"),
    ("monitoring", "Monitoring"),
    ("workflows", "Workflows and pipelines"),
)
# page -> what it will show, for a page whose capability is not built: it shows a "not available" panel.
UNAVAILABLE: dict[str, str] = {
    # --- ingestion pages: remove this line's entry when built
    "ingestion": "The list of ingestion jobs with links to their DagRuns",
    # --- monitoring page: remove this line's entry when built
    "monitoring": "Jobs and subjobs from the event log, updated live from the SSE stream",
    # --- workflows page: remove this line's entry when built
    "workflows": "Workflow and pipeline definitions, generating a pipeline from a sentence, deploying it",
}


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
    if page in UNAVAILABLE:
        template, script = "headrace/unavailable.html", ""
        context = {"title": dict(PAGES)[page], "capability": UNAVAILABLE[page]}
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
    @blueprint.get("/ingestion")
    def ingestion() -> ResponseReturnValue:
        return _render("ingestion", "headrace/ingestion.html")

    # --- ingestion pages (end)

    # --- monitoring page (begin)
    @blueprint.get("/monitoring")
    def monitoring() -> ResponseReturnValue:
        return _render("monitoring", "headrace/monitoring.html")

    # --- monitoring page (end)

    # --- workflows page (begin)
    @blueprint.get("/workflows")
    def workflows() -> ResponseReturnValue:
        return _render("workflows", "headrace/workflows.html")

    # --- workflows page (end)

    return blueprint
