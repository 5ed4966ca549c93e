"""Natural language to SQL (pipelines-api "AI Services"): ``POST /nl-query``.

In the connectors namespace (pipelines-api's error shape), not the lakehouse query namespace: the
contract that specifies it is pipelines-api. With a ``source`` it reads that connection's catalog, so
it needs ``connections: GET``; it never runs the query itself (only the database's ``EXPLAIN``).
"""

from __future__ import annotations

from headrace.api.datamodels.nl_query import NlQueryRequest, NlQueryResponse
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, connection
from headrace.api.services import nl_query as service


@endpoint(
    "/nl-query",
    "POST",
    Namespace.CONNECTORS,
    summary="Translate a question into one validated, read-only SQL query",
    permission=connection("GET", Scope.READ),
    body=NlQueryRequest,
    response=NlQueryResponse,
    errors=(400, 404),
    extra_responses={502: "DATA_SOURCE_ERROR: the source's database could not be reached"},
)
def nl_query(body: NlQueryRequest):
    """The built-in engine (default, no network) or the configured LLM (``[headrace] llm_endpoint``),
    whose answer is validated the same way and replaced by the built-in engine's when it fails.
    The SQL is in the source's dialect, one read-only statement over ``schema.tables`` only.
    ``unused_phrases`` lists what the question said that the query does not use;
    ``estimated_rows`` and ``estimated_time_ms`` come from the source's own ``EXPLAIN``."""
    return service.answer(body)
