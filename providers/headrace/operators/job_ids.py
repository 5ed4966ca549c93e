"""The job id a Headrace operator records in its table commit when none is given."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

MAX_JOB_ID = 200


def default_job_id(context: Any) -> str:
    """``<run id>.<task id>[.<map index>]`` as a valid job id (unsafe characters replaced, hashed).

    It needs the run id and the task instance of an Airflow task; a context without them (``execute``
    called in a test or a script) fails the task saying so: give the operator a ``job_id`` there.
    """
    from headrace.lakehouse.tables import path_token  # with the table layer, when a task runs

    ti = context.get("ti")
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    missing = [name for name, value in (("task instance 'ti'", ti), ("'run_id'", run_id)) if not value]
    if missing:
        raise AirflowFailException(
            f"No job id: the context has no {' and no '.join(missing)} to derive one from; "
            "pass job_id= when running the operator outside an Airflow task"
        )
    parts = [run_id, ti.task_id]
    if getattr(ti, "map_index", -1) >= 0:
        parts.append(str(ti.map_index))
    token = path_token(".".join(parts))  # a run id like manual__2025-01-01T00:00:00+00:00 has a '+'
    return token if len(token) <= MAX_JOB_ID else f"{token[: MAX_JOB_ID - 9]}-{token[-8:]}"
