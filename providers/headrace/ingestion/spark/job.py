"""The PySpark program of the ``spark`` ingestion engine: source files in, Parquet files out.

Run by ``spark-submit`` (see :mod:`headrace.ingestion.spark.engine`) as ``job.py ARGS.json``. It
imports only pyspark and the standard library, so any Spark installation can run it, and it uses only
the DataFrame API (no Python UDFs): executors never start a Python worker.

``ARGS.json`` (written by the engine; it may hold S3 credentials, so the engine keeps it private)::

    {
      "file_type": "json" | "csv" | "parquet" | "orc",
      "sources": [{"uri": "file:///... or s3a://bucket/key", "multi_line": false}, ...],
      "csv": {"header": true, "sep": ",", "quote": "\\"", "escape": null, "null_value": "",
              "encoding": "utf-8", "line_sep": "\\n"},
      "output": "file:///... or s3a://bucket/prefix",   # a folder, replaced by this job
      "result": "<output>/_headrace_result.json",
      "output_files": 4,                                  # at most this many Parquet files
      "hadoop_conf": {"fs.s3a.bucket.raw.endpoint": "...", ...}
    }

What it does:

* JSON: JSON lines are read line by line; files that hold one JSON array or one pretty-printed
  object (``multi_line``, detected by the engine from the first bytes) are read with ``multiLine``.
  Both kinds in one job are combined by column name.
* CSV: the job's dialect (header, separator, quote, escape, null text, encoding) with types inferred
  over all rows; quoted values may span lines. Integer columns become bigint and headerless columns
  are named ``f0, f1, ...``, as the Arrow engine reads them. Every file's header must name the same
  columns (``enforceSchema=false``: a file that differs fails the job instead of loading shifted
  columns).
* Parquet and ORC: schemas of all files merged (``mergeSchema``).
* Avro needs the separate spark-avro package and is refused.

Malformed JSON or CSV records fail the job (``mode=FAILFAST``) instead of becoming nulls. The output
is written with ``spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS`` (pyiceberg's ``add_files``
refuses INT96 timestamps), without ``_SUCCESS`` marker, with ``spark.sql.session.timeZone=UTC`` and
``spark.sql.timestampType=TIMESTAMP_NTZ`` (CSV text without a zone is a timestamp without zone, as
the Arrow engine reads it). Parquet files with nanosecond timestamps (pyarrow's and pandas' default)
cannot be read by Spark: the job fails saying so.

The result file (written through Hadoop's FileSystem, so it lands wherever the output goes) is
``{"status": "ok", "rows": N, "files": [{"name", "size"}]}`` or ``{"status": "failed", "error": "..."}``
(the exception's message without JVM stack frames). Row counts per source file are not computed:
that would read every source twice. The exit status is 0 on success, 1 on failure.

S3 (``s3a://``) paths need hadoop-aws and its AWS SDK on Spark's classpath; pyspark's own jars do not
include them, so with a plain pip-installed pyspark only local (``file://``) paths work (the
Dockerfile of the compose stack adds them).
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from typing import Any

RESULT_NAME = "_headrace_result.json"
CORRUPT = "_headrace_corrupt_record"
MAX_ERROR_CHARS = 4000
_PY4J_CALL = re.compile(r"^An error occurred while calling [\w.$]+\.?$")


class JobError(Exception):
    """A problem this program diagnosed itself (its message is the whole story)."""


def load_args(path: str) -> dict[str, Any]:
    """The argument file; in cluster deploy mode it arrives through ``--files`` in the working folder."""
    if not os.path.exists(path) and os.path.exists(os.path.basename(path)):
        path = os.path.basename(path)
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def read_sources(spark: Any, args: dict[str, Any]) -> Any:
    file_type = args["file_type"]
    sources = args["sources"]
    if not sources:
        raise JobError("No source files")
    if file_type == "avro":
        raise JobError("Avro files need the spark-avro package, which this Spark does not include")
    paths = [source["uri"] for source in sources]
    if file_type == "json":
        return read_json(spark, sources)
    if file_type == "csv":
        return read_csv(spark, paths, args.get("csv") or {})
    if file_type == "parquet":
        return spark.read.option("mergeSchema", "true").parquet(*paths)
    if file_type == "orc":
        return spark.read.option("mergeSchema", "true").orc(*paths)
    raise JobError(f"Unknown file type {file_type!r}")


def read_json(spark: Any, sources: list[dict[str, Any]]) -> Any:
    frames = []
    for multi_line in (False, True):
        paths = [s["uri"] for s in sources if bool(s.get("multi_line")) == multi_line]
        if paths:
            frames.append(read_json_paths(spark, paths, multi_line))
    frame = frames[0]
    for other in frames[1:]:
        frame = frame.unionByName(other, allowMissingColumns=True)
    return frame


def read_json_paths(spark: Any, paths: list[str], multi_line: bool) -> Any:
    """Types inferred leniently, then every record parsed strictly with them.

    A malformed record fails the strict pass, whose error names the file; failing the inference
    pass (``FAILFAST`` without a schema) would not say which file is broken.
    """
    from pyspark.sql.types import StructType

    def reader(mode: str) -> Any:
        return spark.read.option("multiLine", str(multi_line).lower()).option("mode", mode)

    inferred = reader("PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT).json(paths).schema
    schema = StructType([field for field in inferred.fields if field.name != CORRUPT])
    if not schema.fields:  # nothing but malformed records: the strict pass would parse nothing
        return reader("FAILFAST").json(paths)
    return reader("FAILFAST").schema(schema).json(paths)


def read_csv(spark: Any, paths: list[str], csv: dict[str, Any]) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType

    quote = csv.get("quote") or '"'
    header = bool(csv.get("header", True))
    reader = (
        spark.read.option("header", str(header).lower())
        .option("sep", csv.get("sep") or ",")
        .option("quote", quote)
        # No escape character means RFC 4180 quoting: a quote inside a quoted value is doubled.
        .option("escape", csv.get("escape") or quote)
        .option("nullValue", csv.get("null_value", ""))
        .option("encoding", csv.get("encoding") or "utf-8")
        .option("multiLine", "true")
        .option("inferSchema", "true")
        .option("enforceSchema", "false")
        .option("mode", "FAILFAST")
    )
    if csv.get("line_sep") == "\r":  # \n and \r\n are detected
        reader = reader.option("lineSep", "\r")
    frame = reader.csv(paths)
    columns = []
    for index, field in enumerate(frame.schema.fields):
        column = F.col(f"`{field.name}`")
        if isinstance(field.dataType, IntegerType):
            column = column.cast(LongType())
        name = field.name if header else f"f{index}"
        columns.append(column.alias(name))
    return frame.select(*columns)


def count_rows(frame: Any) -> tuple[Any, Any]:
    """The frame with a row count observed while it is written (no second pass), and the observation."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    observation = Observation("headrace_rows")
    return frame.observe(observation, F.count(F.lit(1)).alias("rows")), observation


def hadoop_fs(spark: Any, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path


def output_files(spark: Any, output: str) -> list[dict[str, Any]]:
    fs, path = hadoop_fs(spark, output)
    files = []
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isFile() and name.endswith(".parquet") and not name.startswith(("_", ".")):
            files.append({"name": name, "size": int(status.getLen())})
    return sorted(files, key=lambda f: f["name"])


def write_result(spark: Any, uri: str, payload: dict[str, Any]) -> None:
    fs, path = hadoop_fs(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(json.dumps(payload).encode("utf-8")))
    finally:
        stream.close()


def describe(exc: BaseException) -> str:
    """The exception's message for people: no JVM stack frames, root causes kept, length capped."""
    if isinstance(exc, JobError):
        return str(exc)
    text = str(exc)
    for marker in ("\nJVM stacktrace:", "\nDriver stacktrace:"):
        text = text.split(marker, 1)[0]
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip().removeprefix(": ")
        if not line or _PY4J_CALL.match(line) or line.startswith(("at ", "... ")) or line in lines:
            continue
        lines.append(line)
    message = "\n".join(lines) or type(exc).__name__
    if "TIMESTAMP(NANOS" in message:
        message = (
            "Spark cannot read Parquet timestamps in nanoseconds (pyarrow and pandas write them by "
            f"default); write microseconds or use the arrow engine. {message}"
        )
    if "S3AFileSystem" in message or 'No FileSystem for scheme "s3a"' in message:
        message = (
            "Spark cannot read s3a:// paths: hadoop-aws and the AWS SDK are not on its classpath "
            f"(pyspark does not bundle them). {message}"
        )
    return message[:MAX_ERROR_CHARS]


def session(args: dict[str, Any]) -> Any:
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName(args.get("name") or "headrace-ingestion")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.session.timeZone", "UTC")
        # Text without a zone is a timestamp without zone, as the Arrow engine reads it.
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    )
    spark = builder.getOrCreate()
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    for key, value in (args.get("hadoop_conf") or {}).items():
        conf.set(key, str(value))
    return spark


def run(spark: Any, args: dict[str, Any]) -> dict[str, Any]:
    frame = read_sources(spark, args)
    limit = max(1, int(args.get("output_files") or 1))
    if frame.rdd.getNumPartitions() > limit:
        frame = frame.coalesce(limit)
    frame, observation = count_rows(frame)
    frame.write.mode("overwrite").parquet(args["output"])
    rows = int(observation.get.get("rows", 0))
    return {"status": "ok", "rows": rows, "files": output_files(spark, args["output"])}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: job.py ARGS.json", file=sys.stderr)
        return 2
    args = load_args(argv[1])
    result_uri = args.get("result") or f"{args['output'].rstrip('/')}/{RESULT_NAME}"
    spark = session(args)
    try:
        try:
            result = run(spark, args)
        except Exception as exc:
            traceback.print_exc()
            message = describe(exc)
            print(f"HEADRACE_SPARK_ERROR: {message}", file=sys.stderr)
            write_result(spark, result_uri, {"status": "failed", "error": message})
            return 1
        write_result(spark, result_uri, result)
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
