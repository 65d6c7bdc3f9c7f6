"""What the contract suite relies on for the DynamoDB ledger, shown to hold: its stores
refuse Scan (so every contract test that passes on "dynamodb" used none), and its tables
are the documented ones, with the sparse indexes and the change stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledger_backends import ScanCalled, adapter

from ingestflow.adapters.state.dynamodb import DynamoDBStatusStore


def test_a_scan_through_a_contract_store_fails_before_it_is_sent(tmp_path: Path) -> None:
    factory = adapter("dynamodb")
    store = factory.open(factory.location(tmp_path))
    assert isinstance(store, DynamoDBStatusStore)
    try:
        with pytest.raises(ScanCalled, match="must never scan"):
            store._client.scan(TableName=store.tables["files"])
    finally:
        store.close()


def test_the_files_table_streams_new_and_old_images_and_indexes_status(tmp_path: Path) -> None:
    factory = adapter("dynamodb")
    store = factory.open(factory.location(tmp_path))
    assert isinstance(store, DynamoDBStatusStore)
    try:
        table = store._client.describe_table(TableName=store.tables["files"])["Table"]
    finally:
        store.close()
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [
        "queue_index",
        "outcome_index",
    ]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
