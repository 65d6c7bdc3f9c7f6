"""The change log of the DynamoDB ledger: transition ids, transition items and their reads
(transitions_after, last_transition_id, history, ended_between).

Ids come from the meta item (pk "seq", sk "transitions"): one atomic ADD per write call
allocates a block of consecutive ids. Each status change writes its transition item in the
same transaction as the file (dynamodb_changes), so an id is either written with its change
or not at all. A cancelled transaction (a lost race) leaves its id unused: the writer then
puts a "void" tombstone under that id, so readers know the gap is final.

Readers of `transitions_after` stop at a gap (an id below the sequence that has neither a
transition nor a tombstone yet): its change may still be in flight, and skipping it would let
a checkpoint move past a change that appears a moment later. A gap is skipped only once a
later id was written more than `GAP_GRACE` seconds ago (wall clock): a writer that crashed
between allocating and writing leaves such a gap for good, and ids are allocated in order,
so a gap older than its successor's write is older than that too. Keep write calls much
shorter than GAP_GRACE (they are: the pool writes a batch's files at once).

Items: pk S = "T#<id // 1000>", sk N = id, the Transition's fields (images as JSON text),
`written` N (wall clock), h_pk/h_sk (history_index: by file), e_pk/e_sk (ended_index: changes
to DONE or FAILED, by day of `at`, in (at, id) order).
"""

from __future__ import annotations

import time

import orjson

from ingestflow.adapters.state.dynamodb_base import DynamoBase
from ingestflow.adapters.state.dynamodb_items import Item, av, file_pk, plain, sortable
from ingestflow.adapters.state.dynamodb_tables import (
    ENDED_INDEX,
    ENDED_PARTITION,
    HISTORY_INDEX,
    META,
    TRANSITIONS,
    TRANSITIONS_PER_PAGE,
)
from ingestflow.domain.records import Transition
from ingestflow.domain.status import Status

GAP_GRACE = 30.0
SEQUENCE = {"pk": {"S": "seq"}, "sk": {"S": "transitions"}}
_ENDED = frozenset({Status.DONE, Status.FAILED})
_STATUS = {s.value: s for s in Status}


def page_of(ident: int) -> dict[str, str]:
    return {"S": f"T#{ident // TRANSITIONS_PER_PAGE}"}


def transition_item(t: Transition) -> Item:
    """The item of one transition (written in its change's transaction)."""
    item: Item = {
        "pk": page_of(t.id),
        "sk": av(t.id),
        "written": av(time.time()),
        "bucket": av(t.bucket),
        "key": av(t.key),
        "workflow": av(t.workflow),
        "to_status": av(t.new_status.value),
        "at": av(float(t.at)),
        "reason": av(t.reason),
        "new": av(orjson.dumps(t.new).decode()),
        "h_pk": av(file_pk(t.bucket, t.key)),
        "h_sk": av(t.id),
    }
    if t.old_status is not None:
        item["from_status"] = av(t.old_status.value)
    if t.old is not None:
        item["old"] = av(orjson.dumps(t.old).decode())
    if t.new_status in _ENDED:
        item["e_pk"] = av(f"E#{int(t.at // ENDED_PARTITION)}")
        item["e_sk"] = av(f"{sortable(t.at)}\x1f{t.id:020d}")
    return item


def void_item(ident: int) -> Item:
    return {"pk": page_of(ident), "sk": av(ident), "void": av(True), "written": av(time.time())}


def to_transition(item: Item) -> Transition:
    old = item.get("old")
    frm = item.get("from_status")
    return Transition(
        int(plain(item["sk"])),
        str(plain(item["bucket"])),
        str(plain(item["key"])),
        str(plain(item["workflow"])),
        None if frm is None else _STATUS[str(plain(frm))],
        _STATUS[str(plain(item["to_status"]))],
        float(plain(item["at"])),
        str(plain(item["reason"])),
        None if old is None else orjson.loads(str(plain(old))),
        orjson.loads(str(plain(item["new"]))),
    )


class DynamoLog(DynamoBase):
    def allocate(self, n: int) -> int:
        """Reserve `n` consecutive ids; the first of them (0 when n == 0)."""
        if n <= 0:
            return 0
        answer = self._call(
            "allocate transition ids",
            self._client.update_item,
            TableName=self.tables[META],
            Key=SEQUENCE,
            UpdateExpression="ADD #n :n",
            ExpressionAttributeNames={"#n": "n"},
            ExpressionAttributeValues={":n": av(n)},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["n"]["N"]) - n + 1

    def void(self, ident: int) -> None:
        """Mark an allocated id as never used (its transaction was cancelled)."""
        self._call(
            "void a transition id",
            self._client.put_item,
            TableName=self.tables[TRANSITIONS],
            Item=void_item(ident),
        )

    def _sequence(self) -> int:
        item = self.get_item("read the transition sequence", META, SEQUENCE)
        return 0 if item is None else int(item["n"]["N"])

    def transitions_after(self, checkpoint: int, limit: int = 1000) -> list[Transition]:
        top = self._sequence()
        out: list[Transition] = []
        expected = max(0, checkpoint) + 1
        stale = time.time() - GAP_GRACE
        for page in range(expected // TRANSITIONS_PER_PAGE, top // TRANSITIONS_PER_PAGE + 1):
            items = self.query(
                "read the change stream",
                TRANSITIONS,
                KeyConditionExpression="pk = :pk AND sk >= :from",
                ExpressionAttributeValues={
                    ":pk": page_of(page * TRANSITIONS_PER_PAGE),
                    ":from": av(expected),
                },
                ConsistentRead=True,
                Limit=min(TRANSITIONS_PER_PAGE, limit + 16),
            )
            for item in items:
                ident = int(plain(item["sk"]))
                if ident > expected and float(plain(item["written"])) > stale:
                    return out  # a gap that may still fill: stop before it
                expected = ident + 1
                if "void" in item:
                    continue
                out.append(to_transition(item))
                if len(out) >= limit:
                    return out
        return out

    def last_transition_id(self) -> int:
        top = self._sequence()
        for page in range(top // TRANSITIONS_PER_PAGE, -1, -1):
            items = self.query(
                "read the change stream's end",
                TRANSITIONS,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": page_of(page * TRANSITIONS_PER_PAGE)},
                ConsistentRead=True,
                ScanIndexForward=False,
                ProjectionExpression="sk, #void",
                ExpressionAttributeNames={"#void": "void"},
                Limit=64,
            )
            for item in items:
                if "void" not in item:
                    return int(plain(item["sk"]))
        return 0

    def history(self, bucket: str, key: str) -> list[Transition]:
        items = self.query(
            "read a file's history",
            TRANSITIONS,
            IndexName=HISTORY_INDEX,
            KeyConditionExpression="h_pk = :pk",
            ExpressionAttributeValues={":pk": av(file_pk(bucket, key))},
        )
        return [to_transition(i) for i in items]

    def _bounds(self) -> tuple[float, float] | None:
        """The `at` of the first and of the newest transition (None: there is none); the
        day partitions of ended_between are read between these, not from the epoch."""
        first = last = None
        top = self._sequence()
        if top == 0:
            return None
        for ident, forward in ((1, True), (top, False)):
            found = self.query(
                "read the change stream's bounds",
                TRANSITIONS,
                limit=1,
                KeyConditionExpression="pk = :pk",
                FilterExpression="attribute_exists(#at)",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={":pk": page_of(ident)},
                ScanIndexForward=forward,
            )
            at = [float(plain(i["at"])) for i in found]
            if forward:
                first = at[0] if at else None
            else:
                last = at[0] if at else None
        if first is None or last is None:
            return None
        return first, last

    def ended_between(
        self,
        start: float,
        end: float,
        after: tuple[float, int] | None = None,
        limit: int = 10_000,
    ) -> list[Transition]:
        low = start if after is None else max(start, float(after[0]))
        bounds = self._bounds()
        if end <= low or limit <= 0 or bounds is None:
            return []
        first_day = int(max(low, bounds[0] - ENDED_PARTITION) // ENDED_PARTITION)
        last_day = int(min(end, bounds[1] + ENDED_PARTITION) // ENDED_PARTITION)
        out: list[Transition] = []
        for day in range(first_day, last_day + 1):
            items = self.query(
                "read the ended files",
                TRANSITIONS,
                IndexName=ENDED_INDEX,
                KeyConditionExpression="e_pk = :pk AND e_sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={
                    ":pk": av(f"E#{day}"),
                    ":lo": av(sortable(low)),
                    ":hi": av(sortable(end)),
                },
            )
            for item in items:
                t = to_transition(item)
                if not (start <= t.at < end) or (after is not None and (t.at, t.id) <= after):
                    continue
                out.append(t)
                if len(out) >= limit:
                    return out
        return out
