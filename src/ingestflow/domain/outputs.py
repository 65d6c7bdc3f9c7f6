"""The output path rule: where the output of a landing key goes, for every legal key.

`<workflow>/<key>.parquet` for ordinary keys (folders kept, `.parquet` appended to the file name),
with two escapes that keep the mapping collision-free and within file-system limits:

- a folder segment that ends in `.parquet` (optionally followed by `.d` suffixes) gets one more
  `.d`, so a folder can never be mistaken for another key's output file (`a.csv` ->
  `a.csv.parquet`, while `a.csv.parquet/b.csv` -> `a.csv.parquet.d/b.csv.parquet`);
- a segment longer than the file system's name limit (255 bytes), or one that already looks like
  a shortened name, is cut and suffixed with `~` and 20 hex digits of its SHA-256, so long keys
  still map to a legal path and distinct names stay distinct.

A key whose whole output path would exceed `max_path_bytes` cannot be mapped:
`OutputPathError` says so and the key is refused up front (never retried).
"""

from __future__ import annotations

import hashlib
import re

from ingestflow.domain.errors import InvalidKeyError
from ingestflow.domain.keys import validate_key

SUFFIX = ".parquet"
NAME_MAX = 255
PATH_MAX = 4096
_FOLDER_ESCAPE = re.compile(r"\.parquet(\.d)*$")
_SHORTENED = re.compile(r"~[0-9a-f]{20}(\.parquet)?$")
_HASH_CHARS = 20


class OutputPathError(InvalidKeyError):
    """The key's output path cannot be derived within the file system's limits."""


def _cut(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` whose UTF-8 form fits in `max_bytes` (whole characters)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def _shorten(name: str, suffix: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:_HASH_CHARS]
    tail = f"~{digest}{suffix}"
    return _cut(name, NAME_MAX - len(tail.encode("utf-8"))) + tail


def output_segment(name: str, *, is_file: bool) -> str:
    """The output name of one key segment (the file name when `is_file`, else a folder)."""
    suffix = SUFFIX if is_file else ""
    if not is_file and _FOLDER_ESCAPE.search(name):
        name += ".d"
    mapped = name + suffix
    if len(mapped.encode("utf-8")) > NAME_MAX or _SHORTENED.search(name):
        return _shorten(name, suffix)
    return mapped


def output_relpath(workflow: str, key: str, max_path_bytes: int = PATH_MAX) -> str:
    """`<workflow>/<mapped key>` ('/'-separated). Raises InvalidKeyError for a key that breaks
    the key rules (so no segment can climb out of the workflow folder), and OutputPathError
    when the result is longer than `max_path_bytes`: pass the room left after the output root,
    its '/' separator and the terminating NUL that PATH_MAX counts."""
    parts = validate_key(key).split("/")
    mapped = [output_segment(p, is_file=False) for p in parts[:-1]]
    mapped.append(output_segment(parts[-1], is_file=True))
    rel = "/".join([workflow, *mapped])
    size = len(rel.encode("utf-8"))
    if size > max_path_bytes:
        raise OutputPathError(
            f"output path would be {size} bytes, over the limit of {max_path_bytes}: "
            "shorten the key or move the output folder higher up"
        )
    return rel
