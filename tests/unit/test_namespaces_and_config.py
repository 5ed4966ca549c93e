"""Namespace error styles and the [headrace] configuration accessors."""

from __future__ import annotations

import pytest

from headrace import config
from headrace.api.namespaces import ErrorStyle, Namespace


@pytest.mark.parametrize(
    ("path", "namespace", "style"),
    [
        ("/catalog/x/tree", Namespace.CATALOG, ErrorStyle.ENVELOPE),
        ("/pipelines:generate", Namespace.PIPELINES, ErrorStyle.OBJECT),
        ("/pipelines/p1:deploy", Namespace.PIPELINES, ErrorStyle.OBJECT),
        ("/workflows/w1", Namespace.WORKFLOWS, ErrorStyle.OBJECT),
        ("/jobs/claim", Namespace.JOBS, ErrorStyle.CONTEXT),
        ("/admin/stats", Namespace.JOBS, ErrorStyle.CONTEXT),
        ("/ingest/events:batch", Namespace.EVENTS, ErrorStyle.CONTEXT),
        ("/unknown", Namespace.META, ErrorStyle.ENVELOPE),
    ],
)
def test_unmatched_paths_get_their_namespace_style(path, namespace, style):
    assert Namespace.for_path(path) is namespace
    assert namespace.error_style is style


def test_only_lakehouse_data_namespaces_wrap_answers_in_data():
    assert Namespace.CATALOG.wraps_data and Namespace.AUTH.wraps_data
    assert not Namespace.HEALTH.wraps_data and not Namespace.PIPELINES.wraps_data
    assert not Namespace.JOBS.wraps_data


def test_rate_limit_overrides_per_namespace(monkeypatch):
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMIT", "7 per hour")
    monkeypatch.setenv("AIRFLOW__HEADRACE__RATE_LIMITS", " auth = 10 per minute ;jobs=1000 per hour;broken")

    assert config.rate_limit_for("auth") == "10 per minute"
    assert config.rate_limit_for("jobs") == "1000 per hour"
    assert config.rate_limit_for("catalog") == "7 per hour"


def test_embedded_defaults_live_under_airflow_home(monkeypatch, airflow_home):
    monkeypatch.delenv("AIRFLOW__HEADRACE__STORAGE_ROOT", raising=False)

    assert config.storage_root() == airflow_home / "headrace" / "storage"
    assert config.catalog_uri() == f"sqlite:///{airflow_home / 'headrace' / 'catalog.db'}"
    assert config.warehouse() == str(airflow_home / "headrace" / "storage" / "warehouse")
    assert config.default_engine() == "arrow"
