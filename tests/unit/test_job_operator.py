"""JobExecutionOperator, its trigger and the headrace_api hook, against real servers on loopback.

Binaries are shell scripts served by a real ``http.server``; DAGs run with Airflow's own ``dag.test()``
(the Task SDK runs the task, serializes the trigger and runs it in process, as the triggerer would).
Queue mode talks to the real Flask app of the API served on a loopback socket, and a real
``headrace executor`` (in a thread) claims and runs the jobs.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from headrace.hooks.headrace_api import HeadraceApiHook, base_url
from headrace.operators.job_execution import (
    ERROR_XCOM_KEY,
    XCOM_EXIT_CODE,
    XCOM_JOB_ID,
    XCOM_STDOUT_TAIL,
    JobExecutionOperator,
)
from headrace.triggers.job import STDOUT_TAIL_CHARS, HeadraceJobTrigger
from tests.conftest import BASE, REPO

SCRIPT = b"""#!/bin/sh
echo "hello $1 from $GREETING"
if [ "$2" = "fail" ]; then echo "it broke" >&2; exit 3; fi
if [ "$2" = "loud" ]; then i=0; while [ $i -lt 2000 ]; do echo "line $i of noise"; i=$((i+1)); done; fi
echo "done $1"
"""
SHA = hashlib.sha256(SCRIPT).hexdigest()
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DAGS = Path(tempfile.mkdtemp(prefix="headrace-job-dags-"))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def binary_url(tmp_path_factory) -> Iterator[str]:
    """URL of SCRIPT on a real HTTP server on 127.0.0.1."""
    folder = tmp_path_factory.mktemp("binaries")
    (folder / "greet").write_bytes(SCRIPT)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/greet"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST", "http://127.0.0.1:")


DAG_FILE = """\
from datetime import datetime

from airflow.sdk import DAG

from headrace.operators.job_execution import JobExecutionOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1), params={{"who": "world"}}):
    JobExecutionOperator(task_id="run", poll_interval=0.2, **{arguments!r})
"""


def _dag(dag_id: str, **operator_args: Any):
    """A DAG with one JobExecutionOperator, parsed from its own file (``dag.test()`` runs DAGs of files)."""
    from airflow.dag_processing.dagbag import DagBag

    folder = DAGS / dag_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{dag_id}.py").write_text(DAG_FILE.format(dag_id=dag_id, arguments=operator_args))
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]


def _test(dag, monkeypatch: pytest.MonkeyPatch):
    """``dag.test()`` with the DAG's folder as the DAG bundle it syncs the DAG from."""
    bundle = {
        "name": "dags-folder",
        "classpath": LOCAL_BUNDLE,
        "kwargs": {"path": str(Path(dag.fileloc).parent)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    return dag.test()


def _xcoms(run, task_id: str = "run") -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids=task_id)
        ).all()
        return {row.key: XComModel.deserialize_value(row) for row in rows}


def _state(run, task_id: str = "run") -> str:
    return run.get_task_instance(task_id).state


# -- fields and serialization ---------------------------------------------------------------------


def test_every_job_field_is_rendered_from_the_run(allow_loopback) -> None:
    dag = _dag(
        "job_render",
        binary_url="http://127.0.0.1:1/{{ params.who }}",
        binary_sha256="{{ params.sha }}",
        arguments=["--day", "{{ ds }}", "{{ params.who }}"],
        env_variables={"WHO": "{{ params.who }}"},
        priority="{{ params.priority }}",
        mode="{{ params.mode }}",
        job_type="type-{{ params.who }}",
    )
    task = dag.get_task("run")
    context = {
        "ds": "2026-03-04",
        "params": {"who": "ada", "sha": SHA, "priority": "foreground", "mode": "inline"},
    }

    task.render_template_fields(context)

    assert task.binary_url == "http://127.0.0.1:1/ada" and task.binary_sha256 == SHA
    assert task.arguments == ["--day", "2026-03-04", "ada"]
    assert task.env_variables == {"WHO": "ada"}
    assert (task.priority, task.mode, task.job_type) == ("foreground", "inline", "type-ada")
    assert task.job_body() == {
        "type": "type-ada",
        "binary_url": "http://127.0.0.1:1/ada",
        "binary_sha256": SHA,
        "arguments": ["--day", "2026-03-04", "ada"],
        "env_variables": {"WHO": "ada"},
        "priority": "foreground",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"mode": "remote"}, "mode must be one of queue, inline"),
        ({"api_conn_id": "{{ params.conn }}"}, "api_conn_id is fixed"),
    ],
)
def test_a_wrong_mode_or_a_templated_connection_is_refused_when_the_dag_is_parsed(arguments, message):
    with pytest.raises(ValueError, match=message):
        JobExecutionOperator(task_id="t", binary_url="https://x", binary_sha256=SHA, **arguments)


def test_the_trigger_survives_serialization_and_never_holds_the_api_key() -> None:
    from airflow.sdk._shared.module_loading import import_string
    from airflow.serialization.serialized_objects import BaseSerialization

    trigger = HeadraceJobTrigger("a-job-id", "headrace_api_prod", poll_interval=2.5)
    classpath, kwargs = trigger.serialize()
    stored = json.dumps(BaseSerialization.serialize(kwargs))  # what the triggers table holds

    again = import_string(classpath)(**BaseSerialization.deserialize(json.loads(stored)))

    assert classpath == "headrace.triggers.job.HeadraceJobTrigger"
    assert again.serialize() == (classpath, kwargs)
    assert kwargs == {"job_id": "a-job-id", "api_conn_id": "headrace_api_prod", "poll_interval": 2.5}


# -- inline mode ----------------------------------------------------------------------------------


def test_inline_mode_runs_the_binary_in_the_task_and_pushes_its_output(
    migrated_db, binary_url, allow_loopback, monkeypatch
) -> None:
    dag = _dag(
        "job_inline_ok",
        binary_url=binary_url,
        binary_sha256=SHA,
        arguments=["{{ params.who }}", "loud"],
        env_variables={"GREETING": "the task"},
        mode="inline",
    )

    run = _test(dag, monkeypatch)

    assert _state(run) == "success"
    xcoms = _xcoms(run)
    assert xcoms[XCOM_EXIT_CODE] == 0 and xcoms[XCOM_JOB_ID] is None
    assert xcoms[XCOM_STDOUT_TAIL].endswith("line 1999 of noise\ndone world\n")
    assert len(xcoms[XCOM_STDOUT_TAIL]) == STDOUT_TAIL_CHARS  # the tail, not the whole 30 KB
    assert xcoms["return_value"] == {"job_id": None, "status": "completed", "exit_code": 0}


def test_inline_mode_fails_the_task_with_the_jobs_error(
    migrated_db, binary_url, allow_loopback, monkeypatch
) -> None:
    dag = _dag(
        "job_inline_fail",
        binary_url=binary_url,
        binary_sha256=SHA,
        arguments=["bob", "fail"],
        env_variables={"GREETING": "x"},
        mode="inline",
        retries=3,
    )

    run = _test(dag, monkeypatch)

    assert _state(run) == "failed"  # no retry: AirflowFailException
    xcoms = _xcoms(run)
    assert xcoms[ERROR_XCOM_KEY] == "Inline job failed: exit_code: binary exited with code 3"
    assert xcoms[XCOM_EXIT_CODE] == 3 and xcoms[XCOM_STDOUT_TAIL] == "hello bob from x\n"


def test_inline_mode_never_runs_a_binary_with_another_checksum(
    migrated_db, binary_url, allow_loopback, monkeypatch
) -> None:
    dag = _dag("job_inline_sha", binary_url=binary_url, binary_sha256="0" * 64, mode="inline")

    run = _test(dag, monkeypatch)

    assert _state(run) == "failed"
    error = _xcoms(run)[ERROR_XCOM_KEY]
    assert error.startswith("Inline job failed: checksum mismatch") and "not executed" in error


def test_inline_mode_applies_the_queues_allow_list(migrated_db, binary_url, monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__HEADRACE__JOB_BINARY_URL_ALLOWLIST", "https://binaries.example/")
    dag = _dag("job_inline_allow", binary_url=binary_url, binary_sha256=SHA, mode="inline")

    run = _test(dag, monkeypatch)

    assert _state(run) == "failed"
    error = _xcoms(run)[ERROR_XCOM_KEY]
    assert (
        error
        == "Job refused: binary_url: must start with one of the allowed prefixes: https://binaries.example/"
    )


# -- queue mode: the real API on loopback, a real `headrace executor` ------------------------------

CONN_ID = "headrace_api_unit"


@pytest.fixture(scope="module")
def api_url(app) -> Iterator[str]:
    """The api-server's Flask app (with the job-queue routes) on a loopback socket."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{BASE}"
    finally:
        server.shutdown()


def _key(client, admin_headers, scope: str) -> str:
    body = {"name": f"job-operator-{scope}", "scopes": [scope], "expires_in_days": 1}
    response = client.post(f"{BASE}/auth/api-keys", headers=admin_headers, json=body)
    assert response.status_code == 201, response.json
    return response.json["data"]["key"]


@pytest.fixture
def connection(api_url, client, admin_headers, allow_loopback, monkeypatch) -> str:
    """``headrace_api_unit``: the loopback API with a ``write`` key, as an Airflow connection."""
    conn = {"conn_type": "headrace_api", "host": api_url, "password": _key(client, admin_headers, "write")}
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
    return conn["password"]


@pytest.fixture
def executor(api_url, client, admin_headers, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A real ``headrace executor`` subprocess claiming from the loopback API."""
    command = [
        str(Path(sys.executable).with_name("headrace")),
        "executor",
        "--api-url",
        api_url,
        "--allow-url-prefix",
        "http://127.0.0.1:",
        "--poll-wait",
        "1",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--heartbeat-interval",
        "0.5",
    ]
    env = {**os.environ, "HEADRACE_API_KEY": _key(client, admin_headers, "executor")}
    with (tmp_path / "executor.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# Jobs of this module have a type of their own: other tests' pending jobs share the session's queue.
JOB_TYPE = "unit-trigger"


def _submit(binary_url: str, *arguments: str) -> str:
    job = {"type": JOB_TYPE, "binary_url": binary_url, "binary_sha256": SHA, "arguments": list(arguments)}
    return HeadraceApiHook(CONN_ID).submit_job({**job, "env_variables": {}, "priority": "foreground"})["id"]


def _act_as_executor(client, key: str, job_id: str, outcome: str, **body: Any) -> None:
    """What an executor does: claim the job, then report it ``complete`` or ``fail``."""
    headers = {"X-API-Key": key}
    claimed = client.post(
        f"{BASE}/jobs/claim", headers=headers, json={"executor_id": "unit-hands", "types": [JOB_TYPE]}
    )
    assert claimed.status_code == 200 and claimed.json["id"] == job_id, claimed.json
    done = client.put(
        f"{BASE}/jobs/{job_id}/{outcome}", headers=headers, json={"executor_id": "unit-hands", **body}
    )
    assert done.status_code == 200, done.json


HEADRACE_TRIGGER = "headrace.triggers.job.HeadraceJobTrigger"


def _trigger_of(run) -> tuple[str, str] | None:
    """``(classpath, serialized kwargs)`` of the trigger the task deferred to, if it deferred."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    trigger_id = run.get_task_instance("run").trigger_id
    if trigger_id is None:
        return None
    with create_session() as session:
        trigger = session.get(Trigger, trigger_id)
        return trigger.classpath, json.dumps(trigger.kwargs, default=str)


def _run_trigger(trigger: HeadraceJobTrigger, timeout: float = 30):
    async def first_event():
        return await asyncio.wait_for(anext(trigger.run()), timeout)

    return asyncio.run(first_event())


def test_the_hook_checks_the_connection_and_its_key(connection, api_url, monkeypatch) -> None:
    assert HeadraceApiHook(CONN_ID).test_connection() == (True, "Connected as admin")

    wrong = {"conn_type": "headrace_api", "host": api_url, "password": "hrk_nope.nope"}
    monkeypatch.setenv("AIRFLOW_CONN_HEADRACE_API_WRONG", json.dumps(wrong))
    ok, message = HeadraceApiHook("headrace_api_wrong").test_connection()
    assert not ok and message.startswith("401")


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("http://airflow:8080", None, "http://airflow:8080/pluginsv2/headrace/api/v1"),
        ("airflow", 8080, "http://airflow:8080/pluginsv2/headrace/api/v1"),
        (
            "https://hr.example/pluginsv2/headrace/api/v1/",
            None,
            "https://hr.example/pluginsv2/headrace/api/v1",
        ),
        ("http://127.0.0.1:5000/headrace/api/v1", 9999, "http://127.0.0.1:5000/headrace/api/v1"),
    ],
)
def test_the_connection_host_is_the_api_servers_url(host: str, port: int | None, url: str) -> None:
    assert base_url(host, port) == url


def test_airflow_lists_the_headrace_api_connection_type() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["headrace_api"]
    assert hook.hook_class_name == "headrace.hooks.headrace_api.HeadraceApiHook"
    behaviour = ProvidersManager().field_behaviours["headrace_api"]  # the connection form of the UI
    assert behaviour["relabeling"] == {"host": "API URL", "password": "API key"}


def test_the_trigger_fires_when_an_executor_completes_the_job(
    connection, api_url, client, admin_headers, binary_url
) -> None:
    job_id = _submit(binary_url, "x")
    executor_key = _key(client, admin_headers, "executor")
    stdout = "".join(f"line {i}\n" for i in range(2000))
    threading.Timer(
        1.0, _act_as_executor, (client, executor_key, job_id, "complete"), {"stdout": stdout, "exit_code": 0}
    ).start()

    event = _run_trigger(HeadraceJobTrigger(job_id, CONN_ID, poll_interval=0.2))

    assert event.payload["status"] == "success" and event.payload["job_id"] == job_id
    assert event.payload["job_status"] == "completed" and event.payload["exit_code"] == 0
    assert event.payload["stdout_tail"] == stdout[-STDOUT_TAIL_CHARS:]


def test_the_trigger_reports_the_jobs_error_message(
    connection, api_url, client, admin_headers, binary_url
) -> None:
    job_id = _submit(binary_url, "x")
    _act_as_executor(
        client,
        _key(client, admin_headers, "executor"),
        job_id,
        "fail",
        stderr="boom",
        exit_code=2,
        error_message="exit_code: binary exited with code 2",
    )

    event = _run_trigger(HeadraceJobTrigger(job_id, CONN_ID, poll_interval=0.2))

    assert event.payload["status"] == "error" and event.payload["exit_code"] == 2
    assert event.payload["message"] == f"Job {job_id} failed: exit_code: binary exited with code 2"
    assert event.payload["stderr_tail"] == "boom"


def test_the_trigger_gives_up_on_a_job_that_does_not_exist(connection) -> None:
    event = _run_trigger(HeadraceJobTrigger("00000000-0000-0000-0000-000000000000", CONN_ID, 0.1))
    assert event.payload["status"] == "error" and "404" in event.payload["message"]


@pytest.mark.parametrize("deferrable", [True, False])
def test_queue_mode_defers_until_the_executor_ran_the_job(
    migrated_db, connection, api_url, executor, binary_url, monkeypatch, deferrable
) -> None:
    dag = _dag(
        f"job_queue_ok_{deferrable}",
        binary_url=binary_url,
        binary_sha256=SHA,
        arguments=["{{ params.who }}"],
        env_variables={"GREETING": "an executor"},
        api_conn_id=CONN_ID,
        deferrable=deferrable,
    )

    run = _test(dag, monkeypatch)

    assert _state(run) == "success"
    trigger = _trigger_of(run)  # deferred: waited in a trigger, which never held the API key
    if deferrable:
        assert trigger[0] == HEADRACE_TRIGGER and CONN_ID in trigger[1] and connection not in trigger[1]
    else:
        assert trigger is None
    xcoms = _xcoms(run)
    assert xcoms[XCOM_EXIT_CODE] == 0
    assert xcoms[XCOM_STDOUT_TAIL] == "hello world from an executor\ndone world\n"
    job = HeadraceApiHook(CONN_ID).get_job(xcoms[XCOM_JOB_ID])
    assert job["status"] == "completed" and job["type"] == "airflow" and job["executor_id"]
    assert xcoms["return_value"] == {"job_id": job["id"], "status": "completed", "exit_code": 0}


def test_queue_mode_fails_the_task_with_the_jobs_error(
    migrated_db, connection, api_url, executor, binary_url, monkeypatch
) -> None:
    dag = _dag(
        "job_queue_fail",
        binary_url=binary_url,
        binary_sha256=SHA,
        arguments=["bob", "fail"],
        api_conn_id=CONN_ID,
        retries=2,
    )

    run = _test(dag, monkeypatch)

    assert _state(run) == "failed"
    xcoms = _xcoms(run)
    job_id = xcoms[XCOM_JOB_ID]
    assert xcoms[ERROR_XCOM_KEY] == f"Job {job_id} failed: exit_code: binary exited with code 3"
    assert xcoms[XCOM_EXIT_CODE] == 3


def test_a_job_the_queue_refuses_fails_the_task_with_the_field_at_fault(
    migrated_db, connection, binary_url, monkeypatch
) -> None:
    dag = _dag("job_queue_refused", binary_url=binary_url, binary_sha256="abc", api_conn_id=CONN_ID)

    run = _test(dag, monkeypatch)

    assert _state(run) == "failed"
    error = _xcoms(run)[ERROR_XCOM_KEY]
    assert error.startswith("Job not submitted: 400") and "binary_sha256" in error


def test_the_example_dag_runs_a_job_queued_then_inline(
    migrated_db, connection, api_url, executor, binary_url, monkeypatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    folder = DAGS / "example"
    folder.mkdir(exist_ok=True)
    shutil.copy(REPO / "dags" / "example_job_execution.py", folder)
    monkeypatch.setenv("AIRFLOW_CONN_HEADRACE_API_DEFAULT", os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"])
    monkeypatch.setenv("AIRFLOW_VAR_HEADRACE_EXAMPLE_JOB_BINARY_URL", binary_url)
    monkeypatch.setenv("AIRFLOW_VAR_HEADRACE_EXAMPLE_JOB_BINARY_SHA256", SHA)
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors

    run = _test(bag.dags["example_job_execution"], monkeypatch)

    assert (_state(run, "queued"), _state(run, "inline")) == ("success", "success")
    queued, inline = _xcoms(run, "queued"), _xcoms(run, "inline")
    assert HeadraceApiHook().get_job(queued[XCOM_JOB_ID])["status"] == "completed"
    assert queued[XCOM_STDOUT_TAIL] == "hello world from \ndone world\n"
    assert inline[XCOM_EXIT_CODE] == 0 and inline[XCOM_JOB_ID] is None
