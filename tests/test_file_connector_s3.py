"""The file connector reading from an S3-compatible store (a real local server: moto's server
mode), with credentials from the vault, incremental by object ETag."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import boto3
import psycopg
import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.sync.engine import run_connector
from ipai_core.vault import open_vault

try:
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - depends on the environment
    pytest.skip(f"moto's server mode is not installed: {exc}", allow_module_level=True)

ACCESS_KEY_ID = "AKIAIPAIFILETEST0001"
SECRET_KEY = "ipai-file-test-" + "s" * 24


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, object]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    )
    yield endpoint, client
    server.stop()


def test_csv_from_s3_with_vault_credentials(
    lakehouse: Lakehouse, s3: tuple[str, object], owner_conn: psycopg.Connection
) -> None:
    endpoint, client = s3
    bucket = f"landing-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    client.put_object(
        Bucket=bucket,
        Key="sales/2025-01.csv",  # type: ignore[attr-defined]
        Body=b"id,amount\n1,10.5\n2,3\n",
    )
    vault = open_vault(lakehouse)
    vault.put("s3test/access_key_id", ACCESS_KEY_ID)
    vault.put("s3test/secret_access_key", SECRET_KEY)
    with lakehouse.session(Principal.service("test: s3 connector")) as s:
        store.add_connector(
            s,
            name="s3-sales",
            connector_type="file",
            replace=True,
            secret_refs=["s3test/access_key_id", "s3test/secret_access_key"],
            config={
                "target_schema": "ipai_bronze_retail",
                "url": f"s3://{bucket}/sales/*.csv",
                "stream": "s3_sales",
                "primary_key": ["id"],
                "s3_endpoint_url": endpoint,
                "s3_region": "us-east-1",
                "columns": {"amount": "decimal(10,2)"},
            },
        )
    first = run_connector(lakehouse, "s3-sales")
    assert first.ok, first.error
    client.put_object(
        Bucket=bucket,
        Key="sales/2025-02.csv",  # type: ignore[attr-defined]
        Body=b"id,amount\n3,7.25\n",
    )
    second = run_connector(lakehouse, "s3-sales")
    assert second.ok and second.streams["s3_sales"].rows_read == 1, "only the new object"
    rows = owner_conn.execute(
        "SELECT id, amount::text FROM ipai_bronze_retail.s3_sales ORDER BY id"
    ).fetchall()
    assert rows == [(1, "10.50"), (2, "3.00"), (3, "7.25")]
    stored = owner_conn.execute(
        "SELECT string_agg(coalesce(error_message, '') || metadata::text,"
        " ' ') FROM ipai_connector_run"
    ).fetchone()
    assert stored is not None and SECRET_KEY not in str(stored[0])


def test_wrong_s3_credentials_fail_the_run_without_leaking_them(
    lakehouse: Lakehouse, s3: tuple[str, object]
) -> None:
    endpoint, _ = s3
    vault = open_vault(lakehouse)
    vault.put("s3bad/access_key_id", "AKIAWRONG")
    vault.put("s3bad/secret_access_key", "wrong-secret-value-123456")
    with lakehouse.session(Principal.service("test: s3 missing bucket")) as s:
        store.add_connector(
            s,
            name="s3-missing",
            connector_type="file",
            replace=True,
            secret_refs=["s3bad/access_key_id", "s3bad/secret_access_key"],
            config={
                "target_schema": "ipai_bronze_retail",
                "url": "s3://no-such-bucket/x/*.csv",
                "stream": "s3_missing",
                "primary_key": ["id"],
                "s3_endpoint_url": endpoint,
            },
        )
    result = run_connector(lakehouse, "s3-missing")
    assert not result.ok and "no-such-bucket" in (result.error or "")
    assert "wrong-secret-value-123456" not in (result.error or "")
