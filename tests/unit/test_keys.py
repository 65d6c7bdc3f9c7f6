"""Key rules: safe relative '/'-separated keys, key parts, temporary names, include globs."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingestflow.domain import keys
from ingestflow.domain.errors import InvalidKeyError

# Characters that are safe anywhere in a segment: letters and digits of any script, and a few
# punctuation marks. No '/', no '\\', no ':' (a drive-letter look-alike), no control characters.
SAFE_CHAR = st.characters(categories=("L", "N")) | st.sampled_from("_-. ()+=@,'")
SEGMENT = st.text(SAFE_CHAR, min_size=1, max_size=10).filter(lambda s: s not in (".", ".."))
SAFE_KEY = st.lists(SEGMENT, min_size=1, max_size=6).map("/".join)
ASCII_CONTROL = st.sampled_from([chr(c) for c in (*range(32), 127)])


def _insert(key: str, position: int, text: str) -> str:
    at = position % (len(key) + 1)
    return key[:at] + text + key[at:]


# --- validate_key ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "a.csv",
        "ohlcv/2024/eurusd.csv",
        "ohlcv/2024/eurusd.csv.gz",
        "a b/c d.csv",
        "a/.../b.csv",  # '...' is a name, not a relative segment
        "a/..b/c..csv",
        "données/日本/ü.csv",
        "x/y.z/w",
    ],
)
def test_safe_relative_keys_are_accepted_unchanged(key: str) -> None:
    assert keys.validate_key(key) == key


@given(SAFE_KEY)
def test_any_key_made_of_safe_segments_is_accepted(key: str) -> None:
    assert keys.validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["/abs/a.csv", "/a.csv", "//a.csv", "/"],
)
def test_absolute_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError, match="relative"):
        keys.validate_key(key)


@pytest.mark.parametrize("key", ["C:/data/a.csv", "C:x.csv", "d:\\a.csv"])
def test_windows_drive_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "a/../b.csv",
        "../a.csv",
        "a/..",
        "..",
        "./a.csv",
        "a/./b.csv",
        "a/.",
        ".",
        "a//b.csv",
        "a/",
        "a/b/",
    ],
)
def test_keys_with_dot_dotdot_or_empty_segments_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError, match="segment"):
        keys.validate_key(key)


def test_the_empty_key_is_rejected() -> None:
    with pytest.raises(InvalidKeyError, match="empty key"):
        keys.validate_key("")


@pytest.mark.parametrize("key", ["a\\b.csv", "ohlcv\\2024\\a.csv", "a/b\\..\\c.csv", "\\a.csv"])
def test_keys_with_backslashes_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError, match="'/'-separated"):
        keys.validate_key(key)


@pytest.mark.parametrize(
    "key",
    ["a/b\n.csv", "a\x00.csv", "a\tb.csv", "a\rb.csv", "\x1b[31ma.csv", "a\x7f.csv", "a.csv\x1f"],
    ids=repr,
)
def test_keys_with_ascii_control_characters_are_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError, match="control characters"):
        keys.validate_key(key)


@pytest.mark.parametrize("char", ["\x85", "\x9b"], ids=repr)
def test_keys_with_c1_control_characters_are_rejected(char: str) -> None:
    # U+0080..U+009F are control characters too (Unicode category Cc): U+0085 is NEL, a line
    # break for str.splitlines(); U+009B is the 8-bit CSI that starts terminal escape sequences.
    with pytest.raises(InvalidKeyError, match="control characters"):
        keys.validate_key(f"ohlcv/a{char}b.csv")


@given(SAFE_KEY, st.integers(min_value=0), ASCII_CONTROL)
def test_any_key_containing_a_control_character_is_rejected(
    key: str, position: int, control: str
) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key(_insert(key, position, control))


@given(
    st.lists(SEGMENT, min_size=0, max_size=5),
    st.integers(min_value=0),
    st.sampled_from(["..", ".", ""]),
)
def test_any_key_with_a_dot_dotdot_or_empty_segment_is_rejected(
    segments: list[str], position: int, bad: str
) -> None:
    segments.insert(position % (len(segments) + 1), bad)
    with pytest.raises(InvalidKeyError):
        keys.validate_key("/".join(segments))


@given(SAFE_KEY)
def test_any_safe_key_made_absolute_is_rejected(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key("/" + key)


@given(SAFE_KEY, st.integers(min_value=0))
def test_any_key_containing_a_backslash_is_rejected(key: str, position: int) -> None:
    with pytest.raises(InvalidKeyError):
        keys.validate_key(_insert(key, position, "\\"))


# --- key parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "prefix"),
    [
        ("ohlcv/2024/eurusd.csv", "ohlcv/2024/"),
        ("ohlcv/eurusd.csv", "ohlcv/"),
        ("eurusd.csv", ""),
        ("a/b/c/d/e.csv", "a/b/c/d/"),
    ],
)
def test_parent_prefix_is_the_folder_with_a_trailing_slash(key: str, prefix: str) -> None:
    assert keys.parent_prefix(key) == prefix


@pytest.mark.parametrize(
    ("key", "first"),
    [
        ("ohlcv/2024/eurusd.csv", "ohlcv"),
        ("ohlcv/eurusd.csv", "ohlcv"),
        ("eurusd.csv", ""),
    ],
)
def test_folder_is_the_first_segment_or_empty_at_the_root(key: str, first: str) -> None:
    assert keys.folder(key) == first


@given(SAFE_KEY)
def test_parent_prefix_and_basename_rebuild_the_key(key: str) -> None:
    assert keys.parent_prefix(key) + keys.basename(key) == key
    assert "/" not in keys.basename(key)
    segments = key.split("/")
    assert keys.folder(key) == (segments[0] if len(segments) > 1 else "")


@pytest.mark.parametrize(
    ("key", "file_type"),
    [
        ("a.csv", "csv"),
        ("ohlcv/2024/eurusd.csv", "csv"),
        ("ohlcv/2024/eurusd.csv.gz", "csv.gz"),
        ("EURUSD.CSV.GZ", "csv.gz"),
        ("a.CSV", "csv"),
        ("a.json.zst", "json.zst"),
        ("a.csv.bz2", "csv.bz2"),
        ("a.tar.xz", "tar.xz"),
        ("archive.gz", "gz"),  # nothing before the compression suffix
        ("eur.usd.2024.csv", "csv"),
        ("README", ""),
        ("a.b/README", ""),  # a dot in a folder is not an extension
        (".env", ""),
        ("x/.hidden.csv", "csv"),
    ],
)
def test_file_type_is_the_lower_case_extension_and_knows_compression(
    key: str, file_type: str
) -> None:
    assert keys.file_type(key) == file_type


# --- temporary and hidden names -------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "ohlcv/a.csv.tmp",
        "ohlcv/a.TMP",
        "ohlcv/a.csv.part",
        "ohlcv/a.csv.partial",
        "ohlcv/a.csv.crdownload",
        "ohlcv/a.csv~",
        "ohlcv/~$a.csv",
        ".hidden",
        "ohlcv/.a.csv",
        "ohlcv/.staging/a.csv",
        ".git/objects/a.csv",
        "ohlcv/2024/.cache/deep/a.csv",
    ],
)
def test_temporary_and_hidden_names_are_recognised(key: str) -> None:
    assert keys.is_temporary(key) is True


@pytest.mark.parametrize(
    "key",
    [
        "ohlcv/a.csv",
        "ohlcv/2024/a.csv.gz",
        "ohlcv/a.tmp.csv",
        "ohlcv/part.csv",
        "ohlcv/tmp/a.csv",
        "ohlcv/a~b.csv",
        "ohlcv/a.b/c.csv",
        "ohlcv/a..csv",
    ],
)
def test_ordinary_names_are_not_temporary(key: str) -> None:
    assert keys.is_temporary(key) is False


# --- include patterns -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "patterns", "matches"),
    [
        ("ohlcv/2024/a.csv", ("*.csv",), True),
        ("ohlcv/2024/a.csv.gz", ("*.csv", "*.csv.gz"), True),
        ("ohlcv/a.CSV", ("*.csv",), False),  # case-sensitive, like S3 keys
        ("csv/a.txt", ("csv*",), False),  # the folder is not part of the name
        ("2024/a.csv", ("2024/*",), False),
        ("ohlcv/eurusd_2024.csv", ("eurusd_*.csv",), True),
        ("ohlcv/a.csv", (), False),
    ],
)
def test_include_patterns_match_the_base_name_only(
    key: str, patterns: tuple[str, ...], matches: bool
) -> None:
    assert keys.matches_any(key, patterns) is matches


def _refused_by_the_rules(key: str) -> bool:
    """The key rules spelled out one by one (what validate_key documents)."""
    return (
        not key
        or any(unicodedata.category(c) == "Cc" for c in key)
        or key.startswith("/")
        or "\\" in key
        or (len(key) > 1 and key[1] == ":")
        or any(part in ("", ".", "..") for part in key.split("/"))
    )


@given(st.text(alphabet="ab./\\: \n\x85\x7f\x00é", max_size=8))
def test_validate_key_refuses_exactly_the_keys_the_rules_refuse(key: str) -> None:
    try:
        keys.validate_key(key)
        refused = False
    except InvalidKeyError:
        refused = True

    assert refused is _refused_by_the_rules(key)
