"""From a URL to a store: `file:///dir/*.csv`, `/dir/*.csv`, `data/x.json` or `s3://bucket/p/*.csv`.

A URL with wildcards becomes a store rooted at its longest directory without any, plus the rest
as a pattern (`s3://b/in/2024/*.csv` → store `s3://b/in/2024/`, pattern `*.csv`). A URL without
wildcards names one file (pattern: its name) or, ending in `/` (or naming a local directory),
the files directly in that directory (pattern `*`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from ipai_core.errors import ConfigError
from ipai_core.settings import Settings
from ipai_core.storage.base import BlobStore, check_key, has_glob
from ipai_core.storage.local import LocalBlobStore
from ipai_core.vault.secret import SecretValue

CREDENTIAL_NAMES = ("access_key_id", "secret_access_key")


@dataclass(frozen=True)
class _Location:
    bucket: str | None  # None: the local file system
    path: str  # absolute for a local path, relative to the bucket for S3


def blob_store_from_url(
    url: str,
    *,
    credentials: Mapping[str, SecretValue] | None = None,
    endpoint_url: str | None = None,
    region: str | None = None,
) -> tuple[BlobStore, str]:
    """The store holding the files `url` names, and the glob pattern selecting them in it.

    `credentials` (for `s3://`) holds `access_key_id` and `secret_access_key`, by those names or
    as the last segment of a vault name (`spaces/access_key_id`); other entries are ignored.
    """
    location = _parse(url)
    root, pattern = _split(location)
    if location.bucket is None:
        return LocalBlobStore(Path(root)), pattern
    from ipai_core.storage.s3 import S3BlobStore  # boto3 costs ~30 MiB: only for S3 URLs

    access_key_id, secret = (_credential(credentials or {}, name) for name in CREDENTIAL_NAMES)
    store = S3BlobStore(
        bucket=location.bucket,
        prefix=root,
        endpoint_url=endpoint_url,
        region=region,
        access_key_id=access_key_id.reveal() if access_key_id is not None else None,
        secret_access_key=secret,
    )
    return store, pattern


def default_blob_store(settings: Settings) -> BlobStore:
    """The platform's own store (archives, extracts): `IPAI_BLOB_URL`, else `<data dir>/blobs`."""
    url = settings.blob_url
    if not url:
        return LocalBlobStore(settings.data_dir / "blobs")
    location = _parse(url)
    if has_glob(location.path):
        raise ConfigError(f"blob store URL `{url}` has wildcards; give the store's root directory")
    if location.bucket is None:
        return LocalBlobStore(Path(location.path))
    from ipai_core.storage.s3 import S3BlobStore

    secret = settings.s3_secret_access_key
    return S3BlobStore(
        bucket=location.bucket,
        prefix=location.path,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=SecretValue(secret.get_secret_value()) if secret is not None else None,
    )


def _parse(url: str) -> _Location:
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _Location(None, os.path.abspath(os.path.expanduser(url)))
    if scheme == "s3":
        bucket, _, path = rest.partition("/")
        if not bucket:
            raise ConfigError(f"URL `{url}` names no bucket; write `s3://BUCKET/path/*.csv`")
        return _Location(bucket, path)
    if scheme == "file":
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost") or not slash:
            raise ConfigError(f"URL `{url}` is not a local file URL; write `file:///abs/dir/*.csv`")
        return _Location(None, os.path.abspath("/" + unquote(path)))
    raise ConfigError(
        f"URL scheme `{scheme}` of `{url}` is not supported; use a local path, `file:///…` or "
        "`s3://bucket/…` (with an endpoint URL for DigitalOcean Spaces or Supabase Storage)"
    )


def _split(location: _Location) -> tuple[str, str]:
    """(root directory without wildcards, pattern for the rest)."""
    path = location.path
    is_dir = path.endswith("/") or (location.bucket is None and os.path.isdir(path))
    if not has_glob(path) and (is_dir or not path):
        return path.rstrip("/") or ("/" if location.bucket is None else ""), "*"
    segments = path.split("/")
    first = next((i for i, s in enumerate(segments) if has_glob(s)), len(segments) - 1)
    root = "/".join(segments[:first])
    root = root or ("/" if location.bucket is None else "")
    return root, check_key("/".join(segments[first:]), what="pattern")


def _credential(credentials: Mapping[str, SecretValue], name: str) -> SecretValue | None:
    if name in credentials:
        return credentials[name]
    found = [key for key in credentials if key.rsplit("/", 1)[-1] == name]
    if len(found) > 1:
        listed = ", ".join(f"`{key}`" for key in sorted(found))
        raise ConfigError(f"several vault secrets could be the S3 `{name}`: {listed}; keep one")
    return credentials[found[0]] if found else None
