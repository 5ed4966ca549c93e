"""engine_id names an engine of [headrace] engines."""

from __future__ import annotations

import pytest

from headrace import config
from headrace.ingestion.engine import ArrowEngine
from headrace.ingestion.engines import engine_for
from headrace.ingestion.results import IngestionFailed
from headrace.ingestion.spark import SparkEngine


def test_the_default_engines(monkeypatch):
    registered = config.engines()

    assert registered == {"arrow": "arrow", "spark": "spark:spark_default"}
    assert isinstance(engine_for("arrow", registered), ArrowEngine)
    assert isinstance(engine_for("spark", registered), SparkEngine)


def test_named_engines_from_the_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__ENGINES", "fast=arrow; spark158=spark:spark_cluster")

    assert isinstance(engine_for("fast", config.engines()), ArrowEngine)
    assert engine_for("spark158", config.engines()).conn_id == "spark_cluster"
    with pytest.raises(IngestionFailed, match=r"Unknown engine_id 'arrow'\. Known engines: fast, spark158"):
        engine_for("arrow", config.engines())
