"""Fixtures of the end-to-end tests: a real Airflow deployment (see :mod:`tests.e2e.cluster`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.cluster import AirflowCluster, running_airflow


@pytest.fixture(scope="session")
def airflow_cluster(tmp_path_factory) -> Iterator[AirflowCluster]:
    """The default deployment: local folder storage, catalogs on SQLite in its AIRFLOW_HOME."""
    with running_airflow(tmp_path_factory.mktemp("airflow-e2e")) as cluster:
        yield cluster
