"""The job id a Headrace operator records in its table commit when none is given."""

from __future__ import annotations

from typing import Any

MAX_JOB_ID = 200


def default_job_id(context: Any) -> str:
    """``<run id>.<task id>[.<map index>]`` as a valid job id (unsafe characters replaced, hashed)."""
    from headrace.lakehouse.tables import path_token  # with the table layer, when a task runs

    ti = context["ti"]
    parts = [context["run_id"], ti.task_id]
    if getattr(ti, "map_index", -1) >= 0:
        parts.append(str(ti.map_index))
    token = path_token(".".join(parts))  # a run id like manual__2025-01-01T00:00:00+00:00 has a '+'
    return token if len(token) <= MAX_JOB_ID else f"{token[: MAX_JOB_ID - 9]}-{token[-8:]}"
