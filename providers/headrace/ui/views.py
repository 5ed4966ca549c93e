"""The blueprint of the pages: ``/pluginsv2/headrace/ui/...`` on the api-server.

Each view only authenticates the caller (the Airflow UI's ``_token`` cookie, through the same
:mod:`headrace.api.security` code the API uses) and renders a shell; ``static/headrace.js`` fills it
from the REST API. What a page offers (the cancel button, the upload form) follows the permission of
the API endpoint behind it, read from the endpoint's own declaration, so the two cannot disagree;
the API enforces it again on every call.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.app import get_auth_manager
from flask import Blueprint, abort, render_template, request, url_for
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
UNAVAILABLE = {
    "ingestion": "The list of ingestion jobs with links to their DagRuns",
    "monitoring": "Jobs and subjobs from the event log, updated live from the SSE stream",
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
    def href(name: str) -> str:
        if name in UNAVAILABLE:
            return url_for("headrace_ui.unavailable", page=name)
        return url_for(f"headrace_ui.{name}")

    return [(name, title, href(name)) for name, title in PAGES]


def _render(page: str, template: str, **context: Any) -> ResponseReturnValue:
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

    @blueprint.get("/<page>")
    def unavailable(page: str) -> ResponseReturnValue:
        if page not in UNAVAILABLE:
            abort(404)
        title = dict(PAGES)[page]
        return _render(page, "headrace/unavailable.html", title=title, capability=UNAVAILABLE[page])

    return blueprint
