"""The Spark engine: ``spark-submit`` converts the job's files to Parquet, Headrace commits them.

Order of a run (as the Arrow engine): open the catalog and table; a job id that already committed
returns its earlier result; check the target; resolve the files; skip files loaded before; then

1. check each file's first bytes (magic bytes / text, as the Arrow engine does) and tell JSON arrays
   from JSON lines, without Spark;
2. ``spark-submit`` :mod:`headrace.ingestion.spark.job` through the Airflow apache-spark provider's
   ``SparkSubmitHook``: Spark reads the files and writes Parquet into a staging folder on the
   catalog's storage, plus a small result file;
3. hand the Parquet files to :func:`~headrace.ingestion.commit.commit_parquet_files`: one commit in
   the table's format (Iceberg adopts them as data files when it can; other cases rewrite them).

Staging folders (named by the job id, so a retry replaces its own leftovers):

* Iceberg: ``<table location>/data/spark-<job>/``, where ``add_files`` can keep the files as they are;
* Delta and Hive-style: ``<warehouse>/.headrace-staging/<catalog>/<schema>/<table>/spark-<job>/``,
  next to the catalog's folder rather than inside it: a folder inside a Hive-style catalog would be
  listed as a schema or table (and would make a table look as if it existed), and the commit
  rewrites these files anyway.

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
from urllib.parse import unquote, urlsplit

import pyarrow.fs as pafs
from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook
from airflow.providers.common.compat.sdk import AirflowNotFoundException
from airflow.sdk import Connection

from headrace.ingestion.commit import (
    commit_parquet_files,
)
from headrace.ingestion.commit.base import TableCommitter, delete_dir, filesystem_for, list_files
from headrace.ingestion.commit.iceberg import IcebergCommitter
from headrace.ingestion.engine import plan_load
from headrace.ingestion.files import ResolvedFile
from headrace.ingestion.results import IngestionFailed, IngestionResult
from headrace.ingestion.spec import CsvProperties, IngestionSpec
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.service import Lakehouse
from headrace.storage import ObjectStore, S3Settings
from headrace.storage.filetypes import SNIFF_BYTES, FileType, FileTypeMismatch, check_content

log = logging.getLogger(__name__)

JOB_SCRIPT = Path(__file__).with_name("job.py")
RESULT_NAME = "_headrace_result.json"
LOCAL_MASTER = "local[*]"
STAGING_FOLDER = ".headrace-staging"
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
        plan = plan_load(spec, job_id=job_id, lakehouse=lakehouse, store=store)
        if isinstance(plan, IngestionResult):
            return plan
        catalog, table, to_load, skipped = plan.catalog, plan.table, plan.to_load, plan.skipped
        sources = [_source(spec, file, store) for file in to_load]
        staging = staging_uri(table, catalog)
        fs, staging_path = filesystem_for(staging, catalog.location.s3)
        delete_dir(fs, staging_path)  # what a crashed attempt of this job left (never committed data)
        handed_over = False
        try:
            self._spark(spec, table, catalog, sources, to_load, staging, s3)
            staged = _staged_files(fs, staging_path, staging)
            handed_over = True
            return commit_parquet_files(
                spec, table.job_id, catalog, staged, to_load, skipped_files=skipped, started=plan.started
            )
        finally:
            _clean_staging(fs, staging_path, keep_parquet=handed_over)

    # -- spark-submit ------------------------------------------------------------------------------

    def _spark(
        self,
        spec: IngestionSpec,
        table: TableCommitter,
        catalog: FormatCatalog,
        sources: list[dict[str, Any]],
        files: list[ResolvedFile],
        staging: str,
        s3: S3Settings | None,
    ) -> dict[str, Any]:
        """Run the job; its result, or IngestionFailed with Spark's error in terms of the sources."""
        spark_sources = {source["uri"]: file.uri for source, file in zip(sources, files, strict=True)}
        result_uri = f"{staging}/{RESULT_NAME}"
        total = sum(file.size for file in files)
        args = {
            "name": f"headrace-ingestion {table.name} {table.job_id}",
            "file_type": spec.source.file_type.value,
            "sources": sources,
            "csv": _csv_args(spec.source.file_format_properties),
            "output": spark_uri(staging),
            "result": spark_uri(result_uri),
            "output_files": max(1, math.ceil(total / self.target_file_bytes)),
            "hadoop_conf": _hadoop_conf(files, s3, catalog.location.uri, catalog.location.s3),
        }
        folder = Path(tempfile.mkdtemp(prefix="headrace-spark-"))  # mode 0700
        try:
            args_file = folder / "args.json"
            args_file.touch(mode=stat.S_IRUSR | stat.S_IWUSR)
            args_file.write_text(json.dumps(args))
            failure = self._submit(spec, table, args_file)
            result = _read_result(result_uri, catalog.location.s3)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if result is not None and result.get("status") == "failed":
            raise _spark_failure(str(result.get("error") or "unknown error"), spark_sources)
        if failure is not None:
            raise IngestionFailed(f"spark-submit failed: {_submit_output(failure)}")
        if result is None:
            raise IngestionFailed(f"The Spark job ended without writing its result ({result_uri})")
        log.info("Spark wrote %s rows in %d file(s) to %s", result.get("rows"), len(result["files"]), staging)
        return result

    def _submit(self, spec: IngestionSpec, table: TableCommitter, args_file: Path) -> Exception | None:
        """Run spark-submit; the hook's error when it fails (None on success)."""
        hook, env = self.submit_hook(spec, table.token, args_file)
        try:
            hook.submit(str(JOB_SCRIPT), env=env)
        except Exception as exc:
            return exc
        except BaseException:  # the task is being stopped: stop spark-submit (and its driver) too
            hook.on_kill()
            raise
        return None

    def submit_hook(
        self, spec: IngestionSpec, token: str, args_file: Path
    ) -> tuple[SparkSubmitHook, dict[str, str]]:
        """The configured hook and the environment of its spark-submit process."""
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


def pyspark_submit() -> tuple[str, str]:
    """``spark-submit`` of the pyspark installed here and its SPARK_HOME (the pyspark package)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise IngestionFailed("The spark engine needs pyspark (or a spark-binary in the Spark connection)")
    home = next(iter(spec.submodule_search_locations))
    for candidate in (
        Path(sysconfig.get_path("scripts")) / "spark-submit",
        Path(home) / "bin" / "spark-submit",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate), home
    raise IngestionFailed(f"No spark-submit found next to this Python or in {home}/bin")


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


def staging_uri(table: TableCommitter, catalog: FormatCatalog) -> str:
    """The job's staging folder on the catalog's storage (see the module docstring)."""
    folder = f"spark-{table.token}"
    if isinstance(table, IcebergCommitter):
        return f"{table.location}/data/{folder}"
    location = catalog.location.uri.rstrip("/")
    parent, _, name = location.rpartition("/")
    if not parent or parent.endswith(":/") or parent.endswith(":"):  # a bucket root: stay inside it
        parent, name = location, catalog.info.name
    target = table.spec.target
    return f"{parent}/{STAGING_FOLDER}/{name}/{target.schema_name}/{target.table}/{folder}"


def spark_uri(uri: str) -> str:
    """A catalog-side URI (``s3://``, ``file:`` or a local path) as Spark's Hadoop filesystems name it."""
    if uri.startswith("s3://"):
        return "s3a://" + uri.removeprefix("s3://")
    if uri.startswith("s3a://"):
        return uri
    if uri.startswith("file:"):
        return "file://" + unquote(urlsplit(uri).path)
    return "file://" + os.path.abspath(uri)


def _staged_files(fs: pafs.FileSystem, path: str, uri: str) -> list[str]:
    """URIs of the Parquet files Spark wrote; everything else in the folder (.crc, result) is removed."""
    staged = []
    for info in list_files(fs, path):
        relative = info.path[len(path.rstrip("/")) + 1 :]
        if "/" not in relative and relative.endswith(".parquet") and not relative.startswith(("_", ".")):
            staged.append(f"{uri}/{relative}")
        else:
            fs.delete_file(info.path)
    for info in fs.get_file_info(pafs.FileSelector(path)):
        if info.type == pafs.FileType.Directory:
            fs.delete_dir(info.path)
    return sorted(staged)


def _clean_staging(fs: pafs.FileSystem, path: str, *, keep_parquet: bool) -> None:
    """Remove the staging folder, but not Parquet files the commit owns (it adopts or deletes them)."""
    remaining = list_files(fs, path)
    for info in remaining:
        if not (keep_parquet and info.base_name.endswith(".parquet")):
            fs.delete_file(info.path)
    if not list_files(fs, path):
        delete_dir(fs, path)
        _prune_empty_parents(fs, path)


def _prune_empty_parents(fs: pafs.FileSystem, path: str) -> None:
    """Delete the ``.headrace-staging/<catalog>/<schema>/<table>`` folders once they are empty."""
    if STAGING_FOLDER not in path.split("/"):
        return
    parts = path.split("/")
    top = parts.index(STAGING_FOLDER)
    for end in range(len(parts) - 1, top, -1):
        folder = "/".join(parts[:end])
        infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        if infos:
            return
        delete_dir(fs, folder)


def _read_result(uri: str, s3: S3Settings | None) -> dict[str, Any] | None:
    fs, path = filesystem_for(uri, s3)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read())


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


def _submit_output(exc: Exception) -> str:
    """The end of spark-submit's output from the hook's error (the hook masks secrets in it)."""
    text = str(exc)
    marker = "Last spark-submit output:"
    text = text.split(marker, 1)[1] if marker in text else text.split(". Error code is:", 1)[-1]
    lines = [
        line for line in text.strip().splitlines() if line.strip() and not line.lstrip().startswith("at ")
    ]
    return "\n".join(lines[-MAX_ERROR_LINES:]) or type(exc).__name__


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


def _hadoop_conf(
    files: list[ResolvedFile], source_s3: S3Settings | None, catalog_uri: str, catalog_s3: S3Settings | None
) -> dict[str, str]:
    """Per-bucket ``fs.s3a`` settings: the source buckets with ``s3``, the catalog's with its own."""
    conf: dict[str, str] = {}
    if source_s3 is not None:
        for bucket in sorted({file.bucket for file in files}):
            conf.update(_s3a_bucket(bucket, source_s3))
    if catalog_s3 is not None and catalog_uri.startswith("s3://"):
        conf.update(_s3a_bucket(urlsplit(catalog_uri).netloc, catalog_s3))
    return conf


def _s3a_bucket(bucket: str, s3: S3Settings) -> dict[str, str]:
    prefix = f"fs.s3a.bucket.{bucket}."
    conf: dict[str, str] = {}
    if s3.endpoint_url:
        conf[prefix + "endpoint"] = s3.endpoint_url
        conf[prefix + "path.style.access"] = "true"
        conf[prefix + "connection.ssl.enabled"] = str(s3.endpoint_url.lower().startswith("https")).lower()
    if s3.region:
        conf[prefix + "endpoint.region"] = s3.region
    if s3.access_key_id and s3.secret_access_key:
        conf[prefix + "access.key"] = s3.access_key_id
        conf[prefix + "secret.key"] = s3.secret_access_key
        provider = "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        if s3.session_token:
            conf[prefix + "session.token"] = s3.session_token
            provider = "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider"
        conf[prefix + "aws.credentials.provider"] = provider
    return conf
