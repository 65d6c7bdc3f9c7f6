"""Completeness markers: a file such as `_SUCCESS` that tells a folder's files are all there.

A workflow with `ready_marker` holds a folder's files until a file of that name lands in the
same folder; the marker itself is never processed and never listed as unrouted.
"""

from __future__ import annotations

from collections.abc import Sequence

from ingestflow.domain import keys
from ingestflow.domain.workflow import Workflow


def marker_workflow(key: str, workflows: Sequence[Workflow]) -> Workflow | None:
    """The workflow for which `key` is a completeness marker (the longest matching prefix among
    workflows whose `ready_marker` is the key's file name), or None when it is not one."""
    name = keys.basename(key)
    candidates = [w for w in workflows if w.ready_marker == name and key.startswith(w.prefix)]
    return max(candidates, key=lambda w: len(w.prefix), default=None)
