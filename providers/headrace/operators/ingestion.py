"""IngestionOperator: load files from object storage into a lakehouse table, in one commit.

The same :class:`~headrace.ingestion.spec.IngestionSpec` as ``POST /ingestion/jobs``; the shipped
``headrace_ingestion`` DAG runs one of these per job with the run conf as the spec. The engine,
readers and lakehouse core are imported when the task runs: a DAG-parsing process that builds the
operator (every generated workflow DAG does) must not pay for pyarrow, pyiceberg and boto3 each parse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from headrace import config
from headrace.hooks.lakehouse import LakehouseHook
from headrace.ingestion.spec import IngestionSpec, parse_spec
from headrace.operators.failures import fail_task
from headrace.operators.job_ids import default_job_id

__all__ = ["IngestionOperator", "cancel_gate"]


def cancel_gate(ti: Any) -> Callable[[], None]:
    """The check right before the table commit: record that the commit is reached, then stop if a
    cancel was requested (``DELETE /ingestion/jobs/{id}`` writes the request while this task runs).

    Both are XComs of this task instance, each a committed write or read through Airflow's execution
    API, in the order the handshake needs (:mod:`headrace.ingestion.results`): a cancel that does not
    see the first is seen here, and one that does waits for this task's outcome.
    """

    def gate() -> None:
        from headrace.ingestion.results import CANCEL_XCOM_KEY, COMMIT_XCOM_KEY, IngestionCancelled

        ti.xcom_push(key=COMMIT_XCOM_KEY, value=True)
        request = ti.xcom_pull(task_ids=ti.task_id, key=CANCEL_XCOM_KEY, map_indexes=ti.map_index)
        if request:
            by = request.get("cancelled_by") if isinstance(request, dict) else None
            raise IngestionCancelled(
                f"Cancelled by {by or 'a user'} before the table commit; the table is unchanged"
            )

    return gate


class IngestionOperator(BaseOperator):
    """Ingest ``source`` files into ``target``; returns rows, bytes, files, duration and version.

    :param spec: the whole job spec (a dict or an IngestionSpec), e.g. ``"{{ dag_run.conf }}"`` in a
        DAG rendering templates as native objects; or give its parts:
    :param target: ``{"catalog", "schema", "table", "write_mode", ...}``
    :param source: ``{"file_paths", "file_type", "bucket_details", "file_format_properties", ...}``
    :param job_id: recorded in the table commit, so a retry never loads twice (default: the run id
        and task id, see :func:`~headrace.operators.job_ids.default_job_id`; required when
        ``execute`` runs outside an Airflow task, with a context that has no task instance)
    :param engine_id: an engine name (default: ``[headrace] default_engine``)
    :param batch_size: rows per batch of the Arrow engine (default: its own)
    :param lakehouse_conn_id: a ``headrace_lakehouse`` connection (default: the ``[headrace]`` config)
    """

    template_fields: Sequence[str] = ("spec", "target", "source", "job_id", "engine_id")
    ui_color = "#c7e9f1"

    def __init__(
        self,
        *,
        spec: dict[str, Any] | IngestionSpec | str | None = None,
        target: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        job_id: str | None = None,
        engine_id: str | None = None,
        execute_config: dict[str, Any] | None = None,
        batch_size: int | None = None,
        lakehouse_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec.conf() if isinstance(spec, IngestionSpec) else spec
        self.target = target
        self.source = source
        self.job_id = job_id
        self.engine_id = engine_id
        self.execute_config = execute_config
        self.batch_size = batch_size
        self.lakehouse_conn_id = lakehouse_conn_id

    def _spec(self) -> IngestionSpec:
        payload = dict(self.spec or {})
        for name in ("target", "source", "engine_id", "execute_config"):
            if getattr(self, name) is not None:
                payload[name] = getattr(self, name)
        spec, errors = parse_spec(payload)
        if spec is None:
            raise AirflowFailException("Invalid ingestion spec: " + "; ".join(e["message"] for e in errors))
        return spec

    def execute(self, context: Any) -> dict[str, Any]:
        from headrace.ingestion.engine import IngestionFailed, run_ingestion
        from headrace.ingestion.engines import engine_for
        from headrace.ingestion.results import ERROR_XCOM_KEY
        from headrace.storage import get_store

        try:
            spec = self._spec()
            job_id = self.job_id or spec.job_id or default_job_id(context)
            hook = LakehouseHook(self.lakehouse_conn_id)
            engine = engine_for(
                spec.engine_id or config.default_engine(), config.engines(), batch_rows=self.batch_size
            )
            result = run_ingestion(
                spec,
                job_id=job_id,
                lakehouse=hook.get_conn(),
                store=get_store(),
                s3=hook.get_settings().s3,
                engine=engine,
                # Without a task instance (execute called outside a task) no cancel can be requested.
                before_commit=None if (ti := context.get("ti")) is None else cancel_gate(ti),
            )
        except (IngestionFailed, AirflowFailException) as exc:
            # Bad data or a bad spec fails the same way on every try: no retry, and say why.
            fail_task(context, ERROR_XCOM_KEY, str(exc), cause=exc)
        self.log.info(
            "Ingested %s rows from %d file(s) into %s (version %s)",
            result.rows_written,
            len(result.files),
            result.target,
            result.version,
        )
        return result.as_dict()
