"""The tables of the DynamoDB ledger, as data: names, key schemas, indexes, the change stream.

Terraform is written from these definitions, so they stay declarative: `TABLES` maps each
table's short name to its CreateTable arguments (without TableName, which is
`<prefix>-<name>`). `create_tables` creates the missing ones and waits until they are ACTIVE.
Every table bills on demand (PAY_PER_REQUEST): the ledger's load follows the landing traffic.

- `files`: key pk S = "<bucket>/<key>"; queue_index (q_pk, q_sk), ALL, sparse: only TODO and
  PROCESSING files; outcome_index (o_pk, o_sk), ALL: only DONE and FAILED files. One item per
  file (dynamodb_items); its stream (NEW_AND_OLD_IMAGES) feeds the forward_metrics Lambda.
- `transitions`: key pk S = "T#<id // 1000>", sk N = id; history_index (h_pk = file pk,
  h_sk = id); ended_index (e_pk = "E#<day>", e_sk = "<at>\\x1f<id>", only on changes to
  DONE/FAILED). The change log, ids from the `seq` item.
- `batches`: key pk S = batch_id; running_index (r_pk = "RUNNING",
  r_sk = "<lease_until>\\x1f<batch_id>"), only while RUNNING. Claimed batches.
- `workflow_metadata`: key pk S = workflow name. The configured workflows (sync_workflows),
  and the item "#names": every workflow the ledger has seen.
- `meta`: key pk S, sk S; g_index (g_pk, g_sk), ALL, sparse. Sequences (pk "seq"), markers
  (pk "marker#<workflow>"), and the side items of dynamodb_side.py.

Why two indexes on files: the queue index is what claims, the reaper, backlog gauges and the
stale report read, and holds only active work (a file leaves it when it ends), so a claim's
Query never pages through ended files (research aws.md §1.2). Ended files are in
outcome_index so that `counts`, `files(status=DONE)`, `retry` (FAILED) and `arrivals` stay
Queries: there is no Scan and no counter item (a replayed ADD counts twice). Partitions are
`<STATUS>#<workflow>#<shard>` (dynamodb_items.SHARDS) in both, so no status of the whole
table shares one index partition.
"""

from __future__ import annotations

import time
from typing import Any

FILES, TRANSITIONS, BATCHES, WORKFLOWS, META = (
    "files", "transitions", "batches", "workflow_metadata", "meta",
)  # fmt: skip
QUEUE_INDEX = "queue_index"  # sparse: only TODO and PROCESSING files carry q_pk, q_sk
OUTCOME_INDEX = "outcome_index"  # only DONE and FAILED files carry o_pk, o_sk
HISTORY_INDEX = "history_index"
ENDED_INDEX = "ended_index"
RUNNING_INDEX = "running_index"
META_INDEX = "g_index"  # the agreed "g"; DynamoDB wants index names of 3 to 255 characters
TRANSITIONS_PER_PAGE = 1000  # transitions item partition: "T#<id // TRANSITIONS_PER_PAGE>"
ENDED_PARTITION = 86_400.0  # seconds of `at` per ended_index partition


def _attributes(**types: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in types.items()]


def _key(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key is not None:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _index(name: str, hash_key: str, range_key: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": _key(hash_key, range_key),
        "Projection": {"ProjectionType": "ALL"},
    }


TABLES: dict[str, dict[str, Any]] = {
    FILES: {
        "AttributeDefinitions": _attributes(pk="S", q_pk="S", q_sk="S", o_pk="S", o_sk="S"),
        "KeySchema": _key("pk"),
        "GlobalSecondaryIndexes": [
            _index(QUEUE_INDEX, "q_pk", "q_sk"),
            _index(OUTCOME_INDEX, "o_pk", "o_sk"),
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "BillingMode": "PAY_PER_REQUEST",
    },
    TRANSITIONS: {
        "AttributeDefinitions": _attributes(pk="S", sk="N", h_pk="S", h_sk="N", e_pk="S", e_sk="S"),
        "KeySchema": _key("pk", "sk"),
        "GlobalSecondaryIndexes": [
            _index(HISTORY_INDEX, "h_pk", "h_sk"),
            _index(ENDED_INDEX, "e_pk", "e_sk"),
        ],
        "BillingMode": "PAY_PER_REQUEST",
    },
    BATCHES: {
        "AttributeDefinitions": _attributes(pk="S", r_pk="S", r_sk="S"),
        "KeySchema": _key("pk"),
        "GlobalSecondaryIndexes": [_index(RUNNING_INDEX, "r_pk", "r_sk")],
        "BillingMode": "PAY_PER_REQUEST",
    },
    WORKFLOWS: {
        "AttributeDefinitions": _attributes(pk="S"),
        "KeySchema": _key("pk"),
        "BillingMode": "PAY_PER_REQUEST",
    },
    META: {
        "AttributeDefinitions": _attributes(pk="S", sk="S", g_pk="S", g_sk="S"),
        "KeySchema": _key("pk", "sk"),
        "GlobalSecondaryIndexes": [_index(META_INDEX, "g_pk", "g_sk")],
        "BillingMode": "PAY_PER_REQUEST",
    },
}


def table_names(prefix: str) -> dict[str, str]:
    """Short name -> full table name for the ledger `prefix`."""
    return {name: f"{prefix}-{name}" for name in TABLES}


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(((response or {}).get("Error") or {}).get("Code") or "")


def create_tables(client: Any, prefix: str, timeout: float = 300.0) -> list[str]:
    """Create the ledger's missing tables (with their indexes and stream) and wait until every
    table is ACTIVE. Idempotent, and safe when several processes do it at once (a table
    another process is creating counts as present). Returns the tables it created.
    AWS errors propagate (the store translates them)."""
    created = []
    for name, full in table_names(prefix).items():
        if _status(client, full) is None:
            try:
                client.create_table(TableName=full, **TABLES[name])
                created.append(full)
            except Exception as exc:
                if _code(exc) != "ResourceInUseException":
                    raise
    deadline = time.monotonic() + timeout
    for full in table_names(prefix).values():
        # moto answers ACTIVE at once; AWS takes seconds (a table with indexes, longer).
        while _status(client, full) != "ACTIVE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"table {full} is not ACTIVE after {timeout:.0f} s")
            time.sleep(1.0)
    return created


def _status(client: Any, table: str) -> str | None:
    """The table's status, or None when it does not exist."""
    try:
        return str(client.describe_table(TableName=table)["Table"]["TableStatus"])
    except Exception as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise
