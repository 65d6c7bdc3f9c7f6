"""A claimer in its own OS process, for the contract suite's concurrency test.

    python _claim_worker.py ADAPTER LOCATION NOW WORKFLOW_JSON OWNER

Opens its own store on the ledger, prints "ready", waits for "go" on stdin (so every worker
starts claiming at the same moment), claims batches until none is left, and prints the claimed
batches as one JSON line: [[batch_id, [key, ...]], ...].
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "support"))

from ledger_backends import adapter

from ingestflow.domain.workflow import Workflow


def main(argv: list[str]) -> int:
    name, location, now_text, workflow_json, owner = argv
    workflow = Workflow(**json.loads(workflow_json))
    now = float(now_text)
    store = adapter(name).open(location)
    try:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        claimed: list[tuple[str, list[str]]] = []
        while (batch := store.claim(workflow, now, owner)) is not None:
            claimed.append((batch.batch_id, [f.key for f in batch.files]))
            # A real worker processes its batch before claiming again; without this pause one
            # process can win every lock hand-over and the others never get to race.
            time.sleep(0.002)
    finally:
        store.close()
    print(json.dumps(claimed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
