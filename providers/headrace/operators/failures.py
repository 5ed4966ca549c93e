"""How a Headrace operator fails a task for good: the reason in XCom, then AirflowFailException.

Bad data, a bad spec, bad SQL or a failed check fail the same way on every try, so the task fails
without retry; the reason is pushed to XCom first, under a key the REST API reads to tell the user
why (``headrace.ingestion.results.ERROR_XCOM_KEY``, ``headrace.ingestion.transform.ERROR_XCOM_KEY``,
``headrace.lakehouse.checks.REPORT_XCOM_KEY``). A new operator calls :func:`fail_task` in its
``except`` block with its own key (defined beside the result it reports, not in the operator).

``execute`` called outside an Airflow task (a test, a script) gets a context without a task
instance: there is no XCom then, so :func:`push_xcom` (and :func:`fail_task`) skip the push and the
task's error and return value carry everything.
"""

from __future__ import annotations

from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException

__all__ = ["fail_task", "push_xcom"]


def push_xcom(context: Any, key: str, value: Any) -> None:
    """Push ``value`` to XCom under ``key`` for the context's task instance; none, no push."""
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key=key, value=value)


def fail_task(
    context: Any, key: str, value: Any, message: str | None = None, *, cause: BaseException | None = None
) -> NoReturn:
    """Push ``value`` to XCom under ``key`` and fail the task without retry.

    ``message`` (default: ``str(value)``) is the task's error; ``cause`` the exception it came from.
    """
    push_xcom(context, key, value)
    raise AirflowFailException(str(value) if message is None else message) from cause
