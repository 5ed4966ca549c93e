"""The job-queue API against the real Flask app, with the contract's example bodies as written.

The contract's submission examples carry ``"binary_sha256": "abc123..."``, a placeholder that is no
SHA-256: sent verbatim they are refused naming exactly that field, and accepted once it is a real one.
Jobs of other tests stay in the shared database, so each test uses job types of its own and claims
with ``types``; the tests of verbatim claim bodies first cancel every pending job.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.conftest import BASE

SHA = "0" * 63 + "1"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")

# The contract's bodies, verbatim.
SUBMIT = {
    "type": "data-processing",
    "binary_url": "https://example.com/binary",
    "binary_sha256": "abc123...",
    "arguments": ["arg1", "arg2"],
    "env_variables": {"KEY1": "value1", "KEY2": "value2"},
    "priority": "background",
}
CLAIM = {"executor_id": "worker-1-abc123", "executor_ip": "192.168.1.100"}
HEARTBEAT = {"executor_id": "worker-1-abc123"}
COMPLETE = {"executor_id": "worker-1-abc123", "stdout": "Job output...", "stderr": "", "exit_code": 0}
FAIL = {
    "executor_id": "worker-1-abc123",
    "stdout": "Partial output...",
    "stderr": "Error messages...",
    "exit_code": 1,
    "error_message": "Binary execution failed",
}
BULK = [
    {
        "type": "job-1",
        "binary_url": "https://example.com/binary1",
        "binary_sha256": "abc123...",
        "priority": "background",
    },
    {
        "type": "job-2",
        "binary_url": "https://example.com/binary2",
        "binary_sha256": "def456...",
        "priority": "foreground",
    },
]
BULK_CANCEL = {"job_ids": ["550e8400-e29b-41d4-a716-446655440000", "660e8400-e29b-41d4-a716-446655440001"]}


def _key(client, admin_headers, *scopes: str) -> dict[str, str]:
    created = client.post(
        f"{BASE}/auth/api-keys", headers=admin_headers, json={"name": "jobs", "scopes": list(scopes)}
    )
    assert created.status_code == 201, created.json
    return {"X-API-Key": created.json["data"]["key"]}


@pytest.fixture
def executor_headers(client, admin_headers):
    return _key(client, admin_headers, "executor")


def _real(body: dict, **changes) -> dict:
    return {**body, "binary_sha256": SHA, **changes}


def _unique_type() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def _cancel_all_pending(client, admin_headers) -> None:
    pending = client.get(f"{BASE}/jobs?status=pending&limit=1000", headers=admin_headers).json
    if pending:
        client.post(
            f"{BASE}/jobs/bulk/cancel", headers=admin_headers, json={"job_ids": [j["id"] for j in pending]}
        )


def _fields(response) -> list[str]:
    return sorted(error["field"] for error in response.json["context"]["errors"])


def test_the_contract_example_names_its_placeholder_hash_and_passes_with_a_real_one(client, admin_headers):
    refused = client.post(f"{BASE}/jobs", headers=admin_headers, json=SUBMIT)
    assert refused.status_code == 400
    assert _fields(refused) == ["binary_sha256"] and "error" in refused.json

    created = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT))

    assert created.status_code == 201
    body = created.json
    assert uuid.UUID(body["id"]) and body["type"] == "data-processing" and body["status"] == "pending"
    assert TIMESTAMP.match(body["created_at"])
    detail = client.get(f"{BASE}/jobs/{body['id']}", headers=admin_headers).json
    assert detail["arguments"] == ["arg1", "arg2"] and detail["env_variables"] == SUBMIT["env_variables"]
    assert detail["attempts"] == [] and detail["priority"] == "background"


def test_an_executor_claims_heartbeats_and_completes_with_the_contract_bodies(
    client, admin_headers, executor_headers
):
    _cancel_all_pending(client, admin_headers)
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT)).json["id"]

    claimed = client.post(f"{BASE}/jobs/claim", headers=executor_headers, json=CLAIM)
    assert claimed.status_code == 200
    assert claimed.json["id"] == job_id and claimed.json["status"] == "running"
    assert claimed.json["binary_sha256"] == SHA and claimed.json["attempt"] == 1
    beat = client.put(f"{BASE}/jobs/{job_id}/heartbeat", headers=executor_headers, json=HEARTBEAT)
    assert beat.status_code == 200 and beat.json["cancel_requested"] is False
    done = client.put(f"{BASE}/jobs/{job_id}/complete", headers=executor_headers, json=COMPLETE)
    assert done.status_code == 200 and done.json["status"] == "completed"

    detail = client.get(f"{BASE}/jobs/{job_id}", headers=admin_headers).json
    assert (detail["status"], detail["stdout"], detail["exit_code"]) == ("completed", "Job output...", 0)
    assert detail["executor_id"] == "worker-1-abc123" and TIMESTAMP.match(detail["completed_at"])
    [attempt] = detail["attempts"]
    assert attempt["executor_ip"] == "192.168.1.100" and attempt["status"] == "completed"
    assert client.post(f"{BASE}/jobs/claim", headers=executor_headers, json=CLAIM).status_code == 204
    again = client.put(f"{BASE}/jobs/{job_id}/complete", headers=executor_headers, json=COMPLETE)
    assert again.status_code == 400 and again.json["code"] == "INVALID_STATE_TRANSITION"


def test_the_contract_fail_body_fails_the_job(client, admin_headers, executor_headers):
    kind = _unique_type()
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]
    client.post(f"{BASE}/jobs/claim", headers=executor_headers, json={**CLAIM, "types": [kind]})

    failed = client.put(f"{BASE}/jobs/{job_id}/fail", headers=executor_headers, json=FAIL)

    assert failed.status_code == 200 and failed.json["status"] == "failed"
    detail = client.get(f"{BASE}/jobs/{job_id}", headers=admin_headers).json
    assert detail["error_message"] == "Binary execution failed" and detail["stderr"] == "Error messages..."


def test_only_the_owning_executor_is_heard(client, admin_headers, executor_headers):
    kind = _unique_type()
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]
    client.post(f"{BASE}/jobs/claim", headers=executor_headers, json={**CLAIM, "types": [kind]})
    intruder = {"executor_id": "worker-2"}

    beat = client.put(f"{BASE}/jobs/{job_id}/heartbeat", headers=executor_headers, json=intruder)
    done = client.put(
        f"{BASE}/jobs/{job_id}/complete", headers=executor_headers, json={**COMPLETE, **intruder}
    )
    unknown = client.put(f"{BASE}/jobs/{uuid.uuid4()}/heartbeat", headers=executor_headers, json=HEARTBEAT)

    assert (beat.status_code, done.status_code, unknown.status_code) == (409, 409, 404)
    assert beat.json["code"] == "JOB_OWNED_BY_ANOTHER_EXECUTOR" and beat.json["context"]["job_id"] == job_id
    assert client.get(f"{BASE}/jobs/{job_id}", headers=admin_headers).json["status"] == "running"


def test_every_bad_field_is_named(client, admin_headers):
    bad = {
        "type": "has space",
        "binary_url": "file:///usr/bin/true",
        "binary_sha256": "xyz",
        "arguments": [1],
        "env_variables": {"1BAD": "x"},
        "priority": "urgent",
        "extra": True,
    }

    response = client.post(f"{BASE}/jobs", headers=admin_headers, json=bad)

    assert response.status_code == 400
    assert _fields(response) == [
        "arguments[0]",
        "binary_sha256",
        "binary_url",
        "env_variables",
        "extra",
        "priority",
        "type",
    ]


@pytest.mark.parametrize("url", ["http://example.com/b", "ftp://example.com/b", "https://", "file://x/y"])
def test_urls_outside_the_allowlist_are_refused(client, admin_headers, url):
    response = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, binary_url=url))

    assert response.status_code == 400 and _fields(response) == ["binary_url"]


def test_bulk_submission_is_all_or_nothing_and_keeps_the_order(client, admin_headers):
    verbatim = client.post(f"{BASE}/jobs/bulk", headers=admin_headers, json=BULK)
    assert verbatim.status_code == 400
    assert _fields(verbatim) == ["[0].binary_sha256", "[1].binary_sha256"]
    kind = _unique_type()
    one_bad = [_real(BULK[0], type=kind), {**BULK[1], "type": kind}]
    assert client.post(f"{BASE}/jobs/bulk", headers=admin_headers, json=one_bad).status_code == 400
    assert client.get(f"{BASE}/jobs?type={kind}", headers=admin_headers).json == []

    created = client.post(
        f"{BASE}/jobs/bulk", headers=admin_headers, json=[_real(b, type=kind) for b in BULK]
    )

    assert created.status_code == 201
    assert [item["status"] for item in created.json] == ["pending", "pending"]
    listed = client.get(f"{BASE}/jobs?type={kind}", headers=admin_headers).json
    assert {j["id"] for j in listed} == {item["id"] for item in created.json}


def test_bulk_cancel_with_the_contract_body(client, admin_headers):
    response = client.post(f"{BASE}/jobs/bulk/cancel", headers=admin_headers, json=BULK_CANCEL)

    assert response.status_code == 200
    assert (response.json["cancelled"], response.json["failed"]) == (0, 2)
    assert [e["job_id"] for e in response.json["errors"]] == BULK_CANCEL["job_ids"]


def test_cancel_pending_running_and_unknown(client, admin_headers, executor_headers):
    kind = _unique_type()
    first = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]
    client.post(f"{BASE}/jobs/claim", headers=executor_headers, json={**CLAIM, "types": [kind]})
    second = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]

    assert client.delete(f"{BASE}/jobs/{second}", headers=admin_headers).json["status"] == "cancelled"
    running = client.delete(f"{BASE}/jobs/{first}", headers=admin_headers)
    assert running.status_code == 400 and running.json["context"]["status"] == "running"
    assert client.delete(f"{BASE}/jobs/{uuid.uuid4()}", headers=admin_headers).status_code == 404
    assert client.get(f"{BASE}/jobs/not-a-uuid", headers=admin_headers).status_code == 404

    forced = client.delete(f"{BASE}/jobs/{first}?force=true", headers=admin_headers)
    assert forced.status_code == 200 and forced.json["cancel_requested"] is True
    beat = client.put(f"{BASE}/jobs/{first}/heartbeat", headers=executor_headers, json=HEARTBEAT)
    assert beat.json["cancel_requested"] is True
    ended = client.put(f"{BASE}/jobs/{first}/fail", headers=executor_headers, json=FAIL)
    assert ended.json["status"] == "cancelled"


def test_permissions_and_scopes(client, admin_headers, viewer_headers, executor_headers):
    write_key = _key(client, admin_headers, "write")
    kind = _unique_type()

    assert client.post(f"{BASE}/jobs", headers=viewer_headers, json=_real(SUBMIT)).status_code == 403
    assert client.post(f"{BASE}/jobs", headers=executor_headers, json=_real(SUBMIT)).status_code == 403
    assert (
        client.post(f"{BASE}/jobs/claim", headers=write_key, json={**CLAIM, "types": [kind]}).status_code
        == 403
    )
    assert client.get(f"{BASE}/admin/stats", headers=viewer_headers).status_code == 403
    assert client.get(f"{BASE}/jobs", headers=viewer_headers).status_code == 200
    assert client.post(f"{BASE}/jobs", json=_real(SUBMIT)).status_code == 401


def test_idempotency_key_replays_the_first_job(client, admin_headers):
    headers = {**admin_headers, "Idempotency-Key": f"job-{uuid.uuid4()}"}

    first = client.post(f"{BASE}/jobs", headers=headers, json=_real(SUBMIT))
    second = client.post(f"{BASE}/jobs", headers=headers, json=_real(SUBMIT))

    assert first.status_code == second.status_code == 201
    assert first.json["id"] == second.json["id"] and second.headers["Idempotent-Replayed"] == "true"


def test_list_filters_and_limits(client, admin_headers):
    kind = _unique_type()
    for priority in ("foreground", "best_effort"):
        client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind, priority=priority))

    listed = client.get(f"{BASE}/jobs?type={kind}&priority=foreground&status=pending", headers=admin_headers)

    assert [j["priority"] for j in listed.json] == ["foreground"]
    assert len(client.get(f"{BASE}/jobs?type={kind}&limit=1", headers=admin_headers).json) == 1
    too_many = client.get(f"{BASE}/jobs?limit=1001", headers=admin_headers)
    assert too_many.status_code == 400 and _fields(too_many) == ["limit"]


def test_admin_stats_and_executors(client, admin_headers, executor_headers):
    kind = _unique_type()
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]
    claim = {"executor_id": f"ex-{kind}", "hostname": "host-1", "types": [kind]}
    client.post(f"{BASE}/jobs/claim", headers=executor_headers, json=claim)

    stats = client.get(f"{BASE}/admin/stats", headers=admin_headers).json
    executors = client.get(f"{BASE}/admin/executors", headers=admin_headers).json

    assert set(stats["jobs_by_status"]) == {"pending", "running", "completed", "failed", "cancelled"}
    assert set(stats["pending_by_priority"]) == {"foreground", "background", "best_effort"}
    assert stats["active_executors"] >= 1
    mine = next(e for e in executors if e["executor_id"] == f"ex-{kind}")
    assert (mine["current_job_id"], mine["job_type"], mine["hostname"]) == (job_id, kind, "host-1")
    assert TIMESTAMP.match(mine["last_heartbeat"])


def test_metrics_speak_prometheus_when_asked(client, admin_headers):
    text = client.get(f"{BASE}/metrics", headers={**admin_headers, "Accept": "text/plain"})
    openmetrics = client.get(
        f"{BASE}/metrics", headers={**admin_headers, "Accept": "application/openmetrics-text; version=1.0.0"}
    )
    default = client.get(f"{BASE}/metrics", headers=admin_headers)

    assert text.status_code == 200 and text.mimetype == "text/plain"
    body = text.get_data(as_text=True)
    for line in (
        'headrace_jobs{priority="background",status="pending"}',
        "headrace_job_claims_total",
        "headrace_job_completions_total",
        "headrace_job_failures_total",
        "headrace_job_rescues_total",
        'headrace_job_duration_seconds_bucket{le="+Inf"}',
        "headrace_executors_active",
    ):
        assert line in body, line
    assert openmetrics.mimetype == "application/openmetrics-text"
    assert openmetrics.get_data(as_text=True).rstrip().endswith("# EOF")
    assert default.mimetype == "application/json"  # the JSON: tests/api/test_operations_metrics_api.py


def test_a_claim_can_wait_for_a_job(client, admin_headers, executor_headers):
    started = time.monotonic()
    empty = client.post(
        f"{BASE}/jobs/claim", headers=executor_headers, json={**CLAIM, "types": [_unique_type()], "wait": 1}
    )

    assert empty.status_code == 204 and time.monotonic() - started >= 0.9
    too_long = client.post(f"{BASE}/jobs/claim", headers=executor_headers, json={**CLAIM, "wait": 31})
    assert too_long.status_code == 400 and _fields(too_long) == ["wait"]


def test_the_api_server_rescues_a_job_whose_executor_went_silent(client, admin_headers, executor_headers):
    """With a 1 s heartbeat timeout, the next claim (rescue runs before claims, at most every 5 s)
    finds the silent executor's job pending again and hands it out as attempt 2."""
    from airflow.configuration import conf

    kind = _unique_type()
    job_id = client.post(f"{BASE}/jobs", headers=admin_headers, json=_real(SUBMIT, type=kind)).json["id"]
    claim = {"executor_id": "silent", "types": [kind]}
    assert client.post(f"{BASE}/jobs/claim", headers=executor_headers, json=claim).status_code == 200
    conf.set("headrace", "job_heartbeat_timeout", "1")
    try:
        time.sleep(5.2)
        again = client.post(
            f"{BASE}/jobs/claim", headers=executor_headers, json={**claim, "executor_id": "next"}
        )
    finally:
        conf.remove_option("headrace", "job_heartbeat_timeout")

    assert again.status_code == 200 and again.json["id"] == job_id and again.json["attempt"] == 2
    assert [a["status"] for a in again.json["attempts"]] == ["lost", "running"]
    late = client.put(
        f"{BASE}/jobs/{job_id}/heartbeat", headers=executor_headers, json={"executor_id": "silent"}
    )
    assert late.status_code == 409


def test_concurrent_claims_over_http_hand_out_each_job_once(app, client, admin_headers, executor_headers):
    """Eight executors claim at once through a real threaded HTTP server."""
    import json
    import threading
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    from werkzeug.serving import make_server

    kind = _unique_type()
    created = client.post(f"{BASE}/jobs/bulk", headers=admin_headers, json=[_real(SUBMIT, type=kind)] * 24)
    expected = sorted(item["id"] for item in created.json)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    start = threading.Barrier(8)

    def drain(n: int) -> list[str]:
        start.wait()
        got = []
        while True:
            request = urllib.request.Request(
                f"http://127.0.0.1:{httpd.port}{BASE}/jobs/claim",
                data=json.dumps({"executor_id": f"http-{n}", "types": [kind]}).encode(),
                method="POST",
                headers={**executor_headers, "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                if response.status == 204:
                    return got
                got.append(json.loads(response.read())["id"])

    try:
        with ThreadPoolExecutor(8) as pool:
            handed_out = [job_id for batch in pool.map(drain, range(8)) for job_id in batch]
    finally:
        httpd.shutdown()

    assert sorted(handed_out) == expected


def test_an_offset_past_any_database_integer_is_a_400_naming_it(client, admin_headers):
    """Found by schemathesis: a 24-digit offset reached the database and answered 500."""
    response = client.get(f"{BASE}/jobs?offset=863058347796378421297152", headers=admin_headers)

    assert response.status_code == 400
    assert "offset" in response.json["error"]


def test_a_claim_with_nothing_to_do_is_an_empty_204(client, admin_headers):
    """204 has no body, so it carries no Content-Type (Flask's default would say text/html)."""
    key = client.post(
        f"{BASE}/auth/api-keys", headers=admin_headers, json={"name": "idle", "scopes": ["executor"]}
    ).json["data"]["key"]

    response = client.post(
        f"{BASE}/jobs/claim",
        headers={"X-API-Key": key},
        json={"executor_id": "idle-1", "types": ["nothing-of-this-type"]},
    )

    assert response.status_code == 204 and response.data == b""
    assert "Content-Type" not in response.headers
