"""The job-monitoring-api's event routes over the real Flask app on the SQLite metadata DB."""

from __future__ import annotations

import uuid

BASE = "/headrace/job-monitoring"


def event(key=None, *, kind="started", at="2026-12-01T10:00:00+00:00", job="j", site="s-api", **extra):
    body = {
        "idempotency_key": key or uuid.uuid4().hex,
        "site_id": site,
        "app": {"name": "Nightly_ETL", "version": "2.1"},
        "entity": {"type": "job", "id": job, "business_key": "bk-1"},
        "event": {"kind": kind, "at": at, "metrics": {}, "metadata": {}},
    }
    for path, value in extra.items():
        section, name = path.split("__")
        body[section][name] = value
    return body


def test_single_event_errors_name_every_field_and_store_nothing(client, admin_headers):
    bad = event(job="bad-job", event__kind="exploded", entity__type="task")
    bad["event"]["at"] = "2026-12-01T10:00:00"  # no offset
    answer = client.post(f"{BASE}/v1/ingest/events", json=bad, headers=admin_headers)
    assert answer.status_code == 400
    text = str(answer.json)
    for field in ("event.kind", "entity.type", "event.at"):
        assert field in text, (field, answer.json)
    jobs = client.get(f"{BASE}/v1/jobs?site_id=s-api", headers=admin_headers).json
    assert all(item["job_id"] != "bad-job" for item in jobs["items"])


def test_ingest_is_effectively_once_and_materialises_the_job(client, admin_headers):
    job = uuid.uuid4().hex
    started = event("k-" + job, job=job)
    assert client.post(f"{BASE}/v1/ingest/events", json=started, headers=admin_headers).json == {"ok": True}
    assert client.post(f"{BASE}/v1/ingest/events", json=started, headers=admin_headers).json == {"ok": True}
    finished = event(
        job=job,
        kind="finished",
        at="2026-12-01T10:01:30+00:00",
        event__metrics={"cpu_user_s": 4.5, "mem_max_mb": 120},
    )
    assert client.post(f"{BASE}/v1/ingest/events", json=finished, headers=admin_headers).status_code == 200
    late = event(job=job, kind="progress", at="2026-12-01T10:00:30+00:00")
    client.post(f"{BASE}/v1/ingest/events", json=late, headers=admin_headers)
    answer = client.get(f"{BASE}/v1/jobs?app_name=etl&status=succeeded&site_id=s-api", headers=admin_headers)
    assert answer.status_code == 200
    [item] = [i for i in answer.json["items"] if i["job_id"] == job]
    assert item["status"] == "succeeded" and item["duration_s"] == 90
    assert item["started_at"] == "2026-12-01T10:00:00Z" and item["ended_at"] == "2026-12-01T10:01:30Z"
    assert (item["cpu_user_s"], item["mem_max_mb"], item["job_key"]) == (4.5, 120, "bk-1")
    assert item["subjob_count"] == 0 and answer.json["count"] == len(answer.json["items"])


def test_batch_stores_valid_items_and_reports_the_rest(client, admin_headers):
    job = uuid.uuid4().hex
    good = event(job=job)
    sub = event(job=job)
    sub["entity"] = {"type": "subjob", "id": "s-" + job, "parent_id": job}
    bad = event(job=job, event__kind="nope")
    neg = event(job=job, kind="metric", event__metrics={"duration_s": -1})
    answer = client.post(
        f"{BASE}/v1/ingest/events:batch", json=[good, bad, sub, neg, good], headers=admin_headers
    )
    assert answer.status_code == 200
    body = answer.json
    assert (body["ok"], body["stored"], body["duplicates"]) == (False, 2, 1)
    assert [(r["index"], r["errors"][0]["field"]) for r in body["rejected"]] == [
        (1, "event.kind"),
        (3, "event.metrics.duration_s"),
    ]
    subjobs = client.get(f"{BASE}/v1/subjobs?site_id=s-api", headers=admin_headers).json["items"]
    assert [(s["subjob_id"], s["job_id"]) for s in subjobs if s["job_id"] == job] == [("s-" + job, job)]
    not_array = client.post(f"{BASE}/v1/ingest/events:batch", json={"a": 1}, headers=admin_headers)
    assert not_array.status_code == 400


def test_permissions_and_bad_query(client, admin_headers, viewer_headers):
    assert client.post(f"{BASE}/v1/ingest/events", json=event(), headers=viewer_headers).status_code == 403
    assert client.get(f"{BASE}/v1/jobs", headers=viewer_headers).status_code == 200
    assert client.get(f"{BASE}/v1/jobs").status_code == 401
    assert client.get(f"{BASE}/v1/jobs?status=bogus", headers=admin_headers).status_code == 400


def test_healthz_and_metrics(client, admin_headers):
    anonymous = client.get(f"{BASE}/v1/healthz")
    assert anonymous.status_code == 200
    assert (
        set(anonymous.json) == {"status", "service", "version", "sites"} and anonymous.json["status"] == "ok"
    )
    detailed = client.get(f"{BASE}/v1/healthz", headers=admin_headers).json
    assert detailed["database"] == "connected" and "sites" in detailed
    client.post(f"{BASE}/v1/ingest/events", json=event(), headers=admin_headers)
    text = client.get(f"{BASE}/metrics", headers=admin_headers).get_data(as_text=True)
    assert 'headrace_events_ingested_total{kind="started",source="ingest"}' in text
