"""GET /monitoring/timeline (a Headrace extension) over the real Flask app: the requests of the last
hour per minute, counted from what every request records in the metadata database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from tests.conftest import BASE

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_last_hour_minute_by_minute(client, admin_headers):
    assert client.post(f"{BASE}/monitoring/reset", headers=admin_headers).status_code == 200
    for _ in range(4):
        assert client.get(f"{BASE}/auth/status", headers=admin_headers).status_code == 200
    assert client.get(f"{BASE}/no/such/route", headers=admin_headers).status_code == 404

    answer = client.get(f"{BASE}/monitoring/timeline", headers=admin_headers)

    assert answer.status_code == 200 and answer.json["success"] is True
    data = answer.json["data"]
    minutes = data["minutes"]
    assert len(minutes) == 60 and data["stepSeconds"] == 60
    assert all(ISO_MS.match(m["timestamp"]) for m in minutes) and ISO_MS.match(data["timestamp"])
    starts = [_at(m["timestamp"]) for m in minutes]
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(starts))
    now = _at(data["timestamp"])
    assert starts[-1] <= now < starts[-1] + timedelta(minutes=1)
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)

    # counting began with the reset: earlier minutes are not known (null), never 0
    since = _at(data["completeSince"])
    assert starts[-2] < since <= now
    counted = [m for m in minutes if m["requests"] is not None]
    if len(counted) == 2:  # the reset fell in the previous minute
        assert counted[0]["requests"] >= 1
    assert all(m["requests"] is None for m in minutes[: -len(counted)])
    assert sum(m["requests"] for m in counted) == 1 + 4 + 1  # the reset, the statuses, the 404
    last = counted[-1]
    assert 0 <= last["avgResponseTime"] <= last["p95ResponseTime"] <= last["maxResponseTime"]


def test_viewers_may_read_it_and_anonymous_callers_may_not(client, admin_headers, viewer_headers):
    client.post(f"{BASE}/monitoring/reset", headers=admin_headers)

    data = client.get(f"{BASE}/monitoring/timeline", headers=viewer_headers).json["data"]

    counted = [m for m in data["minutes"] if m["requests"] is not None]
    assert sum(m["requests"] for m in counted) == 1  # the reset, counted before this one was answered
    assert all(m["requests"] == 0 or m["avgResponseTime"] is not None for m in counted)
    refused = client.get(f"{BASE}/monitoring/timeline")
    assert refused.status_code == 401 and refused.json["success"] is False
