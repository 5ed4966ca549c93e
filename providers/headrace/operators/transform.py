"""SqlTransformOperator: a read-only SQL query over lakehouse tables, its result written to a table.

A thin adapter over :func:`headrace.ingestion.transform.run_transform` (the ``transform`` step of a
workflow): one commit per run, recorded under a job id derived from the run, so rerunning a task of
the same DAG run does not write twice. The engine and the lakehouse core are imported when the task
runs, not with the module, so that a DAG-parsing process building this operator stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from headrace import config
from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.sql import QueryError
from headrace.operators.failures import fail_task
from headrace.operators.job_ids import default_job_id

__all__ = ["SqlTransformOperator", "failure_message"]


def failure_message(exc: Exception) -> str:
    """What the task log and the error XCom say: the field at fault first, when there is one."""
    if isinstance(exc, QueryError):
        return f"{exc.field}: {exc.message}"
    return str(exc)


class SqlTransformOperator(BaseOperator):
    """Write the result of ``sql`` into ``target``; returns the TransformResult as a dict.

    :param sql: one read-only query over ``catalog.schema.table`` names (or a ``.sql`` file)
    :param target: ``catalog.schema.table`` (``schema.table`` with ``default_catalog``)
    :param write_mode: ``append``, ``overwrite`` or ``merge`` (upsert on ``merge_keys``)
    :param merge_keys: key columns of ``merge``
    :param default_catalog: catalog of ``schema.table`` names in ``sql`` and ``target``
    :param engine_id: an engine of ``[headrace] engines`` (default: ``[headrace] default_engine``)
    :param job_id: recorded in the commit (default: run id and task id, so a rerun writes nothing twice)
    :param lakehouse_conn_id: a ``headrace_lakehouse`` connection (default: the ``[headrace]`` config)
    """

    template_fields: Sequence[str] = (
        "sql",
        "target",
        "write_mode",
        "merge_keys",
        "default_catalog",
        "engine_id",
        "job_id",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}
    ui_color = "#d5e8d4"

    def __init__(
        self,
        *,
        sql: str,
        target: str,
        write_mode: str = "overwrite",
        merge_keys: list[str] | None = None,
        default_catalog: str | None = None,
        engine_id: str | None = None,
        job_id: str | None = None,
        lakehouse_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.target = target
        self.write_mode = write_mode
        self.merge_keys = merge_keys
        self.default_catalog = default_catalog
        self.engine_id = engine_id
        self.job_id = job_id
        self.lakehouse_conn_id = lakehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from headrace.ingestion.results import IngestionFailed
        from headrace.ingestion.transform import ERROR_XCOM_KEY, run_transform

        try:
            result = run_transform(
                self.sql,
                self.target,
                lakehouse=LakehouseHook(self.lakehouse_conn_id).get_conn(),
                job_id=self.job_id or default_job_id(context),
                write_mode=self.write_mode,
                merge_keys=self.merge_keys,
                default_catalog=self.default_catalog or None,
                engine_id=self.engine_id or config.default_engine(),
                engines=config.engines(),
            )
        except (QueryError, IngestionFailed) as exc:
            if isinstance(exc, QueryError) and exc.code == "QUERY_TIMEOUT":
                raise  # may pass on a retry
            # Bad SQL, a bad target or a failed commit fail the same way on every try: no retry.
            fail_task(context, ERROR_XCOM_KEY, failure_message(exc), cause=exc)
        self.log.info(
            "Wrote %s rows into %s (version %s, job %s%s)",
            result.rows_written,
            result.target,
            result.version,
            result.job_id,
            ", committed by an earlier try" if result.already_committed else "",
        )
        return result.as_dict()
