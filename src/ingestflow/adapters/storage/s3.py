"""S3ObjectStore: an S3 bucket, under a prefix, as the landing store (and as an output store).

`S3ObjectStore("s3://bucket/prefix")`: keys are relative to the prefix, '/'-separated, exactly
as S3 holds them (keys are data: never unquoted, globbed or otherwise interpreted; botocore
URL-encodes them on the wire). The listing follows the local store's rules where they apply:
objects in hidden folders (a folder segment starting with '.', such as `.ingestflow-tmp/`)
are skipped, and so are folder placeholders (keys ending in '/'); hidden and temporary file
names are listed, discovery ignores them. S3 has no symbolic links and no settle problem
(an object is visible only once its upload completed), so `refused` is never set.

The endpoint, region and credentials come from the standard AWS configuration
(`AWS_ENDPOINT_URL`, profiles, `AWS_REGION`, roles): the same URL works on AWS and on a moto
server. boto3 is imported when a store is made, never at import time: `import ingestflow`
works without the `aws` extra, and a store without it raises MissingExtraError.

Errors are one line naming the s3:// URL, never a traceback: listing and stat raise
ObjectStoreError; reading and writing an object raise the file errors the engine expects
(TerminalError when retrying cannot help, TransientError otherwise), and a read that breaks
mid-stream raises OSError (EIO) with the URL as its filename, like a failing local file.
"""

from __future__ import annotations

import errno
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ingestflow.adapters.aws_errors import error_parts, transport_problem
from ingestflow.domain.errors import (
    MissingExtraError,
    ObjectStoreError,
    TerminalError,
    TransientError,
)
from ingestflow.domain.records import ObjectInfo

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

MIB = 1024 * 1024
# Outputs up to the threshold are one PUT; larger ones are a multipart upload that S3 makes
# visible only when CompleteMultipartUpload succeeds (a failed one is aborted).
MULTIPART_THRESHOLD = 64 * MIB
MULTIPART_CHUNKSIZE = 16 * MIB
READ_BUFFER = 1 * MIB

_PROBLEMS = {
    "AccessDenied": "access denied",
    "AllAccessDisabled": "access denied",
    "403": "access denied",
    "NoSuchBucket": "no such bucket",
    "InvalidBucketName": "not a valid bucket name",
    "NoSuchKey": "no such object",
    "404": "not found",
    "InvalidAccessKeyId": "the AWS access key id is not valid",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key id",
    "ExpiredToken": "the AWS credentials have expired",
    "SlowDown": "throttled by S3",
    "PreconditionFailed": "the object changed since it was listed",
    "412": "the object changed since it was listed",
    "KeyTooLongError": "the key is too long for S3",
}
_GONE = frozenset({"NoSuchKey", "404", "NotFound"})


def parse_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of "s3://bucket/prefix"; the prefix is '' or ends with '/'."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ObjectStoreError(f"{url}: not an S3 URL (expected s3://bucket/prefix)")
    if prefix and not prefix.endswith("/"):
        prefix += "/"  # "s3://b/in" lists "in/...", never "inbox/..."
    return bucket, prefix


def problem(exc: BaseException) -> tuple[str, str]:
    """(error code, one-line description) of a botocore/boto3 error."""
    parts = error_parts(exc)
    if parts is not None:
        code = parts[0] or str(parts[2] or "")
        text = _PROBLEMS.get(code) or parts[1] or "request failed"
        return code, " ".join((f"{text} ({code})" if code else text).split())
    return "", transport_problem(exc) or " ".join(str(exc).split()) or type(exc).__name__


def _etag(raw: str) -> str:
    return raw.strip('"')


def _hidden_folder(key: str) -> bool:
    return any(part.startswith(".") for part in key.split("/")[:-1])


class _Body(io.RawIOBase):
    """A GetObject body as a raw stream: a read that fails mid-way raises OSError(EIO)
    naming the URL (botocore already refuses a body shorter than its Content-Length)."""

    def __init__(self, stream: Any, url: str) -> None:
        self._stream = stream
        self._url = url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._stream.read(len(buffer))
        except Exception as exc:
            raise OSError(errno.EIO, problem(exc)[1], self._url) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


class S3ObjectStore:
    """The objects under `s3://bucket/prefix`. `bucket` is the S3 bucket's name (the ledger's
    `bucket`). `client`: an S3 client to use (by default one is built from the standard AWS
    configuration); `multipart_threshold`/`multipart_chunksize` (bytes) shape output uploads."""

    def __init__(
        self,
        url: str,
        *,
        client: S3Client | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
    ) -> None:
        self.bucket, self.prefix = parse_url(url)
        self.url = f"s3://{self.bucket}/{self.prefix}"
        try:
            import boto3
            from boto3.exceptions import Boto3Error
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise MissingExtraError("aws", "the S3 object store") from None
        # What the SDK raises: client errors, connection errors, no credentials, ...
        self._aws_errors: tuple[type[Exception], ...] = (BotoCoreError, ClientError, Boto3Error)
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        # Retries, endpoint and region as configured (AWS_RETRY_MODE, AWS_MAX_ATTEMPTS, ...).
        self._client: S3Client = client or boto3.session.Session().client(
            "s3", config=Config(user_agent_extra="ingestflow")
        )

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.url!r})"

    def url_for(self, key: str) -> str:
        return f"{self.url}{key}"

    def list(self) -> Iterator[ObjectInfo]:
        """Every object under the prefix, in key order, one ListObjectsV2 page (1,000 keys)
        at a time. Raises ObjectStoreError (e.g. no such bucket, access denied)."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        start = len(self.prefix)
        try:
            for page in pages:
                for obj in page.get("Contents", ()):
                    key = obj["Key"][start:]
                    if not key or key.endswith("/") or _hidden_folder(key):
                        continue
                    modified = obj["LastModified"].timestamp()
                    yield ObjectInfo(key, obj["Size"], _etag(obj["ETag"]), modified)
        except self._aws_errors as exc:
            raise ObjectStoreError(f"{self.url}: {problem(exc)[1]}") from None

    def stat(self, key: str) -> ObjectInfo | None:
        """The object's current version (HeadObject), or None when it is gone (HEAD answers
        a bare 404, for a missing bucket too). Without s3:ListBucket permission S3 answers
        403 for a missing key: that is an error, not "gone"."""
        if not key or key.endswith("/"):
            return None
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self.prefix + key)
        except self._aws_errors as exc:
            code, text = problem(exc)
            if code in _GONE:
                return None
            raise ObjectStoreError(f"{self.url_for(key)}: {text}") from None
        return ObjectInfo(
            key, head["ContentLength"], _etag(head["ETag"]), head["LastModified"].timestamp()
        )

    def open_read(self, key: str, etag: str | None = None) -> io.BufferedReader:
        """The object's content as a buffered, forward-only stream (close it after use).
        With `etag`, only that version is read (If-Match). Raises TerminalError when the
        object is gone, TransientError when it changed or cannot be read now."""
        name = self.prefix + key
        try:
            if etag:
                response = self._client.get_object(
                    Bucket=self.bucket, Key=name, IfMatch=f'"{etag}"'
                )
            else:
                response = self._client.get_object(Bucket=self.bucket, Key=name)
        except self._aws_errors as exc:
            code, text = problem(exc)
            if code in _GONE:
                raise TerminalError(f"input file is gone: {self.url_for(key)}") from None
            raise TransientError(f"cannot read {self.url_for(key)}: {text}") from None
        return io.BufferedReader(_Body(response["Body"], self.url_for(key)), READ_BUFFER)

    def write_output(self, key: str, local_path: str | Path) -> str:
        """Upload the finished local file `local_path` to `key` (replacing any object there)
        and return its s3:// URL. One PUT up to `multipart_threshold`, else a multipart
        upload completed only at the end and aborted on failure: readers see the old object
        or the whole new one, never a part. Raises TerminalError for a key S3 cannot hold,
        TransientError otherwise (credentials, permissions, a missing bucket: fixable)."""
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        config = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_chunksize,
            max_concurrency=4,
            preferred_transfer_client="classic",  # s3transfer, as tested (not the CRT)
        )
        target = self.url_for(key)
        try:
            with create_transfer_manager(self._client, config) as manager:
                manager.upload(str(local_path), self.bucket, self.prefix + key).result()
        except OSError as exc:
            raise TransientError(f"cannot write output {target}: {exc.strerror or exc}") from None
        except self._aws_errors as exc:
            code, text = problem(exc)
            error = TerminalError if code == "KeyTooLongError" else TransientError
            raise error(f"cannot write output {target}: {text}") from None
        return target
