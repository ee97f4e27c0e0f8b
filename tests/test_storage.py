"""Blob stores: the local directory and a real S3-compatible server (moto's server mode)."""

from __future__ import annotations

import os
import socket
import traceback
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import boto3
import pytest

from ipai_core.errors import ConfigError, NotFound, SourceError
from ipai_core.settings import Settings
from ipai_core.storage import (
    BlobStore,
    LocalBlobStore,
    S3BlobStore,
    blob_store_from_url,
    default_blob_store,
    glob_match,
)
from ipai_core.storage import s3 as s3_module
from ipai_core.vault.secret import SecretValue

try:
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - depends on the environment
    ThreadedMotoServer = None
    MOTO_MISSING = f"moto's server mode is not installed (`pip install moto[server]`): {exc}"
else:
    MOTO_MISSING = ""

ACCESS_KEY_ID = "AKIAIPAITESTKEY00001"
SECRET_KEY = "ipai-test-secret-" + "k" * 24
REGION = "us-east-1"


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server on a free local port, for this module."""
    if ThreadedMotoServer is None:
        pytest.skip(MOTO_MISSING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def bucket(s3_endpoint: str) -> str:
    name = f"ipai-test-{uuid.uuid4().hex[:8]}"
    _admin_client(s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_store(s3_endpoint: str, bucket: str) -> S3BlobStore:
    return S3BlobStore(
        bucket=bucket,
        prefix=f"t-{uuid.uuid4().hex[:8]}",
        endpoint_url=s3_endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SecretValue(SECRET_KEY),
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    s3: S3BlobStore = request.getfixturevalue("s3_store")
    return s3


def _admin_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    )


def _keys(store: BlobStore, pattern: str) -> list[str]:
    return [info.key for info in store.list(pattern)]


# -- glob ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("*.csv", "a.csv", True),
        ("*.csv", "sub/a.csv", False),
        ("**/*.csv", "a.csv", True),
        ("**/*.csv", "sub/deep/a.csv", True),
        ("sub/**", "sub/deep/a.csv", True),
        ("sub/**/a.csv", "sub/a.csv", True),
        ("sub/*/a.csv", "sub/a.csv", False),
        ("?.csv", "a.csv", True),
        ("?.csv", "ab.csv", False),
        ("[ab].csv", "b.csv", True),
        ("[!ab].csv", "b.csv", False),
        ("[0-9].csv", "7.csv", True),
        ("a.csv", "a.csv", True),
        ("a.csv", "a.csv.bak", False),
        ("a+b (1).csv", "a+b (1).csv", True),
    ],
)
def test_glob_match(pattern: str, key: str, matches: bool) -> None:
    assert glob_match(pattern, key) is matches


# -- both stores --------------------------------------------------------------------------------


def test_list_star_stays_in_a_directory_double_star_crosses(store: BlobStore) -> None:
    for key in ["b.csv", "a.csv", "x.json", "sub/c.csv", "sub/deep/d.csv", "other/e.csv"]:
        store.put_bytes(key, key.encode())

    assert _keys(store, "*.csv") == ["a.csv", "b.csv"]
    assert _keys(store, "**/*.csv") == [
        "a.csv",
        "b.csv",
        "other/e.csv",
        "sub/c.csv",
        "sub/deep/d.csv",
    ]
    assert _keys(store, "sub/*.csv") == ["sub/c.csv"]
    assert _keys(store, "sub/**") == ["sub/c.csv", "sub/deep/d.csv"]
    assert _keys(store, "*/*.csv") == ["other/e.csv", "sub/c.csv"]
    assert _keys(store, "x.json") == ["x.json"]
    assert _keys(store, "sub") == []  # a directory is not a blob
    assert _keys(store, "missing/*.csv") == []


def test_list_reports_size_fingerprint_and_utc_time(store: BlobStore) -> None:
    written = store.put_bytes("in/a.csv", b"id\n1\n")
    [listed] = store.list("in/*.csv")

    assert listed == written
    assert listed.size == 5
    assert listed.modified.tzinfo is not None
    assert listed.modified.utcoffset() == UTC.utcoffset(None)


def test_open_is_readable_and_seekable(store: BlobStore) -> None:
    store.put_bytes("data/x.bin", b"0123456789")

    with store.open("data/x.bin") as handle:
        assert handle.seekable()
        assert handle.read() == b"0123456789"
        handle.seek(3)
        assert handle.read(2) == b"34"
        handle.seek(-2, os.SEEK_END)
        assert handle.read() == b"89"


def test_put_file_round_trip_creates_parents(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    content = os.urandom(1 << 20) + b"end"
    source.write_bytes(content)

    info = store.put_file("deep/er/still/source.bin", source)

    assert info.key == "deep/er/still/source.bin"
    assert info.size == len(content)
    assert store.exists("deep/er/still/source.bin")
    with store.open("deep/er/still/source.bin") as handle:
        assert handle.read() == content


def test_put_stream_stores_from_the_handle_position_to_its_end(store: BlobStore) -> None:
    """What the file connector archives with: the source's own handle, read once, no copy."""
    store.put_bytes("origin/lines.csv", b"header\n" + b"row\n" * 100_000)
    with store.open("origin/lines.csv") as handle:
        handle.seek(len(b"header\n"))
        info = store.put_stream("archive/lines.csv", handle)

    assert info.size == 4 * 100_000
    with store.open("archive/lines.csv") as handle:
        assert handle.read() == b"row\n" * 100_000


def test_put_bytes_replaces_and_the_fingerprint_changes(store: BlobStore) -> None:
    first = store.put_bytes("state.json", b'{"v": 1}')
    second = store.put_bytes("state.json", b'{"v": 2}')  # same size, new content

    assert first.fingerprint != second.fingerprint
    assert [info.fingerprint for info in store.list("state.json")] == [second.fingerprint]
    with store.open("state.json") as handle:
        assert handle.read() == b'{"v": 2}'


@pytest.mark.parametrize("key", ["../escape.txt", "/etc/passwd", "a/../../x", "a//b", ""])
def test_a_key_outside_the_root_is_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(ConfigError):
        store.put_bytes(key, b"x")
    with pytest.raises(ConfigError):
        store.exists(key)
    with pytest.raises(ConfigError):
        store.list(key or "..")


def test_delete_removes_and_a_missing_key_is_not_found(store: BlobStore) -> None:
    store.put_bytes("gone.txt", b"bye")
    store.delete("gone.txt")

    assert not store.exists("gone.txt")
    with pytest.raises(NotFound):
        store.delete("gone.txt")
    with pytest.raises(NotFound):
        store.open("gone.txt").__enter__()


def test_put_file_of_a_missing_file_is_not_found(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        store.put_file("x.csv", tmp_path / "no-such-file.csv")
    assert not store.exists("x.csv")


# -- local store --------------------------------------------------------------------------------


def test_local_writes_are_atomic_and_stay_inside_the_root(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "root")
    store.put_bytes("a/b.txt", b"x")

    with pytest.raises(ConfigError):
        store.put_bytes("../outside.txt", b"x")
    assert not (tmp_path / "outside.txt").exists()
    assert sorted(p.name for p in (tmp_path / "root" / "a").iterdir()) == ["b.txt"]  # no temp
    assert store.describe() == (tmp_path / "root").as_uri()


def test_local_list_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert LocalBlobStore(tmp_path / "never-created").list("**/*.csv") == []


# -- S3 store -----------------------------------------------------------------------------------


def test_s3_large_upload_is_multipart_and_reads_spill_to_disk(
    s3_store: S3BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "big.bin"
    content = os.urandom(9 * 1024 * 1024 + 7)  # above boto3's 8 MiB multipart threshold
    source.write_bytes(content)
    monkeypatch.setattr(s3_module, "SPOOL_MAX_BYTES", 1024)

    info = s3_store.put_file("big.bin", source)

    assert info.size == len(content)
    assert info.fingerprint.endswith("-2")  # a multipart ETag
    with s3_store.open("big.bin") as handle:
        assert handle.read() == content
        handle.seek(-7, os.SEEK_END)
        assert handle.read() == content[-7:]


def test_s3_describe_and_repr_name_the_bucket_but_no_secret(s3_store: S3BlobStore) -> None:
    described = s3_store.describe()

    assert described.startswith(f"s3://{s3_store.bucket}/{s3_store.prefix}")
    assert s3_store.endpoint_url is not None and s3_store.endpoint_url in described
    for text in (described, repr(s3_store), str(vars(s3_store))):
        assert SECRET_KEY not in text


def test_s3_missing_bucket_is_a_source_error_without_secrets(s3_endpoint: str) -> None:
    store = S3BlobStore(
        bucket="no-such-bucket-ipai",
        endpoint_url=s3_endpoint,
        region=REGION,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SecretValue(SECRET_KEY),
    )
    attempts: list[Callable[[], object]] = [
        lambda: store.list("*.csv"),
        lambda: store.put_bytes("a.csv", b"x"),
        lambda: store.exists("a.csv"),
        lambda: store.open("a.csv").__enter__(),
    ]
    for attempt in attempts:
        with pytest.raises(SourceError) as caught:
            attempt()
        message = str(caught.value)
        assert "no-such-bucket-ipai" in message
        everything = "".join(traceback.format_exception(caught.value))
        assert SECRET_KEY not in everything
        assert ACCESS_KEY_ID not in message


def test_s3_unreachable_endpoint_is_a_source_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3BlobStore(
        bucket="b",
        endpoint_url=f"http://127.0.0.1:{port}",
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SecretValue(SECRET_KEY),
    )
    with pytest.raises(SourceError) as caught:
        store.list("*.csv")
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert SECRET_KEY not in "".join(traceback.format_exception(caught.value))


def test_s3_half_a_key_pair_is_a_config_error(s3_endpoint: str) -> None:
    with pytest.raises(ConfigError):
        S3BlobStore(bucket="b", endpoint_url=s3_endpoint, access_key_id=ACCESS_KEY_ID)


# -- locating stores from URLs ------------------------------------------------------------------


def test_blob_store_from_s3_url(s3_store: S3BlobStore, s3_endpoint: str) -> None:
    s3_store.put_bytes("in/2024/a.csv", b"a")
    s3_store.put_bytes("in/2024/b.json", b"b")
    url = f"s3://{s3_store.bucket}/{s3_store.prefix}in/2024/*.csv"
    credentials = {
        "spaces/access_key_id": SecretValue(ACCESS_KEY_ID),
        "spaces/secret_access_key": SecretValue(SECRET_KEY),
        "erp/password": SecretValue("unrelated"),
    }

    store, pattern = blob_store_from_url(
        url, credentials=credentials, endpoint_url=s3_endpoint, region=REGION
    )

    assert pattern == "*.csv"
    assert isinstance(store, S3BlobStore)
    assert store.prefix == f"{s3_store.prefix}in/2024/"
    assert _keys(store, pattern) == ["a.csv"]


def test_blob_store_from_s3_url_of_one_object(s3_endpoint: str, bucket: str) -> None:
    store, pattern = blob_store_from_url(
        f"s3://{bucket}/exports/x.parquet",
        credentials={"access_key_id": SecretValue("a"), "secret_access_key": SecretValue("b")},
        endpoint_url=s3_endpoint,
    )
    assert (store.describe().split(" @ ")[0], pattern) == (f"s3://{bucket}/exports/", "x.parquet")


def test_blob_store_from_local_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "in" / "sub").mkdir(parents=True)
    for name in ["in/a.csv", "in/b.txt", "in/sub/c.csv"]:
        (tmp_path / name).write_text(name)
    monkeypatch.chdir(tmp_path)

    forms = {
        (tmp_path / "in").as_uri() + "/*.csv": (tmp_path / "in", "*.csv", ["a.csv"]),
        f"{tmp_path}/in/*.csv": (tmp_path / "in", "*.csv", ["a.csv"]),
        "in/**/*.csv": (tmp_path / "in", "**/*.csv", ["a.csv", "sub/c.csv"]),
        f"{tmp_path}/*/sub/*.csv": (tmp_path, "*/sub/*.csv", ["in/sub/c.csv"]),
        "in/b.txt": (tmp_path / "in", "b.txt", ["b.txt"]),
        "in": (tmp_path / "in", "*", ["a.csv", "b.txt"]),
    }
    for url, (root, expected_pattern, keys) in forms.items():
        store, pattern = blob_store_from_url(url)
        assert isinstance(store, LocalBlobStore), url
        assert (store.root, pattern, _keys(store, pattern)) == (root, expected_pattern, keys), url


@pytest.mark.parametrize("url", ["gs://bucket/x.csv", "s3:///x.csv", "file://host/x.csv"])
def test_unsupported_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        blob_store_from_url(url)


def test_default_blob_store_is_a_local_directory_in_the_data_dir(tmp_path: Path) -> None:
    store = default_blob_store(Settings(data_dir=tmp_path))
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"


def test_default_blob_store_from_settings_for_s3(s3_endpoint: str, bucket: str) -> None:
    from pydantic import SecretStr

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=Path("/unused"),
        blob_url=f"s3://{bucket}/platform",
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key_id=ACCESS_KEY_ID,
        s3_secret_access_key=SecretStr(SECRET_KEY),
    )

    store = default_blob_store(settings)
    store.put_bytes("archive/a.csv", b"a")

    assert isinstance(store, S3BlobStore)
    assert store.prefix == "platform/"
    assert _keys(store, "archive/*") == ["archive/a.csv"]
    with pytest.raises(ConfigError):
        default_blob_store(settings.model_copy(update={"blob_url": "s3://b/x/*.csv"}))
