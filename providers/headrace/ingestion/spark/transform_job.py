"""The PySpark program of SQL transforms on the ``spark`` engine: table files in, query result out.

Run by ``spark-submit`` (see :mod:`headrace.ingestion.transform`) as ``transform_job.py ARGS.json``,
with the ingestion job (:mod:`.job`) shipped beside it (``--py-files``) for the shared parts: Spark
session, row count while writing, result file and error wording. pyspark and the standard library
only, as there.

``ARGS.json``::

    {
      "name": "headrace-transform ...",
      "sql": "SELECT ... FROM t_0 JOIN t_1 ...",          # checked and rewritten by Headrace
      "views": [{"name": "t_0", "paths": ["file:///.../x.parquet", ...],
                 "base_path": "file:///table" | null,      # partition folders (col=value) below it
                 "schema": {...Spark JSON schema...}}, ...],  # used when a table has no data files
      "output": "file:///... or s3a://...",               # a folder, replaced by this job
      "result": "<output>/_headrace_result.json",
      "hadoop_conf": {...}
    }

The result file is the ingestion job's: ``{"status": "ok", "rows": N, "files": [...]}`` or
``{"status": "failed", "error": "..."}``; the exit status is 0 on success, 1 on failure.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any


def ingestion_job() -> Any:
    """The ingestion job module: shipped with ``--py-files``, or next to this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.append(here)
    import job  # type: ignore[import-not-found]

    return job


def read_view(spark: Any, view: dict[str, Any]) -> Any:
    from pyspark.sql.types import StructType

    if not view["paths"]:  # a table without data files: no rows, the table's columns
        return spark.createDataFrame([], StructType.fromJson(view["schema"]))
    reader = spark.read.option("mergeSchema", "true")
    if view.get("base_path"):
        reader = reader.option("basePath", view["base_path"])
    return reader.parquet(*view["paths"])


def run(spark: Any, args: dict[str, Any], job: Any) -> dict[str, Any]:
    for view in args["views"]:
        read_view(spark, view).createOrReplaceTempView(view["name"])
    frame, observation = job.count_rows(spark.sql(args["sql"]))
    frame.write.mode("overwrite").parquet(args["output"])
    rows = int(observation.get.get("rows", 0))
    return {"status": "ok", "rows": rows, "files": job.output_files(spark, args["output"])}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: transform_job.py ARGS.json", file=sys.stderr)
        return 2
    job = ingestion_job()
    args = job.load_args(argv[1])
    spark = job.session(args)
    try:
        try:
            result = run(spark, args, job)
        except Exception as exc:
            traceback.print_exc()
            message = job.describe(exc)
            print(f"HEADRACE_SPARK_ERROR: {message}", file=sys.stderr)
            job.write_result(spark, args["result"], {"status": "failed", "error": message})
            return 1
        job.write_result(spark, args["result"], result)
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
