"""Process identity on this machine: who owns a batch or a temporary folder, and is it alive."""

from __future__ import annotations

import os
import socket


def owner_id() -> str:
    """This process as an owner: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead_local_owner(owner: str) -> bool:
    """True only when `owner` is a process on this machine that no longer exists. Owners on
    other machines are never declared dead here (only their leases can tell)."""
    host, _, pid_text = owner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
