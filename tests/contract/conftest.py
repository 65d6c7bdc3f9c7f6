"""Fixtures of the StatusStore contract suite: one fresh ledger per test, per adapter.

The adapters are listed in `ledger_backends.py` (imported as a top-level module: pytest's default
"prepend" import mode puts this folder on sys.path; `_claim_worker.py` does the same itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_backends import ADAPTERS, AdapterFactory, Ledger

from ingestflow.ports import StatusStore


@pytest.fixture(params=ADAPTERS, ids=lambda factory: factory.name)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    factory: AdapterFactory = request.param
    ledger = Ledger(factory, factory.location(tmp_path))
    try:
        yield ledger
    finally:
        ledger.close_all()


@pytest.fixture
def store(ledger: Ledger) -> StatusStore:
    """A StatusStore on a fresh, empty ledger (parametrised over every adapter in ADAPTERS)."""
    return ledger.open()
