"""A blob store in an S3-compatible bucket: AWS S3, DigitalOcean Spaces, Supabase Storage, MinIO.

Keys live under an optional prefix of the bucket. Reads are spooled to a temporary file (memory
stays bounded, the handle is seekable); writes stream, with multipart uploads for large files.
Every botocore failure comes out as `SourceError` (or `NotFound` for a missing key) with a message
naming the bucket or key and what to check, and never a credential.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit, urlunsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

from ipai_core.errors import ConfigError, IpaiError, NotFound, SourceError
from ipai_core.storage.base import BlobInfo, BlobStore, check_key, glob_match, literal_prefix
from ipai_core.vault.secret import SecretValue

SPOOL_MAX_BYTES = 64 * 1024 * 1024  # an object read spills from memory to disk past this size

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_DENIED = frozenset(
    {"403", "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch"}
)
_WRONG_REGION = frozenset({"301", "PermanentRedirect", "AuthorizationHeaderMalformed"})


class S3BlobStore(BlobStore):
    """Objects under `prefix` in `bucket`. Without keys, boto3's default chain applies
    (`AWS_ACCESS_KEY_ID`…, `~/.aws`); a custom `endpoint_url` uses path-style addressing."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: SecretValue | None = None,
    ) -> None:
        if not bucket or "/" in bucket:
            raise ConfigError(f"S3 bucket name `{bucket}` is invalid: give the bare bucket name")
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigError(
                f"S3 bucket `{bucket}`: set both the access key id and the secret access key, "
                "or neither (then the AWS environment variables or ~/.aws are used)"
            )
        stripped = prefix.strip("/")
        self.bucket = bucket
        self.prefix = f"{check_key(stripped, what='S3 prefix')}/" if stripped else ""
        self.endpoint_url = endpoint_url
        self.region = region
        self._secret = secret_access_key  # kept only to scrub it from messages
        self._client = _make_client(endpoint_url, region, access_key_id, secret_access_key)
        self._bucket_seen = False

    def __repr__(self) -> str:
        return f"S3BlobStore({self.describe()!r})"

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} @ {_public(self.endpoint_url)}" if self.endpoint_url else where

    def list(self, pattern: str) -> list[BlobInfo]:
        check_key(pattern, what="pattern")
        literal = literal_prefix(pattern)
        query = {"Bucket": self.bucket, "Prefix": self.prefix + literal}
        if "**" not in pattern and "/" not in pattern[len(literal) :]:
            query["Delimiter"] = "/"  # the pattern stays in one "directory": skip the deeper ones
        infos = []
        with self._errors("list", None):
            for page in self._client.get_paginator("list_objects_v2").paginate(**query):
                for obj in page.get("Contents", ()):
                    key = obj["Key"][len(self.prefix) :]
                    if not key.endswith("/") and glob_match(pattern, key):
                        infos.append(_info(key, obj["Size"], obj["ETag"], obj["LastModified"]))
        return sorted(infos, key=lambda info: info.key)

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        check_key(key)
        return self._download(key)

    def put_stream(self, key: str, source: BinaryIO) -> BlobInfo:
        check_key(key)
        with self._errors("write", key):
            self._client.upload_fileobj(source, self.bucket, self.prefix + key)
        return self._head(key)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        check_key(key)
        with self._errors("write", key):
            self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)
        return self._head(key)

    def exists(self, key: str) -> bool:
        try:
            self._head(check_key(key))
        except NotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        self._head(check_key(key))  # S3 deletes silently; a missing key must say so
        with self._errors("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=self.prefix + key)

    # -- helpers -------------------------------------------------------------------------------

    @contextmanager
    def _download(self, key: str) -> Iterator[BinaryIO]:
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
            with self._errors("read", key):
                self._client.download_fileobj(self.bucket, self.prefix + key, spool)
            spool.seek(0)
            yield cast(BinaryIO, spool)

    def _head(self, key: str) -> BlobInfo:
        with self._errors("read", key):
            head = self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        return _info(key, head["ContentLength"], head["ETag"], head["LastModified"])

    def _ensure_bucket(self) -> None:
        """A 404 on an object does not say whether the bucket exists: ask once."""
        if not self._bucket_seen:
            with self._errors("open the bucket", None):
                self._client.head_bucket(Bucket=self.bucket)
            self._bucket_seen = True

    @contextmanager
    def _errors(self, action: str, key: str | None) -> Iterator[None]:
        try:
            yield
        except S3UploadFailedError as exc:  # boto3 wraps the ClientError of an upload
            cause = exc.__context__
            if isinstance(cause, ClientError):
                raise self._client_error(cause, action, key) from cause
            raise self._error(f"cannot {action} `{self._where(key)}`: {exc}") from exc
        except ClientError as exc:
            raise self._client_error(exc, action, key) from exc
        except NoCredentialsError as exc:
            raise self._error(
                f"no S3 credentials for `{self._where(key)}`: reference the access key id and "
                "secret access key in the config's vault secrets, or set AWS_ACCESS_KEY_ID"
            ) from exc
        except (EndpointConnectionError, ConnectTimeoutError) as exc:
            raise self._error(
                f"cannot reach the S3 endpoint for `{self._where(key)}` "
                f"({_public(self.endpoint_url) or 'AWS'}); check the endpoint URL, the region "
                "and the network"
            ) from exc
        except BotoCoreError as exc:
            raise self._error(f"cannot {action} `{self._where(key)}`: {exc}") from exc

    def _client_error(self, exc: ClientError, action: str, key: str | None) -> IpaiError:
        error = exc.response.get("Error", {})
        code, detail = str(error.get("Code", "")), str(error.get("Message", ""))
        where = self._where(key)
        if code in _MISSING and key is not None:
            self._ensure_bucket()
            return NotFound(f"no blob `{key}` in `{self.describe()}`", name=key)
        if code in _MISSING or code == "NoSuchBucket":
            return self._error(
                f"S3 bucket `{self.bucket}` does not exist at "
                f"{_public(self.endpoint_url) or 'AWS'}; check the bucket name, the endpoint URL "
                "and the region"
            )
        if code in _DENIED:
            return self._error(
                f"access to `{where}` was denied ({code}); check the access key id and secret "
                f"access key, and that the key may {action} in bucket `{self.bucket}`"
            )
        if code in _WRONG_REGION:
            return self._error(
                f"bucket `{self.bucket}` answered from another region ({code}); set the region "
                "or the endpoint URL the bucket lives at"
            )
        return self._error(f"cannot {action} `{where}`: {code} {detail}".rstrip())

    def _where(self, key: str | None) -> str:
        return f"s3://{self.bucket}/{self.prefix}{key or ''}"

    def _error(self, message: str) -> SourceError:
        if self._secret is not None and self._secret.reveal():
            message = message.replace(self._secret.reveal(), "***")
        return SourceError(message)


def _make_client(
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret: SecretValue | None,
) -> Any:
    custom = endpoint_url is not None
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
        s3={"addressing_style": "path" if custom else "auto"},
        # S3-compatible stores reject the CRC checksums botocore adds by default since 1.36.
        request_checksum_calculation="when_required" if custom else "when_supported",
        response_checksum_validation="when_required" if custom else "when_supported",
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret.reveal() if secret is not None else None,
        region_name=region,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


def _info(key: str, size: int, etag: str, modified: Any) -> BlobInfo:
    return BlobInfo(key, int(size), etag.strip('"'), modified.astimezone(UTC))


def _public(url: str | None) -> str:
    """`url` without any user:password part."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))
