"""POST /storage/recommend: rules over a profile, and over a real lakehouse table's statistics."""

from __future__ import annotations

import uuid

import pyarrow as pa

from tests.conftest import BASE


def _recommend(client, headers, **body):
    return client.post(f"{BASE}/storage/recommend", headers=headers, json=body)


def test_write_heavy_time_series_at_scale(client, admin_headers) -> None:
    profile = {
        "size_gb": 100,
        "growth_rate": "10GB/month",
        "access_pattern": "write_heavy",
        "query_types": ["analytical", "time_series"],
    }
    body = _recommend(client, admin_headers, data_profile=profile).json
    assert body["table_format"]["value"] == "iceberg"
    assert body["partitioning"]["value"].startswith("month(")
    assert body["target_file_size_mb"] == 256 and body["compaction"]["value"] == "daily"
    assert body["engine"]["value"] == "spark" and "110.0 GB" in body["engine"]["reason"]


def test_small_read_heavy_and_update_heavy(client, admin_headers) -> None:
    small = _recommend(
        client, admin_headers, data_profile={"size_gb": 0.2, "access_pattern": "read_heavy"}
    ).json
    assert small["table_format"]["value"] == "parquet" and small["partitioning"]["value"] == "none"
    assert small["engine"]["value"] == "arrow" and small["compaction"]["value"] == "none"
    updates = _recommend(
        client, admin_headers, data_profile={"size_gb": 5, "access_pattern": "update_heavy"}
    ).json
    assert updates["table_format"]["value"] == "delta"
    daily = _recommend(
        client, admin_headers, data_profile={"size_gb": 2000, "growth_rate": "2GB/day", "time_column": "ts"}
    ).json
    assert daily["partitioning"]["value"] == "day(ts)" and daily["target_file_size_mb"] == 512


def test_bad_input_names_the_field(client, admin_headers) -> None:
    bad = _recommend(client, admin_headers, data_profile={"size_gb": -1, "growth_rate": "fast"})
    assert bad.status_code == 400
    assert {d["field"] for d in bad.json["error"]["details"]} == {
        "data_profile.size_gb",
        "data_profile.growth_rate",
    }
    assert _recommend(client, admin_headers).status_code == 400
    assert _recommend(client, admin_headers, catalog="nope_catalog", table="a.b").status_code == 404


def test_existing_table_uses_its_real_statistics(client, admin_headers) -> None:
    from headrace.api.services.lakehouse import lakehouse

    name = f"adv_{uuid.uuid4().hex[:8]}"
    assert (
        client.post(
            f"{BASE}/catalog", headers=admin_headers, json={"name": name, "type": "iceberg"}
        ).status_code
        == 201
    )
    try:
        lakehouse().write(name, "main", "t", pa.table({"id": list(range(1000)), "x": [1.5] * 1000}))
        body = _recommend(client, admin_headers, catalog=name, table="main.t").json
        meta = lakehouse().table_metadata(name, "main", "t")
        assert body["inputs"]["row_count"] == meta.row_count == 1000
        assert (
            body["inputs"]["size_gb"] == round(meta.size_bytes / 1024**3, 6)
            and body["inputs"]["current_format"] == "iceberg"
        )
        assert body["partitioning"]["value"] == "none" and body["engine"]["value"] == "arrow"
    finally:
        client.delete(f"{BASE}/catalog/{name}?force=true", headers=admin_headers)
