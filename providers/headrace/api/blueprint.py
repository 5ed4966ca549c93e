"""The Flask blueprint of the Headrace REST API.

On the api-server it answers at ``/pluginsv2/headrace/api/v1`` (lakehouse, pipelines, workflows and
job-queue contracts) and ``/pluginsv2/headrace/job-monitoring`` (the job-monitoring contract, whose
paths start with ``/v1``): one blueprint, one rate limiter and one error handler for both bases.
"""

from __future__ import annotations

import gc

from flask import Blueprint, Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed, NotFound

from headrace.api import ratelimit, registry, sessions
from headrace.api.errors import REQUEST_ID_HEADER, render_error, request_id
from headrace.api.namespaces import Namespace

BASE_PATH = registry.ROOT + registry.API_BASE
MONITORING_BASE_PATH = registry.ROOT + registry.MONITORING_BASE
BASE_PATHS = (BASE_PATH, MONITORING_BASE_PATH)
_registered: list[Flask] = []  # the Flask app the api-server built for plugins (see api/bridge.py)
_frozen: list[str] = []  # the moments gc.freeze() was called in this process (see _freeze)


def registered_app() -> Flask | None:
    return _registered[-1] if _registered else None


def _freeze(moment: str) -> None:
    """``gc.freeze()``, once per process and ``moment``: when the Flask app is built (start-up) and
    at its first request (the rest of the api-server is built by then).

    Every object alive at those moments lives as long as the process (modules, Airflow's and the
    plugin's classes, ORM and pydantic models, routes): ~830,000 on the api-server's heap, 525,000
    of them there when the app is built. Left to the collector, every full collection walks them
    all, ~0.2 s each on this machine, several per batch ingest of 20,000 events (issue 12). Frozen,
    they sit in the collector's permanent generation and are never walked again; objects created
    later are collected as before. ``gc.collect()`` first, so start-up garbage is freed, not frozen
    (a one-time full collection, in the first request too).
    """
    if moment in _frozen:
        return
    _frozen.append(moment)
    gc.collect()
    gc.freeze()


def under(path: str, base: str) -> bool:
    """Whether ``path`` is ``base`` or below it (``/headrace/api/v10`` is not below ``/headrace/api/v1``)."""
    return path == base or path.startswith(base + "/")


def create_blueprint() -> Blueprint:
    """A new blueprint with every endpoint bound, and its own rate limiter."""
    # Importing the route modules declares their endpoints.
    from headrace.api import routes  # noqa: F401

    blueprint = Blueprint("headrace_api", __name__, url_prefix=registry.ROOT)
    limiter = ratelimit.create_limiter()
    registry.bind(blueprint, ratelimit.limit_decorator(limiter))
    blueprint.headrace_limiter = limiter

    def namespace_of_request() -> Namespace:
        spec = registry.endpoint_for(request.endpoint, blueprint)
        if spec is not None:
            return spec.namespace
        if under(request.path, MONITORING_BASE_PATH):
            return Namespace.EVENTS
        return Namespace.for_path(request.path.removeprefix(BASE_PATH))

    # The session that authentication and idempotency share ends with the request (api/sessions.py).
    blueprint.teardown_app_request(sessions.close)
    # Request statistics of every route, shared by all api-server workers (GET /monitoring/metrics).
    from headrace.api.services import operations

    operations.record_requests(blueprint, BASE_PATHS)

    @blueprint.errorhandler(Exception)
    def handle_error(exc: Exception) -> ResponseReturnValue:
        return render_error(exc, namespace_of_request())

    @blueprint.before_app_request
    def freeze_after_start_up() -> None:
        if "first request" not in _frozen:
            _freeze("first request")

    @blueprint.after_app_request
    def add_request_id(response):
        if any(under(request.path, base) for base in BASE_PATHS):
            response.headers[REQUEST_ID_HEADER] = request_id()
            # Flask-Limiter sends Retry-After on every answer; it only means something on a 429.
            if response.status_code != 429:
                response.headers.pop("Retry-After", None)
        return response

    @blueprint.record_once
    def on_register(state) -> None:
        app: Flask = state.app
        _registered.append(app)
        # A JSON API authenticated by tokens and keys has no use for form CSRF tokens; the one ambient
        # credential, the UI cookie, authorizes changes only from same-origin pages (see api/security.py).
        csrf = app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(blueprint)
        limiter.init_app(app)
        # No route matched, so blueprint handlers do not run: answer JSON for our base path and
        # leave every other path to the handler the app had before.
        for exc_class in (NotFound, MethodNotAllowed):
            previous = app.error_handler_spec[None][exc_class.code].get(exc_class)
            app.register_error_handler(exc_class, _unmatched_handler(previous))
        _freeze("start-up")

    def _unmatched_handler(previous):
        def handle(exc):
            if any(under(request.path, base) for base in BASE_PATHS):
                return render_error(exc, namespace_of_request())
            return previous(exc) if previous else exc

        return handle

    return blueprint
