"""The Spark engine: ``spark-submit`` converts the job's files to Parquet, Headrace commits them.

Order of a run (as the Arrow engine): open the catalog and table; a job id that already committed
returns its earlier result; check the target; resolve the files; skip files loaded before; then

1. check each file's first bytes (magic bytes / text, as the Arrow engine does) and tell JSON arrays
   from JSON lines, without Spark;
2. ``spark-submit`` :mod:`headrace.ingestion.spark.job` through the Airflow apache-spark provider's
   ``SparkSubmitHook``: Spark reads the files and writes Parquet into a staging folder on the
   catalog's storage, plus a small result file;
3. hand the Parquet files to :func:`~headrace.lakehouse.tables.commit_parquet_files`: one commit in
   the table's format (Iceberg adopts them as data files when it can; other cases rewrite them).

Where the staging folder is and how it is cleaned up: :mod:`.staging`. SQL transforms on Spark
(:mod:`headrace.ingestion.transform`) submit their own program with :meth:`SparkEngine.submit_job`
and stage the same way.

Spark connection: ``conn_id`` (default ``spark_default``) as the hook reads it (master, deploy mode,
queue, ``spark-binary``...). When that connection does not exist, the job runs in local mode
(``local[*]``) on this worker instead of the hook's own fallback (YARN): the hook is given a
``Connection(conn_type="spark", host="local[*]")`` in place of the missing one. The spark-submit
binary is the one shipped with pyspark in this environment (run with ``SPARK_HOME`` set to the
pyspark package), unless the connection names one in its ``spark-binary`` extra. Spark's UI is off.
In local mode Spark binds to 127.0.0.1 and runs this interpreter.

Nothing secret goes on the command line: S3 credentials travel in the job's argument file (mode 0600,
deleted afterwards) as per-bucket ``fs.s3a`` settings. A failed Spark job raises IngestionFailed with
the job's own error (or the tail of spark-submit's output, masked by the hook) and leaves the table
unchanged; its staging folder is removed.

Limitations: Avro is refused (Spark's Avro reader is the separate spark-avro package); ``s3a://``
paths need hadoop-aws and the AWS SDK on Spark's classpath (not in pyspark's jars; the compose
image adds them at build time, any other cluster must provide them); object names with glob
characters (``[]{}*?\\``) are refused, Spark reading every path as a pattern; CSV files of one
job must share their header; the Spark driver runs where spark-submit runs (client mode), or, in
cluster deploy mode, gets the argument file through ``--files`` and must reach the catalog's
storage under the same URIs.
"""

from __future__ import annotations

import importlib.util
import io
import json
import logging
import math
import os
import re
import shutil
import stat
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.sdk import Connection

from headrace.ingestion.engine import plan_load
from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed, IngestionResult, ingestion_errors
from headrace.ingestion.spark.staging import STAGING_FOLDER, SparkStaging, hadoop_conf, spark_uri
from headrace.ingestion.spec import CsvProperties, IngestionSpec
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.service import Lakehouse
from headrace.lakehouse.tables import TableCommitter, commit_parquet_files
from headrace.storage import ObjectStore, S3Settings
from headrace.storage.filetypes import SNIFF_BYTES, FileType, FileTypeMismatch, check_content

log = logging.getLogger(__name__)

__all__ = ["JOB_SCRIPT", "STAGING_FOLDER", "SparkEngine", "pyspark_submit", "submit_output"]

JOB_SCRIPT = Path(__file__).with_name("job.py")
LOCAL_MASTER = "local[*]"
DEFAULT_FILE_BYTES = 256 * 1024 * 1024
MAX_ERROR_LINES = 40
_GLOB_CHARS = re.compile(r"[\[\]{}*?\\]")


class SparkEngine:
    """Runs the job's read-and-convert step with ``spark-submit``; the commit runs in this process.

    :param conn_id: the Spark connection (local mode when it does not exist)
    :param conf: extra Spark properties, added to (and overriding) the engine's own
    :param target_file_bytes: source bytes per output Parquet file (a hint: Spark may write fewer)
    :param local_master: the master used when ``conn_id`` does not exist
    """

    name = "spark"

    def __init__(
        self,
        conn_id: str = "spark_default",
        *,
        conf: dict[str, Any] | None = None,
        target_file_bytes: int = DEFAULT_FILE_BYTES,
        local_master: str = LOCAL_MASTER,
    ) -> None:
        if target_file_bytes < 1:
            raise ValueError("target_file_bytes must be positive")
        self.conn_id = conn_id
        self.conf = dict(conf or {})
        self.target_file_bytes = target_file_bytes
        self.local_master = local_master

    def run(
        self,
        spec: IngestionSpec,
        *,
        job_id: str,
        lakehouse: Lakehouse,
        store: ObjectStore,
        s3: S3Settings | None = None,
        **options: Any,
    ) -> IngestionResult:
        if spec.source.file_type is FileType.AVRO:
            raise IngestionFailed(
                "The spark engine cannot read avro files: Spark's Avro reader is the separate spark-avro "
                "package, which this installation does not include. Use the arrow engine for avro."
            )
        with ingestion_errors():
            plan = plan_load(spec, job_id=job_id, lakehouse=lakehouse, store=store)
            if isinstance(plan, IngestionResult):
                return plan
            catalog, table, to_load, skipped = plan.catalog, plan.table, plan.to_load, plan.skipped
            sources = [_source(spec, file, store) for file in to_load]
            with SparkStaging(table, catalog) as staging:
                self._spark(spec, table, catalog, sources, to_load, staging, s3)
                if (gate := options.get("before_commit")) is not None:
                    gate()  # a cancel's last chance: nothing is committed yet
                return commit_parquet_files(
                    spec.target,
                    table.job_id,
                    catalog,
                    staging.hand_over(),
                    to_load,
                    skipped_files=skipped,
                    started=plan.started,
                )

    # -- spark-submit ------------------------------------------------------------------------------

    def _spark(
        self,
        spec: IngestionSpec,
        table: TableCommitter,
        catalog: FormatCatalog,
        sources: list[dict[str, Any]],
        files: list[ResolvedFile],
        staging: SparkStaging,
        s3: S3Settings | None,
    ) -> dict[str, Any]:
        """Run the job; its result, or IngestionFailed with Spark's error in terms of the sources."""
        spark_sources = {source["uri"]: file.uri for source, file in zip(sources, files, strict=True)}
        total = sum(file.size for file in files)
        args = {
            "name": f"headrace-ingestion {table.name} {table.job_id}",
            "file_type": spec.source.file_type.value,
            "sources": sources,
            "csv": _csv_args(spec.source.file_format_properties),
            "output": spark_uri(staging.uri),
            "result": spark_uri(staging.result_uri),
            "output_files": max(1, math.ceil(total / self.target_file_bytes)),
            "hadoop_conf": hadoop_conf(files, s3, catalog.location.uri, catalog.location.s3),
        }
        result, failure = self.submit_job(spec, table.token, JOB_SCRIPT, args, staging)
        if result is not None and result.get("status") == "failed":
            raise _spark_failure(str(result.get("error") or "unknown error"), spark_sources)
        if failure is not None:
            raise IngestionFailed(f"spark-submit failed: {submit_output(failure)}")
        if result is None:
            raise IngestionFailed(f"The Spark job ended without writing its result ({staging.result_uri})")
        log.info(
            "Spark wrote %s rows in %d file(s) to %s", result.get("rows"), len(result["files"]), staging.uri
        )
        return result

    def submit_job(
        self,
        spec: IngestionSpec,
        token: str,
        script: Path,
        args: dict[str, Any],
        staging: SparkStaging,
        *,
        py_files: str | None = None,
    ) -> tuple[dict[str, Any] | None, Exception | None]:
        """spark-submit ``script`` with ``args`` as its argument file: ``(result file, hook error)``.

        The argument file may hold S3 secrets: it lives in a folder of mode 0700, is mode 0600 and is
        deleted afterwards. ``result`` is what the program wrote to ``staging.result_uri`` (None if
        nothing), ``error`` the hook's exception when spark-submit failed (:func:`submit_output`
        words it). A task being stopped stops spark-submit and its driver too.
        """
        folder = Path(tempfile.mkdtemp(prefix="headrace-spark-"))  # mode 0700
        try:
            args_file = folder / "args.json"
            args_file.touch(mode=stat.S_IRUSR | stat.S_IWUSR)
            args_file.write_text(json.dumps(args))
            hook, env = self.submit_hook(spec, token, args_file, py_files=py_files)
            failure: Exception | None = None
            try:
                hook.submit(str(script), env=env)
            except Exception as exc:
                failure = exc
            except BaseException:  # the task is being stopped: stop spark-submit (and its driver) too
                hook.on_kill()
                raise
            return staging.result(), failure
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def submit_hook(
        self, spec: IngestionSpec, token: str, args_file: Path, *, py_files: str | None = None
    ) -> tuple[SparkSubmitHook, dict[str, str]]:
        """The configured hook and the environment of its spark-submit process.

        ``py_files``: Python files shipped beside the program (``--py-files``).
        """
        connection = self._connection()
        extra = connection.extra_dejson
        local = _master(connection).startswith("local")
        cluster_mode = extra.get("deploy-mode") == "cluster"
        conf: dict[str, Any] = {
            "spark.ui.enabled": "false",
            "spark.log.level": "WARN",
            "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
            "spark.sql.session.timeZone": "UTC",
            "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
        }
        env = dict(os.environ)
        if not cluster_mode:
            conf["spark.pyspark.driver.python"] = sys.executable  # the driver runs here
        if local:
            conf["spark.pyspark.python"] = sys.executable
            env["SPARK_LOCAL_IP"] = "127.0.0.1"
        execute = spec.execute_config
        if execute is not None:
            conf["spark.driver.cores"] = str(execute.driver_cores)
        conf.update(self.conf)
        spark_binary = None
        if not extra.get("spark-binary"):
            spark_binary, env["SPARK_HOME"] = pyspark_submit()
        hook = _SubmitHook(
            connection=connection,
            conf=conf,
            name=f"headrace-ingestion-{token}",
            application_args=[args_file.name if cluster_mode else str(args_file)],
            files=str(args_file) if cluster_mode else None,
            py_files=py_files,
            driver_memory=execute.driver_memory if execute else None,
            executor_memory=execute.executor_memory if execute else None,
            executor_cores=execute.executor_cores if execute else None,
            num_executors=execute.num_executors if execute else None,
            spark_binary=spark_binary,
        )
        return hook, env

    def _connection(self) -> Connection:
        """The Spark connection, or a local-mode stand-in when it does not exist."""
        try:
            return SparkSubmitHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            log.info("No connection %s: running Spark in local mode (%s)", self.conn_id, self.local_master)
            return Connection(conn_id=self.conn_id, conn_type="spark", host=self.local_master)


class _SubmitHook(SparkSubmitHook):
    """The provider's hook on a connection resolved beforehand (possibly the local stand-in)."""

    def __init__(self, *, connection: Connection, **kwargs: Any) -> None:
        self._given_connection = connection
        super().__init__(conn_id=connection.conn_id, **kwargs)

    def get_connection(self, conn_id: str) -> Connection:  # type: ignore[override]
        return self._given_connection


def _master(connection: Connection) -> str:
    """The master URL the hook derives from a connection (the same rule as the hook's)."""
    host = connection.host or ""
    if connection.conn_type == "spark" and host and ("://" in host or not connection.port):
        master = host
    else:
        master = f"{connection.conn_type}://{host}"
    return f"{master}:{connection.port}" if connection.port else master


# pyspark-client (pulled by the apache-spark provider) also installs a ``pyspark`` package, without Spark.
_NO_SPARK = (
    "The spark engine needs Spark: install the extra headrace[spark] (pyspark), "
    "or name a spark-binary in the Spark connection's extra"
)


def pyspark_submit() -> tuple[str, str]:
    """``spark-submit`` of the pyspark installed here and its SPARK_HOME (the pyspark package)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise IngestionFailed(_NO_SPARK)
    home = next(iter(spec.submodule_search_locations))
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "spark-submit",
        Path(home) / "bin" / "spark-submit",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate), home
    raise IngestionFailed(f"{_NO_SPARK} (no spark-submit next to this Python or in {home}/bin)")


# -- sources, staging and results ------------------------------------------------------------------


def _source(spec: IngestionSpec, file: ResolvedFile, store: ObjectStore) -> dict[str, Any]:
    """What the job needs of one file: its URI for Spark, and whether it is multi-line JSON."""
    local = store.local_path(file.bucket, file.key)
    uri = f"file://{local}" if local is not None else f"s3a://{file.bucket}/{file.key}"
    if _GLOB_CHARS.search(uri):
        raise IngestionFailed(
            f"{file.uri}: the spark engine cannot read files whose names contain any of []{{}}*?\\ "
            "(Spark reads every path as a pattern); use the arrow engine",
            file=file.uri,
        )
    head = _head(store, file)
    file_type = spec.source.file_type
    try:
        _check_head(head, file, file_type, spec.source.file_format_properties)
    except FileTypeMismatch as exc:
        raise IngestionFailed(f"{file.uri}: {exc}", file=file.uri) from None
    multi_line = file_type is FileType.JSON and _multi_line_json(head, whole=len(head) >= file.size)
    return {"uri": uri, "multi_line": multi_line}


def _head(store: ObjectStore, file: ResolvedFile) -> bytes:
    try:
        handle = store.open(file.bucket, file.key)
        try:
            return handle.read(SNIFF_BYTES)  # type: ignore[union-attr]
        finally:
            handle.close()  # type: ignore[union-attr]
    except Exception as exc:
        raise IngestionFailed(f"Cannot read {file.uri}: {exc}", file=file.uri) from exc


def _check_head(head: bytes, file: ResolvedFile, file_type: FileType, csv: CsvProperties | None) -> None:
    """The content check of the Arrow engine on the first bytes (Parquet's tail only if they hold it)."""
    if file_type is FileType.PARQUET:
        whole = len(head) == file.size
        if head[:4] != b"PAR1" or (whole and head[-4:] != b"PAR1") or file.size < 12:
            raise FileTypeMismatch("File content is not PARQUET (checked by content, not by name)")
        return
    if (
        file_type is FileType.CSV
        and csv is not None
        and csv.encoding.replace("_", "-").lower()
        not in (
            "utf-8",
            "utf8",
        )
    ):
        return  # text in another encoding: Spark decodes it
    check_content(io.BytesIO(head), file_type)


def _multi_line_json(head: bytes, *, whole: bool) -> bool:
    """A JSON array, or one object spread over lines, rather than JSON lines (one object per line)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"[":
        return True
    line, newline, _ = text.partition(b"\n")
    if not newline and not whole:
        return False  # a first line longer than the sample: JSON lines
    try:
        json.loads(line)
    except ValueError:
        return True
    return False


def _spark_failure(error: str, sources: dict[str, str]) -> IngestionFailed:
    """The job's error with Spark's names of the files replaced by the job's (``s3://bucket/key``)."""
    culprit = None
    for spark_name, uri in sorted(sources.items(), key=lambda item: -len(item[0])):
        local = spark_name.removeprefix("file://")
        for variant in (spark_name, f"file:{local}" if spark_name.startswith("file://") else spark_name):
            if variant in error:
                error = error.replace(variant, uri)
                culprit = culprit or uri
    return IngestionFailed(f"Spark job failed: {error}", file=culprit)


def _csv_args(props: CsvProperties | None) -> dict[str, Any]:
    props = props or CsvProperties()
    return {
        "header": props.header,
        "sep": props.field_delimiter,
        "quote": props.quote_character,
        "escape": props.escape_character,
        "null_value": props.null_value,
        "encoding": props.encoding,
        "line_sep": props.line_delimiter,
    }


def submit_output(exc: Exception) -> str:
    """The end of spark-submit's output from the hook's error (the hook masks secrets in it)."""
    text = str(exc)
    marker = "Last spark-submit output:"
    text = text.split(marker, 1)[1] if marker in text else text.split(". Error code is:", 1)[-1]
    lines = [
        line for line in text.strip().splitlines() if line.strip() and not line.lstrip().startswith("at ")
    ]
    return "\n".join(lines[-MAX_ERROR_LINES:]) or type(exc).__name__
