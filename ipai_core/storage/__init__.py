"""Blob storage: where source files are archived and Parquet extracts are written.

A local directory by default (`<data dir>/blobs`); any S3-compatible store by configuration
(`IPAI_BLOB_URL=s3://bucket/prefix` with `IPAI_S3_ENDPOINT_URL` for DigitalOcean Spaces or
Supabase Storage's S3 endpoint). Both implement `BlobStore`; keys are `/`-separated paths
relative to the store root and listings take glob patterns (`*` within a directory, `**` across).

    store, pattern = blob_store_from_url("s3://invoices/2024/*.csv", credentials=secrets,
                                         endpoint_url="https://fra1.digitaloceanspaces.com")
    for info in store.list(pattern):           # BlobInfo(key, size, fingerprint, modified)
        with store.open(info.key) as handle:   # readable and seekable
            ...
    default_blob_store(settings).put_file("archive/x.csv", path)
"""

from typing import TYPE_CHECKING

from ipai_core.storage.base import BlobInfo, BlobStore, glob_match
from ipai_core.storage.local import LocalBlobStore
from ipai_core.storage.locate import blob_store_from_url, default_blob_store

if TYPE_CHECKING:
    from ipai_core.storage.s3 import S3BlobStore

__all__ = [
    "BlobInfo",
    "BlobStore",
    "LocalBlobStore",
    "S3BlobStore",
    "blob_store_from_url",
    "default_blob_store",
    "glob_match",
]


def __getattr__(name: str) -> object:
    """`S3BlobStore` is imported on first use: boto3 costs ~30 MiB a local-only run need not."""
    if name == "S3BlobStore":
        from ipai_core.storage.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
