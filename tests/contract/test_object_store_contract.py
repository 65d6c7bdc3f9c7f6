"""The ObjectStore contract (ingestflow.ports.ObjectStore), run against every adapter:

- "local": LocalObjectStore on a folder;
- "s3": S3ObjectStore on `s3://landing-bucket/in` of the session's moto server (over HTTP,
  configured through the standard AWS environment only; the URL without a trailing '/', which
  must still list `in/...` only).

A new ObjectStore adapter adds one `Landing` below and passes every test. Behaviours only one
store can have are tested with that store: the local store's symbolic links, future mtimes and
settle (tests/integration/test_landing_symlinks.py, test_discovery.py, ...), S3's folder
placeholders, a store on a whole bucket, keys a file system cannot hold, error codes
(tests/integration/test_s3_object_store.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from ingestflow.adapters.storage.local import LocalObjectStore
from ingestflow.adapters.storage.s3 import S3ObjectStore
from ingestflow.domain.records import ObjectInfo
from ingestflow.ports import ObjectStore


class Landing:
    """A fresh, empty landing store of one adapter, and the means to change it from outside
    (as a writer would): `put`, `delete`, and `put_outside` (an object the store must never
    list: beside its root, or in another bucket)."""

    store: ObjectStore

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def put_outside(self, data: bytes) -> None:
        raise NotImplementedError


class LocalLanding(Landing):
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.root = tmp_path / "in"
        self.root.mkdir()
        self.store = LocalObjectStore(self.root)

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()

    def put_outside(self, data: bytes) -> None:
        (self.tmp_path / "inbox").mkdir()
        (self.tmp_path / "inbox" / "a.csv").write_bytes(data)  # shares the root's name start
        (self.tmp_path / "a.csv").write_bytes(data)


class S3Landing(Landing):
    def __init__(self, server: Any) -> None:
        self.client = server.client("s3")
        self.client.create_bucket(Bucket="landing-bucket")
        self.store = S3ObjectStore("s3://landing-bucket/in")

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket="landing-bucket", Key=f"in/{key}", Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket="landing-bucket", Key=f"in/{key}")

    def put_outside(self, data: bytes) -> None:
        self.client.put_object(Bucket="landing-bucket", Key="inbox/a.csv", Body=data)
        self.client.put_object(Bucket="landing-bucket", Key="a.csv", Body=data)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Landing]] = {
    "local": lambda request, tmp_path: LocalLanding(tmp_path),
    "s3": lambda request, tmp_path: S3Landing(request.getfixturevalue("aws_env")),
}


@pytest.fixture(params=list(BACKENDS))
def landing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Landing]:
    yield BACKENDS[request.param](request, tmp_path)


def listed(store: ObjectStore) -> dict[str, ObjectInfo]:
    infos = list(store.list())
    keys = [info.key for info in infos]
    assert len(keys) == len(set(keys)), "a key was listed twice"
    return {info.key: info for info in infos}


# -- listing --------------------------------------------------------------------------------


def test_an_empty_landing_store_lists_nothing(landing: Landing) -> None:
    assert list(landing.store.list()) == []


def test_the_store_names_its_bucket(landing: Landing) -> None:
    assert isinstance(landing.store.bucket, str)
    assert landing.store.bucket


def test_lists_every_object_with_its_key_size_and_etag(landing: Landing) -> None:
    files = {"a.csv": b"Date,Open\n", "b.csv": b"x" * 1000, "empty.csv": b""}
    for key, data in files.items():
        landing.put(key, data)

    infos = listed(landing.store)

    assert {key: info.size for key, info in infos.items()} == {
        key: len(data) for key, data in files.items()
    }
    for key, info in infos.items():
        assert info.etag, key
        assert info.refused is None
        assert landing.store.stat(key) == info
    assert len({info.etag for info in infos.values()}) == len(files)


def test_lists_objects_in_nested_folders_with_slash_separated_keys(landing: Landing) -> None:
    keys = ["top.csv", "ohlcv/2024/eurusd.csv", "ohlcv/2024/01/02/deep.csv", "ohlcv/x.csv"]
    for key in keys:
        landing.put(key, key.encode())

    assert sorted(listed(landing.store)) == sorted(keys)


@pytest.mark.parametrize(
    "key",
    [
        "with space.csv",
        "folder with space/file name.csv",
        "ünïcödé/日本語.csv",
        "emoji 😀.csv",
        "a+b.csv",
        "100%.csv",
        "%41%2F.csv",  # stays as written: never unquoted to "A/.csv"
        "[brackets] and {braces}.csv",
        "q?x#y&z=1;v.csv",
        "quote'double\"backslash\\.csv",
        "star*glob?.csv",
    ],
)
def test_keys_with_spaces_unicode_and_punctuation_are_kept_exactly(
    landing: Landing, key: str
) -> None:
    landing.put(key, b"payload")

    infos = listed(landing.store)

    assert list(infos) == [key]
    assert infos[key].size == len(b"payload")
    assert landing.store.stat(key) == infos[key]


def test_lists_more_than_a_thousand_objects(landing: Landing) -> None:
    """More than one ListObjectsV2 page (1,000 keys)."""
    keys = [f"many/{n // 100:02d}/file-{n:04d}.csv" for n in range(1100)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda key: landing.put(key, key.encode()), keys))

    infos = listed(landing.store)

    assert sorted(infos) == keys
    assert all(infos[key].size == len(key) for key in keys)


def test_an_object_outside_the_landing_root_is_never_listed(landing: Landing) -> None:
    landing.put("a.csv", b"inside")
    landing.put_outside(b"outside!")

    infos = listed(landing.store)

    assert list(infos) == ["a.csv"]
    assert infos["a.csv"].size == len(b"inside")


def test_objects_in_hidden_folders_are_skipped_but_hidden_files_are_listed(
    landing: Landing,
) -> None:
    """Hidden folders hold work in progress (`.ingestflow-tmp/`); hidden and temporary file
    names are listed, discovery decides about them."""
    landing.put(".ingestflow-tmp/part.csv", b"x")
    landing.put("ohlcv/.staging/part.csv", b"x")
    landing.put("ohlcv/.hidden.csv", b"x")
    landing.put("ohlcv/upload.csv.part", b"x")

    assert sorted(listed(landing.store)) == ["ohlcv/.hidden.csv", "ohlcv/upload.csv.part"]


def test_the_modification_time_is_the_epoch_time_of_the_last_write(landing: Landing) -> None:
    before = time.time()
    landing.put("a.csv", b"x")
    after = time.time()

    (info,) = landing.store.list()

    # S3 keeps whole seconds; clocks of a server and its client differ a little.
    assert before - 2 <= info.mtime <= after + 2


def test_a_rewritten_object_gets_a_new_etag(landing: Landing) -> None:
    landing.put("a.csv", b"first")
    first = landing.store.stat("a.csv")
    landing.put("a.csv", b"second version")

    second = landing.store.stat("a.csv")

    assert first is not None and second is not None
    assert second.etag != first.etag
    assert second.size == len(b"second version")
    assert listed(landing.store)["a.csv"] == second


def test_a_deleted_object_is_no_longer_listed(landing: Landing) -> None:
    landing.put("a.csv", b"x")
    landing.put("b.csv", b"y")
    landing.delete("a.csv")

    assert list(listed(landing.store)) == ["b.csv"]


# -- stat -----------------------------------------------------------------------------------


def test_stat_of_a_present_object_gives_its_current_version(landing: Landing) -> None:
    landing.put("ohlcv/2024/eurusd.csv", b"Date,Open\n2024-01-01,1.1\n")

    info = landing.store.stat("ohlcv/2024/eurusd.csv")

    assert info is not None
    assert info.key == "ohlcv/2024/eurusd.csv"
    assert info.size == len(b"Date,Open\n2024-01-01,1.1\n")
    assert info.etag
    assert info.refused is None


def test_stat_of_a_deleted_object_is_none(landing: Landing) -> None:
    landing.put("a.csv", b"x")
    landing.delete("a.csv")

    assert landing.store.stat("a.csv") is None


def test_stat_of_a_key_that_never_existed_is_none(landing: Landing) -> None:
    landing.put("ohlcv/a.csv", b"x")

    assert landing.store.stat("ohlcv/b.csv") is None
    assert landing.store.stat("nothing/here.csv") is None


def test_stat_of_a_folder_is_none(landing: Landing) -> None:
    landing.put("ohlcv/a.csv", b"x")

    assert landing.store.stat("ohlcv") is None
    assert landing.store.stat("ohlcv/") is None
    assert landing.store.stat("") is None
