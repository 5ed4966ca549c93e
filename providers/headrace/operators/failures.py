"""How a Headrace operator fails a task for good: the reason in XCom, then AirflowFailException.

Bad data, a bad spec, bad SQL or a failed check fail the same way on every try, so the task fails
without retry; the reason is pushed to XCom first, under a key the REST API reads to tell the user
why (``headrace.ingestion.results.ERROR_XCOM_KEY``, ``headrace.ingestion.transform.ERROR_XCOM_KEY``,
``headrace.lakehouse.checks.REPORT_XCOM_KEY``). A new operator calls :func:`fail_task` in its
``except`` block with its own key (defined beside the result it reports, not in the operator).
"""

from __future__ import annotations

from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException

__all__ = ["fail_task"]


def fail_task(
    context: Any, key: str, value: Any, message: str | None = None, *, cause: BaseException | None = None
) -> NoReturn:
    """Push ``value`` to XCom under ``key`` and fail the task without retry.

    ``message`` (default: ``str(value)``) is the task's error; ``cause`` the exception it came from.
    """
    context["ti"].xcom_push(key=key, value=value)
    raise AirflowFailException(str(value) if message is None else message) from cause
