"""Storage recommendations (pipelines-api "AI Services"): ``POST /storage/recommend``.

Permission: a recommendation reads nothing but what is sent, or a lakehouse table's statistics:
``assets: GET``, as reading a table's metadata does.
"""

from __future__ import annotations

from headrace.api.datamodels.storage import RecommendRequest, StorageRecommendation
from headrace.api.namespaces import Namespace
from headrace.api.registry import endpoint
from headrace.api.security import Scope, asset
from headrace.api.services import storage_advice as service


@endpoint(
    "/storage/recommend",
    "POST",
    Namespace.CONNECTORS,
    summary="Recommend table format, partitioning, file size, compaction and engine",
    permission=asset("GET", Scope.READ),
    body=RecommendRequest,
    response=StorageRecommendation,
    errors=(400, 404),
)
def recommend_storage(body: RecommendRequest):
    """From ``data_profile`` (size, growth, access pattern, query types), or from an existing table's
    real statistics (``catalog`` + ``table`` as ``schema.table``). Every choice carries its reason;
    the rules are in docs/data.md."""
    return service.recommend(body)
