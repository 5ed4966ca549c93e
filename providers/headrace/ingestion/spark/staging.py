"""Where Spark programs write: one job's staging folder, its result file, its ``fs.s3a`` settings.

Staging folders (named by the job id, so a retry replaces its own leftovers):

* Iceberg: ``<table location>/data/spark-<job>/``, where ``add_files`` can keep the files as they are;
* Delta and Hive-style: ``<warehouse>/.headrace-staging/<catalog>/<schema>/<table>/spark-<job>/``,
  next to the catalog's folder rather than inside it: a folder inside a Hive-style catalog would be
  listed as a schema or table (and would make a table look as if it existed), and the commit
  rewrites these files anyway.

:class:`SparkStaging` is the folder's life in one job, shared by the ingestion engine and SQL
transforms on Spark: emptied first (a crashed attempt's leftovers were never committed), its Parquet
files handed to the commit, everything else removed afterwards, on failure too.
"""

from __future__ import annotations

import json
import os
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow.fs as pafs

from headrace.ingestion.files import ResolvedFile
from headrace.lakehouse.catalogs.base import FormatCatalog
from headrace.lakehouse.tables import TableCommitter
from headrace.lakehouse.tables.base import delete_dir, filesystem_for, list_files
from headrace.storage import S3Settings

RESULT_NAME = "_headrace_result.json"
STAGING_FOLDER = ".headrace-staging"


class SparkStaging:
    """One job's staging folder: ``with SparkStaging(table, catalog) as staging: ...``.

    ``uri`` is where the Spark program writes its Parquet files and ``result_uri`` its result file;
    :meth:`hand_over` lists the Parquet files for the commit, which owns them from then on (it adopts
    or deletes them), so leaving the block removes everything but those.
    """

    def __init__(self, table: TableCommitter, catalog: FormatCatalog) -> None:
        self.uri = staging_uri(table, catalog)
        self.result_uri = f"{self.uri}/{RESULT_NAME}"
        self.s3 = catalog.location.s3
        self.fs, self.path = filesystem_for(self.uri, self.s3)
        self.handed_over = False

    def __enter__(self) -> SparkStaging:
        delete_dir(self.fs, self.path)  # what a crashed attempt of this job left (never committed data)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        clean_staging(self.fs, self.path, keep_parquet=self.handed_over)

    def result(self) -> dict[str, Any] | None:
        return read_result(self.result_uri, self.s3)

    def hand_over(self) -> list[str]:
        """URIs of the Parquet files Spark wrote, now the commit's (other files are deleted)."""
        files = staged_files(self.fs, self.path, self.uri)
        self.handed_over = True
        return files


def staging_uri(table: TableCommitter, catalog: FormatCatalog) -> str:
    """The job's staging folder on the catalog's storage (see the module docstring)."""
    folder = f"spark-{table.token}"
    if (adoptable := table.adoption_folder()) is not None:
        return f"{adoptable}/{folder}"
    location = catalog.location.uri.rstrip("/")
    parent, _, name = location.rpartition("/")
    if not parent or parent.endswith(":/") or parent.endswith(":"):  # a bucket root: stay inside it
        parent, name = location, catalog.info.name
    target = table.target
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


def staged_files(fs: pafs.FileSystem, path: str, uri: str) -> list[str]:
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


def clean_staging(fs: pafs.FileSystem, path: str, *, keep_parquet: bool) -> None:
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


def read_result(uri: str, s3: S3Settings | None) -> dict[str, Any] | None:
    """The result file a Spark program wrote (see :mod:`.job`), None when it wrote none."""
    fs, path = filesystem_for(uri, s3)
    if fs.get_file_info(path).type != pafs.FileType.File:
        return None
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read())


def hadoop_conf(
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
