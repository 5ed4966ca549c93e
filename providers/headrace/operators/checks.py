"""TableCheckOperator: data-quality checks on a lakehouse table; the task fails when one fails.

A thin adapter over :func:`headrace.lakehouse.checks.run_checks` (the ``check`` step of a
workflow). Checks are validated when the operator is built, so a bad check breaks the DAG at parse
time rather than at run time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from headrace.hooks.lakehouse import LakehouseHook
from headrace.lakehouse.checks import REPORT_XCOM_KEY, Check, CheckError, parse_checks, run_checks
from headrace.lakehouse.sql import QueryError
from headrace.operators.failures import fail_task
from headrace.operators.transform import failure_message

__all__ = ["REPORT_XCOM_KEY", "TableCheckOperator"]


class TableCheckOperator(BaseOperator):
    """Evaluate ``checks`` on ``table``; returns the report (``records_processed`` = the table's rows).

    When a check fails, the report is pushed to XCom under ``check_report`` and the task fails
    (without retry) naming the failed checks and their failing row counts.

    :param table: ``catalog.schema.table`` (``schema.table`` with ``default_catalog``)
    :param checks: Check models or dicts such as ``{"type": "unique", "columns": ["order_id"]}``
    :param default_catalog: catalog of a ``schema.table`` name
    :param lakehouse_conn_id: a ``headrace_lakehouse`` connection (default: the ``[headrace]`` config)
    """

    template_fields: Sequence[str] = ("table", "checks", "default_catalog")
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        table: str,
        checks: Sequence[Check | dict[str, Any]],
        default_catalog: str | None = None,
        lakehouse_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        try:
            models = parse_checks(checks)
        except CheckError as exc:
            raise ValueError(f"{self.task_id}: {exc.message}") from None
        self.checks = [model.model_dump(mode="json") for model in models]  # templatable, serializable
        self.table = table
        self.default_catalog = default_catalog
        self.lakehouse_conn_id = lakehouse_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            report = run_checks(
                LakehouseHook(self.lakehouse_conn_id).get_conn(),
                self.table,
                self.checks,
                self.default_catalog or None,
            )
        except QueryError as exc:
            if exc.code == "QUERY_TIMEOUT":
                raise
            raise AirflowFailException(failure_message(exc)) from exc
        payload = report.as_dict()
        for result in report.results:
            self.log.info("%s %s: %s", "PASS" if result.passed else "FAIL", result.type, result.message)
        if report.failed:
            failed = "; ".join(
                f"{result.type} ({result.failing_rows} failing row(s)): {result.message}"
                for result in report.failed
            )
            fail_task(
                context,
                REPORT_XCOM_KEY,
                payload,
                f"{len(report.failed)} of {len(report.results)} check(s) failed on {report.table}: {failed}",
            )
        return payload
