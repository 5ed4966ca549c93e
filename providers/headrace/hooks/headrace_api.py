"""HeadraceApiHook: a DAG (and the triggerer) reach Headrace's job queue through its REST API.

Connection type ``headrace_api``: ``host`` is the API's base URL and ``password`` an API key
(``hrk_<id>.<secret>``, sent as ``X-API-Key``). A host without a path gets Headrace's own path
(``/pluginsv2/headrace/api/v1``), so ``http://airflow-apiserver:8080`` is enough.

The same requests exist twice, blocking for tasks and ``async`` for triggers, because a trigger
shares the triggerer's event loop with every other trigger and must never block it. Both go
through httpx (a dependency of Airflow's Task SDK), so they cannot differ in what they send.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from airflow.sdk import BaseHook

API_PATH = "/pluginsv2/headrace/api/v1"
API_KEY_HEADER = "X-API-Key"
DEFAULT_TIMEOUT = 30.0


class HeadraceApiError(Exception):
    """An error answer of the API (or no answer at all: ``status_code`` 0)."""

    def __init__(self, status_code: int, message: str, code: str | None = None) -> None:
        super().__init__(f"{status_code} {code}: {message}" if code else f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.code = code

    @property
    def transient(self) -> bool:
        """Whether asking again later may succeed (no answer, a rate limit, a server error)."""
        return self.status_code == 0 or self.status_code == 429 or self.status_code >= 500


def base_url(host: str | None, port: int | None = None, scheme: str | None = None) -> str:
    """The API's base URL from a connection's fields (see the module docstring)."""
    text = (host or "").strip().rstrip("/")
    if not text:
        raise ValueError("the headrace_api connection needs a host: the URL of the Airflow api-server")
    if "://" not in text:
        text = f"{scheme or 'http'}://{text}"
    parts = urlsplit(text)
    netloc = parts.netloc if parts.port or not port else f"{parts.netloc}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path or API_PATH, "", ""))


def _error(response: httpx.Response) -> HeadraceApiError:
    """The API's error shapes (``{"error": "..."}`` or ``{"error": {"message"}}``) as one exception."""
    try:
        body = response.json()
    except ValueError:
        return HeadraceApiError(response.status_code, response.text[:500] or response.reason_phrase)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return HeadraceApiError(response.status_code, str(error.get("message")), error.get("code"))
    code = body.get("code") if isinstance(body, dict) else None
    return HeadraceApiError(response.status_code, str(error or body), code)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise _error(response)
    return response.json() if response.content else None


def _force(force: bool) -> dict[str, str]:
    return {"force": "true"} if force else {}


class HeadraceApiHook(BaseHook):
    """Submit, follow and cancel jobs of Headrace's job queue (and check the connection).

    :param api_conn_id: a ``headrace_api`` connection (default ``headrace_api_default``)
    :param timeout: seconds one request may take
    """

    conn_name_attr = "api_conn_id"
    default_conn_name = "headrace_api_default"
    conn_type = "headrace_api"
    hook_name = "Headrace API"

    def __init__(
        self, api_conn_id: str = default_conn_name, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.api_conn_id = api_conn_id
        self.timeout = timeout
        self._resolved: tuple[str, dict[str, str]] | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["schema", "login", "port", "extra"],
            "relabeling": {"host": "API URL", "password": "API key"},
            "placeholders": {"host": "http://airflow-apiserver:8080", "password": "hrk_<id>.<secret>"},
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        return {}  # host and password are all it takes

    # -- connection ---------------------------------------------------------------------------

    @staticmethod
    def _settings(connection: Any) -> tuple[str, dict[str, str]]:
        headers = {"Accept": "application/json"}
        if connection.password:
            headers[API_KEY_HEADER] = connection.password
        return base_url(connection.host, connection.port, connection.schema or None), headers

    def get_conn(self) -> httpx.Client:
        """A client with the base URL and the API key of the connection (close it after use).

        The connection is read once per hook: a task or trigger polling a job does not ask the
        secrets backends again at every poll.
        """
        if self._resolved is None:
            self._resolved = self._settings(self.get_connection(self.api_conn_id))
        url, headers = self._resolved
        return httpx.Client(base_url=url, headers=headers, timeout=self.timeout)

    async def aget_conn(self) -> httpx.AsyncClient:
        """The async client of :meth:`get_conn`; the connection is read without blocking the loop."""
        if self._resolved is None:
            self._resolved = self._settings(await self.aget_connection(self.api_conn_id))
        url, headers = self._resolved
        return httpx.AsyncClient(base_url=url, headers=headers, timeout=self.timeout)

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.get_conn() as client:
            try:
                response = client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise HeadraceApiError(0, f"{type(exc).__name__}: {exc}") from exc
        return _answer(response)

    async def _arequest(self, method: str, path: str, **kwargs: Any) -> Any:
        async with await self.aget_conn() as client:
            try:
                response = await client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise HeadraceApiError(0, f"{type(exc).__name__}: {exc}") from exc
        return _answer(response)

    # -- jobs ---------------------------------------------------------------------------------

    def submit_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """``POST /jobs``: the queued job (``id``, ``status`` ...)."""
        return self._request("POST", "jobs", json=job)

    def get_job(self, job_id: str) -> dict[str, Any]:
        """``GET /jobs/{id}``: the job with its status and, once ended, stdout, stderr, exit code."""
        return self._request("GET", f"jobs/{job_id}")

    def cancel_job(self, job_id: str, *, force: bool = False) -> dict[str, Any]:
        """``DELETE /jobs/{id}``: cancels a pending job; ``force`` also asks a running one to stop
        (its executor kills the binary at its next heartbeat). A 400 for a job that has ended."""
        return self._request("DELETE", f"jobs/{job_id}", params=_force(force))

    async def aget_job(self, job_id: str) -> dict[str, Any]:
        return await self._arequest("GET", f"jobs/{job_id}")

    async def acancel_job(self, job_id: str, *, force: bool = False) -> dict[str, Any]:
        return await self._arequest("DELETE", f"jobs/{job_id}", params=_force(force))

    def test_connection(self) -> tuple[bool, str]:
        """``GET /auth/status`` with the connection's key: reachable, and the key is accepted."""
        try:
            status = self._request("GET", "auth/status")
        except Exception as exc:
            return False, str(exc)
        data = status.get("data", status) if isinstance(status, dict) else {}
        who = (data.get("user") or {}).get("username")
        return True, f"Connected as {who}" if who else "Connected"
