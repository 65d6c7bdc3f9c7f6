"""Fixtures shared by every test folder.

AWS: `moto_server` is one moto server per test session (tests/support/moto_server.py), started
on first use only; `aws_env` points the standard AWS configuration of this test at it (every
`AWS_*` variable of the developer removed, dummy credentials, us-east-1, no config files) and
wipes the server's resources (and turns IAM checks off) after the test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from moto_server import MotoServer  # tests/support, on pytest's pythonpath


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoServer]:
    """The session's moto server, with this test's AWS environment pointing at it."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in moto_server.environment().items():
        monkeypatch.setenv(name, value)
    try:
        yield moto_server
    finally:
        moto_server.enforce_iam(False)
        moto_server.reset()
