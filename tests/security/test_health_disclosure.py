"""``/health`` and ``/healthz`` are public: an anonymous caller learns whether the service is up and
which components are, never why a component failed (exception text names hosts, ports and paths) nor
the versions of what runs; callers with valid credentials get the details.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import BASE

DB_HOST = "127.0.0.1:1"
PUBLIC_FIELDS = {"status", "service", "timestamp", "uptime", "environment", "database", "components"}


@pytest.fixture
def broken(monkeypatch, tmp_path):
    """A catalog DB that cannot be reached and a storage root that cannot be created."""
    blocker = tmp_path / "secret-mount"
    blocker.write_text("a file where the storage root should be")
    storage = blocker / "storage"
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"postgresql+psycopg2://nobody@{DB_HOST}/none")
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(storage))
    return storage


@pytest.mark.parametrize(
    ("path", "down"), [("/health", "unhealthy"), ("/healthz", "down")], ids=["health", "healthz"]
)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer forged"}, {"X-API-Key": "hrk_x.y"}], ids=["none", "jwt", "key"]
)
def test_anonymous_callers_get_statuses_only(client, broken, path, down, headers):
    response = client.get(f"{BASE}{path}", headers=headers)

    assert response.status_code == 503
    body = response.json
    assert body["status"] == down and body["database"] == "connected"
    assert set(body) == PUBLIC_FIELDS
    assert {name: set(c) for name, c in body["components"].items()} == {
        name: {"status", "required"} for name in ("metadata_db", "scheduler", "storage", "catalog_db")
    }
    assert body["components"]["catalog_db"]["status"] == "down"
    text = json.dumps(body)
    for secret in (DB_HOST, "psycopg2", "OperationalError", str(broken), "secret-mount", "scheduler has"):
        assert secret not in text


def test_authenticated_callers_get_the_details(client, broken, admin_headers):
    body = client.get(f"{BASE}/health", headers=admin_headers).json

    assert body["version"]
    assert "127.0.0.1" in body["components"]["catalog_db"]["error"]
    assert body["components"]["storage"]["error"]
    assert "no scheduler" in body["components"]["scheduler"]["error"]
