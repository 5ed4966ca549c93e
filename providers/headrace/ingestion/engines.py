"""Engines by name: ``engine_id`` of a job names one of ``[headrace] engines`` (arrow or spark)."""

from __future__ import annotations

from headrace.ingestion.engine import ArrowEngine, Engine
from headrace.ingestion.results import IngestionFailed


def engine_for(engine_id: str, registered: dict[str, str], *, batch_rows: int | None = None) -> Engine:
    """Build the engine ``engine_id`` names; IngestionFailed naming the known ones otherwise.

    ``batch_rows`` sets the Arrow engine's batch size (Spark sizes its own partitions).
    """
    kind = registered.get(engine_id)
    if kind == "arrow":
        return ArrowEngine(batch_rows) if batch_rows else ArrowEngine()
    if kind is not None and kind.startswith("spark"):
        from headrace.ingestion.spark import SparkEngine  # Spark's module only when asked for

        _, _, conn_id = kind.partition(":")
        return SparkEngine(conn_id or "spark_default")
    known = ", ".join(sorted(registered)) or "none"
    if kind is None:
        raise IngestionFailed(f"Unknown engine_id '{engine_id}'. Known engines: {known}")
    raise IngestionFailed(f"Engine '{engine_id}' has an unknown kind '{kind}' in [headrace] engines")
