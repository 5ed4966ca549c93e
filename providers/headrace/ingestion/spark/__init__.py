"""The ``spark`` ingestion engine: spark-submit converts the files to Parquet, Headrace commits them.

:class:`SparkEngine` implements :class:`~headrace.ingestion.engine.Engine`; :mod:`.job` is the PySpark
program it submits (pyspark and the standard library only).
"""

from __future__ import annotations

from headrace.ingestion.spark.engine import JOB_SCRIPT, SparkEngine

__all__ = ["JOB_SCRIPT", "SparkEngine"]
