"""Uploads streamed into storage while the body arrives, over real HTTP.

The api-server's path: uvicorn on a loopback port, the plugin's root middleware (a2wsgi), the Flask
app of tests/conftest and moto's threaded S3 server. Files larger than one part (8 MiB) with the
form fields first are streamed as a multipart upload; every failure (a bad Parquet tail found at
the end, the size limit, a disconnect mid-body, a field sent too late) must leave no object, no
multipart upload and, in the local store, no file at all.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import uvicorn

from headrace.api import background
from headrace.api.bridge import StreamingPluginBridge
from headrace.storage.s3 import PART_SIZE
from tests.conftest import token_for

UPLOAD = "/pluginsv2/headrace/api/v1/upload"
MIB = 1024 * 1024
BIG = 2 * PART_SIZE + 12345  # three parts


async def _not_found(scope, receive, send) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:
    background._started = True  # no webhook dispatcher or tracker threads in this test process
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        StreamingPluginBridge(_not_found), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture
def on_s3(monkeypatch, s3_conn_id, tmp_path) -> str:
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", s3_conn_id)
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return f"up-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def local_storage(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(tmp_path / "storage"))
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__WAREHOUSE", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__CATALOG_URI", f"sqlite:///{tmp_path / 'catalog.db'}")
    return tmp_path / "storage"


def _csv(size: int) -> bytes:
    row = b"1,abcdefghijklmnopqrstuvwxyz0123456789\n"
    return (b"id,value\n" + row * (size // len(row) + 1))[:size]


def _body(fields: list[tuple[str, str | tuple[str, bytes]]]) -> tuple[bytes, str]:
    """A multipart/form-data body with the parts in exactly this order."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        if isinstance(value, tuple):
            filename, content = value
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + content + b"\r\n")
        else:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _post(server: str, fields, route: str = UPLOAD) -> requests.Response:
    body, content_type = _body(fields)
    headers = {"Authorization": f"Bearer {token_for('admin')}", "Content-Type": content_type}
    return requests.post(f"http://{server}{route}", data=body, headers=headers, timeout=120)


def _nothing_on_s3(raw_s3, bucket: str) -> bool:
    try:
        uploads = raw_s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        objects = raw_s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0)
    except raw_s3.exceptions.NoSuchBucket:
        return True
    return not uploads and not objects


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _eventually(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_file_of_several_parts_lands_whole_on_s3(server, on_s3, raw_s3):
    content = _csv(BIG)

    response = _post(server, [("bucket", on_s3), ("path", "in"), ("file", ("big.csv", content))])

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["size"] == BIG and data["key"] == "in/big.csv" and data["replaced"] is False
    assert data["contentType"] == "text/csv"
    stored = raw_s3.get_object(Bucket=on_s3, Key="in/big.csv")
    assert stored["Body"].read() == content
    assert stored["ContentType"] == "text/csv"
    assert raw_s3.list_multipart_uploads(Bucket=on_s3).get("Uploads", []) == []

    again = _post(server, [("bucket", on_s3), ("path", "in"), ("file", ("big.csv", content[:1000]))])
    assert again.status_code == 201 and again.json()["data"]["replaced"] is True
    assert raw_s3.get_object(Bucket=on_s3, Key="in/big.csv")["Body"].read() == content[:1000]


def test_a_parquet_file_without_its_closing_magic_leaves_nothing(server, on_s3, raw_s3):
    fake = b"PAR1" + b"\x00" * BIG  # passes the head check; the tail is only known at the end

    response = _post(server, [("bucket", on_s3), ("file", ("fake.parquet", fake))])

    assert response.status_code == 400
    assert response.json()["code"] == "FILE_CONTENT"
    assert _nothing_on_s3(raw_s3, on_s3)


def test_a_file_over_the_size_limit_leaves_nothing(server, on_s3, raw_s3, monkeypatch):
    # Within the body's limit (the file limit + 1 MiB for the form), so the file's own limit is hit
    # only after two parts were sent.
    monkeypatch.setenv("AIRFLOW__HEADRACE__UPLOAD_MAX_BYTES", str(BIG - MIB // 2))

    response = _post(server, [("bucket", on_s3), ("file", ("big.csv", _csv(BIG)))])

    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert response.json()["error"] == f"File too large: {BIG} bytes, the limit is {BIG - MIB // 2} bytes"
    assert _nothing_on_s3(raw_s3, on_s3)


def _disconnect_mid_body(server: str, fields, started: Callable[[], bool]) -> None:
    """Send all of the body but its last 1 MiB, wait until ``started()``, then close the socket."""
    body, content_type = _body(fields)
    host, port = server.split(":")
    head = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: {server}\r\nAuthorization: Bearer {token_for('admin')}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head + body[:-MIB])
        assert _eventually(started), "the upload never started streaming"


def test_a_client_that_disconnects_mid_body_leaves_nothing_on_s3(server, on_s3, raw_s3):
    def streaming() -> bool:
        try:
            return bool(raw_s3.list_multipart_uploads(Bucket=on_s3).get("Uploads"))
        except raw_s3.exceptions.NoSuchBucket:
            return False

    _disconnect_mid_body(server, [("bucket", on_s3), ("file", ("cut.csv", _csv(BIG)))], streaming)

    assert _eventually(lambda: _nothing_on_s3(raw_s3, on_s3))


def test_a_path_sent_after_the_file_is_refused_and_nothing_is_stored(server, on_s3, raw_s3):
    response = _post(server, [("bucket", on_s3), ("file", ("big.csv", _csv(BIG))), ("path", "later")])

    assert response.status_code == 400
    assert response.json()["details"][0]["field"] == "path"
    assert _nothing_on_s3(raw_s3, on_s3)


def test_fields_after_the_files_still_work_as_the_contract_shows(server, on_s3, raw_s3):
    content = _csv(BIG)

    response = _post(server, [("file", ("late.csv", content)), ("bucket", on_s3), ("path", "in")])

    assert response.status_code == 201, response.text
    assert raw_s3.get_object(Bucket=on_s3, Key="in/late.csv")["Body"].read() == content


def test_multiple_streamed_files_succeed_or_fail_on_their_own(server, on_s3, raw_s3):
    good = _csv(BIG)
    response = _post(
        server,
        [
            ("bucket", on_s3),
            ("files", ("good.csv", good)),
            ("files", ("fake.parquet", b"PAR1" + b"\x00" * BIG)),
            ("files", ("notes.txt", b"hello")),
        ],
        route=UPLOAD + "/multiple",
    )

    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert [item["fileName"] for item in data["uploaded"]] == ["good.csv"]
    assert [(item["fileName"], item["code"]) for item in data["failed"]] == [
        ("fake.parquet", "FILE_CONTENT"),
        ("notes.txt", "FILE_TYPE"),
    ]
    assert raw_s3.get_object(Bucket=on_s3, Key="good.csv")["Body"].read() == good
    assert [o["Key"] for o in raw_s3.list_objects_v2(Bucket=on_s3)["Contents"]] == ["good.csv"]
    assert raw_s3.list_multipart_uploads(Bucket=on_s3).get("Uploads", []) == []


def test_local_storage_lands_whole_and_leaves_no_file_on_failure(server, local_storage, monkeypatch):
    content = _csv(BIG)
    ok = _post(server, [("bucket", "landing"), ("path", "in"), ("file", ("big.csv", content))])
    assert ok.status_code == 201, ok.text
    assert (local_storage / "landing" / "in" / "big.csv").read_bytes() == content

    bad = _post(
        server, [("bucket", "landing"), ("path", "x"), ("file", ("fake.parquet", b"PAR1" + bytes(BIG)))]
    )
    assert bad.status_code == 400
    monkeypatch.setenv("AIRFLOW__HEADRACE__UPLOAD_MAX_BYTES", str(BIG - MIB // 2))
    large = _post(server, [("bucket", "landing"), ("path", "y"), ("file", ("big.csv", content))])
    assert large.status_code == 413

    assert _files(local_storage) == ["landing/in/big.csv"]


def test_local_storage_leaves_no_temp_file_when_the_client_disconnects(server, local_storage):
    folder = local_storage / "landing" / "cut"

    _disconnect_mid_body(
        server,
        [("bucket", "landing"), ("path", "cut"), ("file", ("cut.csv", _csv(BIG)))],
        lambda: any(folder.glob(".headrace-tmp-*")),
    )

    assert _eventually(lambda: _files(local_storage) == [])
    assert not (local_storage / "landing" / "cut" / "cut.csv").exists()
