"""Ingestion end to end: upload over HTTP, a job run by the real scheduler, the table read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest
import requests
from pyiceberg.catalog.sql import SqlCatalog

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
ROWS = b"".join(b'{"order_id": %d, "amount": %d.5, "city": "c%d"}\n' % (i, i, i % 7) for i in range(1000))


def _admin(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}


def _wait(cluster, headers, job_id: str, until: set[str], timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{cluster.api}/ingestion/jobs/{job_id}", headers=headers, timeout=30).json()[
            "data"
        ]
        if job["status"] in until:
            return job
        time.sleep(1)
    pytest.fail(f"job {job_id} still {job['status']} after {timeout}s: {job['details']}")


def _catalog(cluster, headers, name: str) -> None:
    response = requests.post(
        f"{cluster.api}/catalog", headers=headers, json={"name": name, "type": "iceberg"}
    )
    assert response.status_code in (201, 409), response.text


def _create_job(cluster, headers, table: str, file_paths: str, file_type: str = "json") -> requests.Response:
    """POST /ingestion/jobs into iceberg_data.sales.<table>."""
    return requests.post(
        f"{cluster.api}/ingestion/jobs",
        headers=headers,
        json={
            "target": {"catalog": "iceberg_data", "schema": "sales", "table": table},
            "source": {"file_paths": file_paths, "file_type": file_type},
        },
    )


def test_upload_ingest_and_read_back_with_pyiceberg(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    upload = requests.post(
        f"{airflow_cluster.api}/upload",
        headers=headers,
        files={"file": ("transactions.json", ROWS)},
        data={"bucket": "landing", "path": "e2e"},
    ).json()["data"]

    created = _create_job(airflow_cluster, headers, "uploaded_orders", upload["s3Path"])
    assert created.status_code == 201, created.text
    job = _wait(airflow_cluster, headers, created.json()["data"]["job_id"], {"completed", "failed"})

    assert job["status"] == "completed", job["details"]
    assert job["rows_written"] == 1000 and job["end_timestamp"]
    catalog = SqlCatalog("iceberg_data", uri=f"sqlite:///{airflow_cluster.home / 'headrace' / 'catalog.db'}")
    table = catalog.load_table(("sales", "uploaded_orders"))
    assert table.scan().to_arrow().num_rows == 1000
    assert table.current_snapshot().summary["headrace.job-id"] == job["job_id"]


def test_a_missing_file_fails_the_job_with_details(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    created = _create_job(airflow_cluster, headers, "missing", "s3://landing/e2e/nope.json").json()["data"]

    job = _wait(airflow_cluster, headers, created["job_id"], {"completed", "failed"})

    assert job["status"] == "failed"
    assert "s3://landing/e2e/nope.json" in job["details"]


def test_cancel_a_running_job(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    big = airflow_cluster.home / "storage" / "landing" / "big" / "rows.csv"
    big.parent.mkdir(parents=True, exist_ok=True)
    with big.open("w") as out:
        out.write("id,name,amount\n")
        for start in range(0, 3_000_000, 100_000):
            out.write("".join(f"{i},name-{i},{i}.25\n" for i in range(start, start + 100_000)))
    created = _create_job(airflow_cluster, headers, "cancelled", "s3://landing/big/rows.csv", "csv").json()[
        "data"
    ]
    _wait(airflow_cluster, headers, created["job_id"], {"running", "completed", "failed"})

    cancel = requests.delete(f"{airflow_cluster.api}/ingestion/jobs/{created['job_id']}", headers=headers)

    table = f"{airflow_cluster.api}/catalog/iceberg_data/schema/sales/table/cancelled"

    def meta():
        return requests.get(f"{table}/metadata", headers=headers)

    if cancel.status_code == 409:  # the task had reached its table commit: the answer says it completed
        assert "already completed" in cancel.json()["error"], cancel.text
        job = _wait(airflow_cluster, headers, created["job_id"], {"completed"}, timeout=30)
        assert job["rows_written"] == 3_000_000
        assert meta().json()["data"]["properties"]["row_count"] == 3_000_000
        return
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["data"]["status"] == "cancelled"
    job = _wait(airflow_cluster, headers, created["job_id"], {"cancelled"}, timeout=30)
    assert job["end_timestamp"]
    # Nothing was committed: the table is absent, or present without rows.
    after = meta()
    assert after.status_code == 404 or after.json()["data"]["properties"]["row_count"] == 0


@pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="the example uses curl and jq"
)
def test_the_contracts_complete_ingestion_workflow_example(airflow_cluster):
    """lakehouse-api's example script, changed only in base URL and credentials, runs as written."""
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")
    requests.post(
        f"{airflow_cluster.api}/upload",
        headers=headers,
        files={"file": ("transactions.json", ROWS)},
        data={"bucket": "my-bucket", "path": "data"},
    ).raise_for_status()

    token = headers["Authorization"].removeprefix("Bearer ")
    run = subprocess.run(
        ["bash", str(REPO / "docs" / "examples" / "ingestion-workflow.sh")],
        env={**os.environ, "API": airflow_cluster.api, "TOKEN": token},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr[-2000:]
    assert "Job status: completed" in run.stdout, run.stdout[-3000:]
    final = json.loads(run.stdout.strip().splitlines()[-1])
    assert final["data"]["status"] == "completed" and final["data"]["rows_written"] == 1000


def test_list_validate_and_bad_input_on_the_real_server(airflow_cluster):
    headers = _admin(airflow_cluster)
    _catalog(airflow_cluster, headers, "iceberg_data")

    valid = requests.post(
        f"{airflow_cluster.api}/ingestion/validate",
        headers=headers,
        json={
            "target": {"catalog": "iceberg_data", "schema": "sales", "table": "t"},
            "source": {"file_paths": "s3://landing/x.json", "file_type": "json"},
        },
    ).json()["data"]
    assert valid == {"valid": True, "errors": []}

    bad = requests.post(
        f"{airflow_cluster.api}/ingestion/jobs",
        headers=headers,
        json={"target": {}, "source": {"file_type": "xls"}},
    )
    assert bad.status_code == 400
    assert "Target catalog is required" in bad.json()["errors"]
    assert "Invalid file type. Must be one of: json, csv, parquet, avro, orc" in bad.json()["errors"]

    # Two jobs of this test's own (their files do not exist, so they fail), for paging and filters.
    paged = [
        _create_job(airflow_cluster, headers, "paged", f"s3://landing/none-{n}.json").json()["data"]["job_id"]
        for n in range(2)
    ]
    everything = requests.get(f"{airflow_cluster.api}/ingestion/jobs?limit=1000", headers=headers).json()[
        "data"
    ]
    first = requests.get(f"{airflow_cluster.api}/ingestion/jobs?limit=1&offset=0", headers=headers).json()[
        "data"
    ]
    second = requests.get(f"{airflow_cluster.api}/ingestion/jobs?limit=1&offset=1", headers=headers).json()[
        "data"
    ]
    assert len(first) == len(second) == 1 and first[0]["job_id"] != second[0]["job_id"]
    assert [j["job_id"] for j in everything[:2]] == [first[0]["job_id"], second[0]["job_id"]]
    for job_id in paged:
        _wait(airflow_cluster, headers, job_id, {"failed"})
    failed = requests.get(f"{airflow_cluster.api}/ingestion/jobs?status=failed", headers=headers).json()[
        "data"
    ]
    completed = requests.get(f"{airflow_cluster.api}/ingestion/jobs?status=completed", headers=headers).json()
    assert set(paged) <= {j["job_id"] for j in failed} and all(j["status"] == "failed" for j in failed)
    assert not set(paged) & {j["job_id"] for j in completed["data"]}
    assert all(j["status"] == "completed" for j in completed["data"])
    wrong = requests.get(f"{airflow_cluster.api}/ingestion/jobs?status=done", headers=headers)
    assert wrong.status_code == 400 and wrong.json()["details"][0]["field"] == "status"
