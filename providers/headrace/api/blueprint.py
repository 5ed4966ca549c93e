"""The Flask blueprint of the Headrace REST API (served at ``/pluginsv2/headrace/api/v1``)."""

from __future__ import annotations

from flask import Blueprint, Flask, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import MethodNotAllowed, NotFound

from headrace.api import ratelimit, registry, sessions
from headrace.api.errors import REQUEST_ID_HEADER, render_error, request_id
from headrace.api.namespaces import Namespace

BASE_PATH = "/headrace/api/v1"
_registered: list[Flask] = []  # the Flask app the api-server built for plugins (see api/bridge.py)


def registered_app() -> Flask | None:
    return _registered[-1] if _registered else None


def create_blueprint() -> Blueprint:
    """A new blueprint with every endpoint bound, and its own rate limiter."""
    # Importing the route modules declares their endpoints.
    from headrace.api import routes  # noqa: F401

    blueprint = Blueprint("headrace_api", __name__, url_prefix=BASE_PATH)
    limiter = ratelimit.create_limiter()
    registry.bind(blueprint, ratelimit.limit_decorator(limiter))
    blueprint.headrace_limiter = limiter

    def namespace_of_request() -> Namespace:
        spec = registry.endpoint_for(request.endpoint, blueprint)
        if spec is not None:
            return spec.namespace
        return Namespace.for_path(request.path.removeprefix(BASE_PATH))

    # The session that authentication and idempotency share ends with the request (api/sessions.py).
    blueprint.teardown_app_request(sessions.close)

    @blueprint.errorhandler(Exception)
    def handle_error(exc: Exception) -> ResponseReturnValue:
        return render_error(exc, namespace_of_request())

    @blueprint.after_app_request
    def add_request_id(response):
        if request.path.startswith(BASE_PATH):
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

    def _unmatched_handler(previous):
        def handle(exc):
            if request.path == BASE_PATH or request.path.startswith(BASE_PATH + "/"):
                return render_error(exc, namespace_of_request())
            return previous(exc) if previous else exc

        return handle

    return blueprint
