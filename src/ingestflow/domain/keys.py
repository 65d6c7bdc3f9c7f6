"""Key rules: keys are relative to the landing root and '/'-separated."""

from __future__ import annotations

import fnmatch
import re

from ingestflow.domain.errors import InvalidKeyError

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")


# Anything validate_key may refuse: one search clears the usual key (register checks every
# key of a listing); only a key it matches goes through the checks that name the problem.
_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\\]|^/|^.:|(?:^|/)\.{0,2}(?:/|$)", re.DOTALL)


def validate_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise InvalidKeyError."""
    if key and _SUSPECT.search(key) is None:
        return key
    if not key:
        raise InvalidKeyError("empty key")
    if _CONTROL.search(key):
        raise InvalidKeyError(f"key contains control characters: {key!r}")
    if key.startswith("/") or "\\" in key or (len(key) > 1 and key[1] == ":"):
        raise InvalidKeyError(f"key must be relative and '/'-separated: {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise InvalidKeyError(f"key has an empty, '.' or '..' segment: {key!r}")
    return key


def parent_prefix(key: str) -> str:
    """The folder holding the file, with a trailing '/' ('' at the root)."""
    head, sep, _ = key.rpartition("/")
    return f"{head}/" if sep else ""


def folder(key: str) -> str:
    """The first path segment ('' for a file at the root)."""
    return key.split("/", 1)[0] if "/" in key else ""


def basename(key: str) -> str:
    return key.rsplit("/", 1)[-1]


def file_type(key: str) -> str:
    """Extension, compression-aware: 'csv', 'csv.gz', '' when there is none."""
    name = basename(key).lower()
    if name.startswith("."):
        name = name[1:]
    parts = name.split(".")
    if len(parts) < 2:
        return ""
    if parts[-1] in ("gz", "bz2", "zst", "xz") and len(parts) >= 3:
        return f"{parts[-2]}.{parts[-1]}"
    return parts[-1]


def is_temporary(key: str) -> bool:
    """Names that writers use while a file is incomplete, and hidden files."""
    name = basename(key)
    if any(seg.startswith(".") for seg in key.split("/")):
        return True
    return name.lower().endswith(TEMPORARY_SUFFIXES) or name.startswith("~$")


def matches_any(key: str, patterns: tuple[str, ...]) -> bool:
    """Glob match on the base name (case-sensitive, like S3 keys)."""
    name = basename(key)
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)
