"""The lakehouse over real HTTP on a real api-server: catalogs, uploads, metadata, query, delete.

Tables are written "directly" by the core (as LakehouseHook users do) into the deployment's own
catalog database and warehouse; everything else goes through the REST API.
"""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pytest
import requests
from pyiceberg.catalog.sql import SqlCatalog

from headrace.lakehouse.service import Lakehouse, LakehouseSettings
from headrace.storage import S3Settings
from tests.api.test_upload_api import FILES
from tests.e2e.cluster import running_airflow

pytestmark = pytest.mark.e2e
ORDERS = pa.table({"order_id": pa.array([1, 2, 3], pa.int64()), "amount": [9.5, 20.0, 3.25]})


def _admin(cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.airflow_token('admin')}"}


def _upload_all(cluster, headers, bucket: str) -> list[dict]:
    answers = []
    for name, content in FILES.items():
        response = requests.post(
            f"{cluster.api}/upload",
            headers=headers,
            files={"file": (name, content)},
            data={"bucket": bucket, "path": "uploads"},
            timeout=60,
        )
        assert response.status_code == 201, response.text
        answers.append(response.json()["data"])
    return answers


def _catalog_round_trip(cluster, headers, lakehouse: Lakehouse, catalog_type: str) -> None:
    name = f"e2e_{catalog_type}_{uuid.uuid4().hex[:6]}"
    created = requests.post(
        f"{cluster.api}/catalog", headers=headers, json={"name": name, "type": catalog_type}
    )
    assert created.status_code == 201, created.text

    lakehouse.write(name, "sales", "orders", ORDERS)

    tree = requests.get(f"{cluster.api}/catalog/{name}/tree", headers=headers).json()["data"]
    assert tree == [{"name": "sales", "type": "schema", "tables": [{"name": "orders", "type": "TABLE"}]}]
    stats = requests.get(f"{cluster.api}/catalog/{name}/stats", headers=headers).json()["data"]
    assert (stats["schemaCount"], stats["tableCount"]) == (1, 1)
    meta = requests.get(f"{cluster.api}/catalog/{name}/schema/sales/table/orders/metadata", headers=headers)
    assert meta.status_code == 200
    assert [c["name"] for c in meta.json()["data"]["columns"]] == ["order_id", "amount"]
    assert meta.json()["data"]["properties"]["row_count"] == 3
    query = requests.post(
        f"{cluster.api}/query",
        headers=headers,
        json={"sql": f"select sum(amount) as total from {name}.sales.orders"},
    )
    assert query.status_code == 200, query.text
    assert query.json()["data"]["rows"] == [[32.75]]

    refused = requests.delete(f"{cluster.api}/catalog/{name}", headers=headers)
    assert refused.status_code == 409
    deleted = requests.delete(f"{cluster.api}/catalog/{name}?force=true", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["data"]["tables_dropped"] == 1
    assert requests.get(f"{cluster.api}/catalog/{name}", headers=headers).status_code == 404


@pytest.mark.parametrize("catalog_type", ["iceberg", "delta", "hive"])
def test_catalogs_on_the_embedded_defaults(airflow_cluster, catalog_type):
    home = airflow_cluster.home
    lakehouse = Lakehouse(
        LakehouseSettings(
            catalog_uri=f"sqlite:///{home / 'headrace' / 'catalog.db'}",
            warehouse=str(home / "storage" / "warehouse"),
        )
    )
    _catalog_round_trip(airflow_cluster, _admin(airflow_cluster), lakehouse, catalog_type)


def test_uploads_to_local_storage(airflow_cluster):
    answers = _upload_all(airflow_cluster, _admin(airflow_cluster), "landing")

    for answer in answers:
        stored = airflow_cluster.home / "storage" / "landing" / answer["key"]
        assert stored.read_bytes() == FILES[answer["fileName"]]


def test_pyiceberg_opens_the_table_from_the_same_catalog_uri(airflow_cluster):
    headers = _admin(airflow_cluster)
    home = airflow_cluster.home
    uri = f"sqlite:///{home / 'headrace' / 'catalog.db'}"
    lakehouse = Lakehouse(LakehouseSettings(catalog_uri=uri, warehouse=str(home / "storage" / "warehouse")))
    requests.post(
        f"{airflow_cluster.api}/catalog", headers=headers, json={"name": "iceberg_data", "type": "iceberg"}
    )
    lakehouse.write("iceberg_data", "sales", "direct_write", ORDERS)

    location = requests.get(
        f"{airflow_cluster.api}/catalog/iceberg_data/schema/sales/table/direct_write/metadata",
        headers=headers,
    ).json()["data"]["properties"]["location"]
    table = SqlCatalog("iceberg_data", uri=uri).load_table(("sales", "direct_write"))

    # The API shows the location relative to the storage root, never the server's absolute path.
    assert location == "warehouse/iceberg_data/sales/direct_write"
    assert (
        table.location()
        == (home / "storage" / "warehouse" / "iceberg_data" / "sales" / "direct_write").as_uri()
    )
    assert table.scan().to_arrow().num_rows == 3


@pytest.fixture(scope="module")
def s3_cluster(tmp_path_factory, s3_endpoint, raw_s3):
    """A second deployment whose storage and warehouse are in S3 (moto on loopback)."""
    raw_s3.create_bucket(Bucket="e2e-warehouse")
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
    }
    extra_env = {
        "AIRFLOW_CONN_E2E_S3": json.dumps(connection),
        "AIRFLOW__HEADRACE__STORAGE_CONN_ID": "e2e_s3",
        "AIRFLOW__HEADRACE__WAREHOUSE": "s3://e2e-warehouse/lake",
    }
    with running_airflow(tmp_path_factory.mktemp("airflow-e2e-s3"), extra_env) as cluster:
        yield cluster


def test_uploads_and_catalogs_on_s3(s3_cluster, s3_endpoint, raw_s3):
    headers = _admin(s3_cluster)
    for answer in _upload_all(s3_cluster, headers, "s3-landing"):
        body = raw_s3.get_object(Bucket="s3-landing", Key=answer["key"])["Body"].read()
        assert body == FILES[answer["fileName"]]
        assert answer["s3Path"] == f"s3://s3-landing/{answer['key']}"

    s3 = S3Settings(
        endpoint_url=s3_endpoint,
        access_key_id="testing",
        secret_access_key="testing",
        region="us-east-1",
        session_token=None,
    )
    lakehouse = Lakehouse(
        LakehouseSettings(
            catalog_uri=f"sqlite:///{s3_cluster.home / 'headrace' / 'catalog.db'}",
            warehouse="s3://e2e-warehouse/lake",
            s3=s3,
        )
    )
    for catalog_type in ("iceberg", "delta", "hive"):
        _catalog_round_trip(s3_cluster, headers, lakehouse, catalog_type)
    assert raw_s3.list_objects_v2(Bucket="e2e-warehouse", Prefix="lake/e2e_").get("KeyCount", 0) == 0
