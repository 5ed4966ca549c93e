"""Engine settings read from the Airflow connection, and the store chosen by configuration."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from headrace.storage import (
    LocalObjectStore,
    S3ObjectStore,
    S3Settings,
    get_store,
    s3_settings_from_connection,
)


def test_settings_come_from_the_connection(s3_conn_id: str, s3_endpoint: str):
    settings = s3_settings_from_connection(s3_conn_id)

    assert settings.endpoint_url == s3_endpoint
    assert (settings.access_key_id, settings.secret_access_key) == ("testing", "testing")
    assert settings.region == "us-east-1"
    assert settings.session_token is None
    assert "secret_access_key" not in repr(settings)


def test_pyarrow_filesystem_reaches_the_server(s3_conn_id: str):
    store = S3ObjectStore.from_connection(s3_conn_id)
    bucket = f"arrow-{uuid.uuid4().hex[:8]}"
    store.create_bucket(bucket)
    filesystem = s3_settings_from_connection(s3_conn_id).pyarrow_filesystem()

    with filesystem.open_output_stream(f"{bucket}/from-arrow/hello.txt") as out:
        out.write(b"hello from arrow")
    with filesystem.open_input_stream(f"{bucket}/from-arrow/hello.txt") as stream:
        assert stream.read() == b"hello from arrow"
    # The same object through the store: both see one namespace.
    with store.open(bucket, "from-arrow/hello.txt") as stream:
        assert stream.read() == b"hello from arrow"


def test_deltalake_and_iceberg_options(s3_conn_id: str, s3_endpoint: str):
    settings = s3_settings_from_connection(s3_conn_id)

    assert settings.deltalake_storage_options() == {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }
    assert settings.iceberg_properties() == {
        "s3.endpoint": s3_endpoint,
        "s3.access-key-id": "testing",
        "s3.secret-access-key": "testing",
        "s3.region": "us-east-1",
    }


def test_options_of_aws_itself_leave_out_what_is_unset():
    settings = S3Settings(None, "AKIA", "secret", "eu-west-1", session_token="token")

    options = settings.deltalake_storage_options()
    assert "AWS_ALLOW_HTTP" not in options and "AWS_ENDPOINT_URL" not in options
    assert options["AWS_SESSION_TOKEN"] == "token"
    assert settings.iceberg_properties()["s3.session-token"] == "token"
    assert "s3.endpoint" not in settings.iceberg_properties()


def test_get_store_defaults_to_local_folders(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", "")
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_ROOT", str(tmp_path / "root"))

    store = get_store()

    assert isinstance(store, LocalObjectStore)
    assert store.kind == "local"
    assert store.root == tmp_path / "root"
    assert isinstance(get_store(""), LocalObjectStore)


def test_get_store_uses_the_configured_connection(monkeypatch, s3_conn_id: str, raw_s3):
    monkeypatch.setenv("AIRFLOW__HEADRACE__STORAGE_CONN_ID", s3_conn_id)

    configured, explicit = get_store(), get_store(s3_conn_id)

    assert isinstance(configured, S3ObjectStore) and isinstance(explicit, S3ObjectStore)
    assert configured.kind == "s3"
    bucket = f"factory-{uuid.uuid4().hex[:8]}"
    configured.create_bucket(bucket)
    explicit.put(bucket, "k.txt", io.BytesIO(b"via the connection"))
    assert raw_s3.get_object(Bucket=bucket, Key="k.txt")["Body"].read() == b"via the connection"
