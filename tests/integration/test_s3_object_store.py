"""S3ObjectStore beyond the ObjectStore contract, on the session's moto server over HTTP: what
only S3 has (folder placeholders, a store on a whole bucket, keys no file system holds), its
errors as one line naming the s3:// URL, reading (open_read) and writing outputs
(write_output: one PUT, or a multipart upload completed only at the end)."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from moto_server import MotoServer

from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.domain.errors import (
    MissingExtraError,
    ObjectStoreError,
    TerminalError,
    TransientError,
)

MIB = 1024 * 1024


@pytest.fixture
def s3(aws_env: MotoServer) -> Any:
    """The server's S3 client, with an empty bucket `landing-bucket`."""
    client = aws_env.client("s3")
    client.create_bucket(Bucket="landing-bucket")
    return client


def put(s3: Any, key: str, data: bytes, bucket: str = "landing-bucket") -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=data)


def keys(store: S3ObjectStore) -> list[str]:
    return [info.key for info in store.list()]


# -- listing and stat: what only S3 has ------------------------------------------------------


def test_a_store_on_a_whole_bucket_lists_every_key_and_nothing_of_another_bucket(s3: Any) -> None:
    s3.create_bucket(Bucket="other-bucket")
    put(s3, "top.csv", b"1")
    put(s3, "ohlcv/2024/a.csv", b"22")
    put(s3, "elsewhere.csv", b"x", bucket="other-bucket")

    store = S3ObjectStore("s3://landing-bucket")

    assert (store.bucket, store.prefix, store.url) == ("landing-bucket", "", "s3://landing-bucket/")
    assert sorted(keys(store)) == ["ohlcv/2024/a.csv", "top.csv"]
    info = store.stat("ohlcv/2024/a.csv")
    assert info is not None and info.size == 2
    assert store.stat("elsewhere.csv") is None


def test_folder_placeholders_are_not_listed(s3: Any) -> None:
    """The console's "Create folder" makes zero-byte keys ending in '/': not files."""
    put(s3, "in/", b"")
    put(s3, "in/ohlcv/", b"")
    put(s3, "in/ohlcv/a.csv", b"x")

    store = S3ObjectStore("s3://landing-bucket/in/")

    assert keys(store) == ["ohlcv/a.csv"]
    assert store.stat("ohlcv/") is None


def test_keys_no_file_system_can_hold_are_listed_as_they_are(s3: Any) -> None:
    """Listed unchanged, so discovery can show them as unrouted with the reason
    (domain.keys.validate_key), never silently dropped nor rewritten. (moto refuses keys
    holding a line break or a tab, which AWS takes: not tested here.)"""
    odd = ["/leading.csv", "a//b.csv", "ctrl\x01char.csv", "del\x7fchar.csv", "c1\x85.csv"]
    for key in odd:
        put(s3, f"in/{key}", b"x")

    store = S3ObjectStore("s3://landing-bucket/in")

    assert sorted(keys(store)) == sorted(odd)
    for key in odd:
        info = store.stat(key)
        assert info is not None and info.key == key


def test_list_and_stat_agree_on_every_field(s3: Any) -> None:
    put(s3, "in/a.csv", b"Date,Open\n")

    store = S3ObjectStore("s3://landing-bucket/in")
    (listed,) = store.list()

    assert store.stat("a.csv") == listed
    assert listed.etag == hashlib.md5(b"Date,Open\n").hexdigest()  # no quotes
    assert listed.mtime == int(listed.mtime)  # S3 keeps whole seconds


# -- errors: one line naming the URL ---------------------------------------------------------


def test_a_missing_bucket_is_one_line_naming_the_url(aws_env: MotoServer) -> None:
    store = S3ObjectStore("s3://no-such-bucket/in")

    with pytest.raises(ObjectStoreError) as raised:
        list(store.list())

    assert str(raised.value) == "s3://no-such-bucket/in/: no such bucket (NoSuchBucket)"


def test_access_denied_is_one_line_naming_the_url(
    s3: Any, aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    put(s3, "in/a.csv", b"x")
    iam = aws_env.client("iam")
    iam.create_user(UserName="no-rights")
    key = iam.create_access_key(UserName="no-rights")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
    store = S3ObjectStore("s3://landing-bucket/in")
    output = tmp_path / "out.parquet"
    output.write_bytes(b"PAR1")
    aws_env.enforce_iam()

    with pytest.raises(ObjectStoreError) as listing:
        list(store.list())
    with pytest.raises(ObjectStoreError) as stat:
        store.stat("a.csv")
    with pytest.raises(TransientError) as read:
        store.open_read("a.csv")
    with pytest.raises(TransientError) as write:
        store.write_output("out.parquet", output)

    assert str(listing.value) == "s3://landing-bucket/in/: access denied (AccessDenied)"
    assert str(stat.value) == "s3://landing-bucket/in/a.csv: access denied (403)"
    assert (
        str(read.value) == "cannot read s3://landing-bucket/in/a.csv: access denied (AccessDenied)"
    )
    assert str(write.value) == (
        "cannot write output s3://landing-bucket/in/out.parquet: access denied (AccessDenied)"
    )


def test_unknown_credentials_are_one_line_naming_the_url(
    s3: Any, aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIANOTAREALKEY00000")
    store = S3ObjectStore("s3://landing-bucket/in")
    aws_env.enforce_iam()

    with pytest.raises(ObjectStoreError) as raised:
        list(store.list())

    assert str(raised.value) == (
        "s3://landing-bucket/in/: the AWS access key id is not valid (InvalidAccessKeyId)"
    )


def test_missing_credentials_are_one_line_naming_the_url(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = S3ObjectStore("s3://landing-bucket/in")

    with pytest.raises(ObjectStoreError) as raised:
        list(store.list())

    assert str(raised.value).startswith("s3://landing-bucket/in/: no AWS credentials found")


def test_an_unreachable_endpoint_is_one_line_naming_the_url(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = S3ObjectStore("s3://landing-bucket/in")

    with pytest.raises(ObjectStoreError) as raised:
        list(store.list())

    message = str(raised.value)
    assert message.startswith("s3://landing-bucket/in/: Could not connect to the endpoint URL")
    assert "\n" not in message


@pytest.mark.parametrize("url", ["landing/in", "s3://", "s3:///in", "S3://landing/in"])
def test_a_url_that_is_not_an_s3_url_is_refused(url: str) -> None:
    with pytest.raises(ObjectStoreError, match="not an S3 URL"):
        S3ObjectStore(url)


def test_without_the_aws_extra_the_store_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError

    with pytest.raises(MissingExtraError, match=r"pip install 'ingestflow\[aws\]'"):
        S3ObjectStore("s3://landing-bucket/in")


def test_importing_the_adapter_does_not_import_boto3() -> None:
    code = (
        "import sys, ingestflow.adapters.storage.s3\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ})


# -- open_read -------------------------------------------------------------------------------


def test_open_read_streams_the_whole_content(s3: Any) -> None:
    data = os.urandom(3 * MIB + 17)
    put(s3, "in/big file [1].bin", data)
    store = S3ObjectStore("s3://landing-bucket/in")

    with store.open_read("big file [1].bin") as body:
        chunks = iter(lambda: body.read(256 * 1024), b"")
        assert b"".join(chunks) == data


def test_open_read_gives_a_file_like_object_for_csv_and_gzip_readers(s3: Any) -> None:
    text = b"Date,Open\n2024-01-01 00:00:00,1.5\n"
    put(s3, "in/ohlcv/a+b %41.csv.gz", gzip.compress(text))
    store = S3ObjectStore("s3://landing-bucket/in")

    with store.open_read("ohlcv/a+b %41.csv.gz") as body, gzip.GzipFile(fileobj=body) as csv:
        assert csv.readline() == b"Date,Open\n"
        assert csv.read() == b"2024-01-01 00:00:00,1.5\n"


def test_open_read_with_the_listed_etag_reads_that_version(s3: Any) -> None:
    put(s3, "in/a.csv", b"v1")
    store = S3ObjectStore("s3://landing-bucket/in")
    (info,) = store.list()

    with store.open_read("a.csv", etag=info.etag) as body:
        assert body.read() == b"v1"


def test_open_read_of_an_object_changed_since_it_was_listed_is_a_transient_error(
    s3: Any,
) -> None:
    put(s3, "in/a.csv", b"v1")
    store = S3ObjectStore("s3://landing-bucket/in")
    (info,) = store.list()
    put(s3, "in/a.csv", b"v2 is longer")

    with pytest.raises(TransientError) as raised:
        store.open_read("a.csv", etag=info.etag)

    assert str(raised.value) == (
        "cannot read s3://landing-bucket/in/a.csv: "
        "the object changed since it was listed (PreconditionFailed)"
    )


def test_open_read_of_a_gone_object_is_a_terminal_error(s3: Any) -> None:
    store = S3ObjectStore("s3://landing-bucket/in")

    with pytest.raises(TerminalError) as raised:
        store.open_read("gone.csv")

    assert str(raised.value) == "input file is gone: s3://landing-bucket/in/gone.csv"


# -- write_output ----------------------------------------------------------------------------


def _uploads(s3: Any) -> list[Any]:
    return list(s3.list_multipart_uploads(Bucket="landing-bucket").get("Uploads", []))


def test_a_small_output_is_written_with_one_put(s3: Any, tmp_path: Path) -> None:
    local = tmp_path / "a.parquet"
    local.write_bytes(b"PAR1" + os.urandom(1000))
    store = S3ObjectStore("s3://landing-bucket/out")

    url = store.write_output("ohlcv/a b+c.csv.parquet", local)

    assert url == "s3://landing-bucket/out/ohlcv/a b+c.csv.parquet"
    got = s3.get_object(Bucket="landing-bucket", Key="out/ohlcv/a b+c.csv.parquet")
    assert got["Body"].read() == local.read_bytes()
    assert got["ETag"].strip('"') == hashlib.md5(local.read_bytes()).hexdigest()  # one PUT


def test_a_large_output_is_a_multipart_upload_completed_at_the_end(s3: Any, tmp_path: Path) -> None:
    local = tmp_path / "big.parquet"
    local.write_bytes(os.urandom(11 * MIB))
    store = S3ObjectStore(
        "s3://landing-bucket/out", multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
    )

    store.write_output("big.parquet", local)

    got = s3.get_object(Bucket="landing-bucket", Key="out/big.parquet")
    assert got["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + 1 MiB
    assert (
        hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(local.read_bytes()).digest()
    )
    assert _uploads(s3) == []


def test_an_output_replaces_the_object_already_there(s3: Any, tmp_path: Path) -> None:
    put(s3, "out/a.parquet", b"old")
    local = tmp_path / "a.parquet"
    local.write_bytes(b"new content")
    store = S3ObjectStore("s3://landing-bucket/out")

    store.write_output("a.parquet", local)

    got = s3.get_object(Bucket="landing-bucket", Key="out/a.parquet")
    assert got["Body"].read() == b"new content"


def test_a_failed_multipart_upload_leaves_the_old_object_and_no_pending_upload(
    s3: Any, aws_env: MotoServer, tmp_path: Path
) -> None:
    """S3 shows a multipart upload only once CompleteMultipartUpload succeeds; when it fails
    (here: S3 answers it with an InternalError), the upload is aborted and its parts freed."""
    from botocore.awsrequest import AWSResponse

    put(s3, "out/big.parquet", b"old")
    local = tmp_path / "big.parquet"
    local.write_bytes(os.urandom(6 * MIB))
    client = aws_env.session().client("s3", endpoint_url=aws_env.endpoint_url)
    uploaded_parts: list[int] = []

    def count_part(params: dict[str, Any], **kwargs: Any) -> None:
        uploaded_parts.append(params["PartNumber"])

    def fail_complete(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]]:
        error = {"Code": "InternalError", "Message": "We encountered an internal error."}
        return AWSResponse("", 500, {}, None), {"Error": error}

    client.meta.events.register("before-parameter-build.s3.UploadPart", count_part)
    client.meta.events.register("before-call.s3.CompleteMultipartUpload", fail_complete)
    store = S3ObjectStore(
        "s3://landing-bucket/out",
        client=client,
        multipart_threshold=5 * MIB,
        multipart_chunksize=5 * MIB,
    )

    with pytest.raises(TransientError) as raised:
        store.write_output("big.parquet", local)

    assert sorted(uploaded_parts) == [1, 2]
    assert str(raised.value) == (
        "cannot write output s3://landing-bucket/out/big.parquet: "
        "We encountered an internal error. (InternalError)"
    )
    assert s3.get_object(Bucket="landing-bucket", Key="out/big.parquet")["Body"].read() == b"old"
    assert _uploads(s3) == []


def test_an_output_to_a_missing_bucket_is_a_transient_error(
    aws_env: MotoServer, tmp_path: Path
) -> None:
    local = tmp_path / "a.parquet"
    local.write_bytes(b"PAR1")
    store = S3ObjectStore("s3://no-such-bucket/out")

    with pytest.raises(TransientError) as raised:
        store.write_output("a.parquet", local)

    assert str(raised.value) == (
        "cannot write output s3://no-such-bucket/out/a.parquet: no such bucket (NoSuchBucket)"
    )
