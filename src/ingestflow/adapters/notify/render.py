"""Alert digests rendered for each medium: plain text, HTML e-mail, Slack blocks, JSON bodies.

Pure functions of a `Digest`. Keys, errors, summaries and workflow names are data, escaped for
the medium here and nowhere earlier: first control characters (C0 including tab and newline,
DEL, C1, bidirectional marks, line separators, lone surrogates) become visible escapes such as
`\\x1b` (a table cell stays one line; nothing moves a terminal's cursor), then long values are
cut with "…", then the medium's own escaping (html.escape; Slack mrkdwn `& < >`) is applied,
so a cut never splits an entity. JSON bodies stay lossless (raw values; JSON escapes them).

The `json` webhook body (stable, for scripts) is one object per alert message, one POST each:

    {"status": "firing" | "resolved",        # a reminder of a firing alert is "firing"
     "rule": "stale" | "stuck" | "failed" | "missing",
     "workflow": "ohlcv", "summary": "3 files in TODO longer than 5h",
     "items": [{"workflow", "prefix", "bucket", "key", "status",
                "since": ISO 8601 UTC, "reason"}, ...],   # at most MAX_ITEMS (the domain caps)
     "sent_at": ISO 8601 UTC}                 # the evaluation time

Times are UTC: `2024-05-01T06:00:00Z` in text, HTML and Slack; `datetime.isoformat()` with
`+00:00` (as `ingestflow stale --json`) in JSON bodies.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Iterable
from typing import Any

from ingestflow.domain.alerts import CLOSED, MAX_ITEMS, REMINDER, AlertItem, AlertMessage, Digest

SUBJECT_MAX = 150
CELL_MAX = 200  # characters of a key, bucket, prefix or workflow in a row
REASON_MAX = 300  # characters of a reason (errors can be whole tracebacks)
SUMMARY_MAX = 500
SLACK_ROWS = 20  # rows per alert in Slack ("+N more" beyond)
SLACK_BLOCKS = 50  # Slack's limit per message
SLACK_SECTION = 3000  # Slack's limit per section text
SLACK_TOTAL = 12_000  # all texts: under the undocumented ~13k `msg_blocks_too_long`
SLACK_LINE = (SLACK_SECTION - 20) // 5  # raw characters of a line: `&` -> `&amp;` is 5x
COLUMNS = ("WORKFLOW", "PREFIX", "BUCKET", "KEY", "SINCE", "REASON")
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_LABELS = {REMINDER: "REMINDER", CLOSED: "RESOLVED"}
_COLOURS = {"FIRING": "#b00020", "REMINDER": "#b35c00", "RESOLVED": "#1b7f3b"}


def clean(value: object, limit: int = 0) -> str:
    """`value` on one line with control characters as visible escapes, cut to `limit`."""
    text = _CONTROL.sub(_visible, str(value))
    return text[: limit - 1] + "…" if 0 < limit < len(text) else text


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def utc(ts: float) -> str:
    """`ts` as `2024-05-01T06:00:00Z`."""
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return "?"


def iso(ts: float) -> str | None:
    if not math.isfinite(ts):
        return None
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def label(message: AlertMessage) -> str:
    """FIRING, REMINDER or RESOLVED."""
    return _LABELS.get(message.event, "FIRING")


def counts(digest: Digest) -> str:
    """E.g. "2 firing, 1 resolved"; "all is well" when the digest holds no message."""
    parts = [f"{len(digest.firing)} firing"] if digest.firing else []
    parts += [f"{len(digest.resolved)} resolved"] if digest.resolved else []
    return ", ".join(parts) or "all is well"


def subject(digest: Digest) -> str:
    """One header-safe line, e.g. "[ingestflow prod] 2 firing, 1 resolved: stale ohlcv, …"
    (a title other than the alerts' own is named: "[ingestflow prod] report: …")."""
    names = dict.fromkeys(f"{m.rule} {m.workflow}" for m in digest.messages)
    title = digest.title.removeprefix("ingestflow ").strip()
    title = f" {title}:" if title not in ("", "alerts") else ""
    line = f"[ingestflow {digest.env}]{title} {counts(digest)}"
    line += f": {', '.join(names)}" if names else ""
    line = " ".join(_CONTROL.sub(" ", line).split())  # no CR/LF: no header injection
    return line[: SUBJECT_MAX - 1] + "…" if len(line) > SUBJECT_MAX else line


def heading(message: AlertMessage) -> str:
    return (
        f"{label(message)} · {clean(message.rule)} · {clean(message.workflow, CELL_MAX)}: "
        f"{clean(message.summary, SUMMARY_MAX)} (since {utc(message.since)})"
    )


def row(item: AlertItem) -> tuple[str, ...]:
    """The cells of one table row, cleaned and cut."""
    cells = (item.workflow, item.prefix, item.bucket, item.key)
    return (
        *(clean(c, CELL_MAX) for c in cells),
        utc(item.since),
        clean(item.reason, REASON_MAX),
    )


def more(message: AlertMessage, shown: int) -> int:
    """How many files of `message` a list of `shown` rows leaves out."""
    return max(message.count, len(message.items)) - shown


def _intro(digest: Digest) -> list[str]:
    title = clean(digest.title, CELL_MAX) or "ingestflow"
    lines = [f"{title} · {clean(digest.env, CELL_MAX)}"]
    lines.append(f"{counts(digest)} · {utc(digest.sent_at)}")
    return lines + [clean(note, SUMMARY_MAX) for note in digest.notes]


def text_report(digest: Digest) -> str:
    """The digest as plain text: per alert a heading and a fixed-width table of its files."""
    out = _intro(digest)
    if not digest.messages:
        out += ["", "Nothing is stale, stuck, failed or missing."]
    for message in digest.messages:
        out += ["", heading(message)]
        rows = [row(item) for item in message.items[:MAX_ITEMS]]
        if rows:
            table = [COLUMNS, *rows]
            widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
            rule = (*("-" * w for w in widths), "-" * len(COLUMNS[-1]))
            for cells in (COLUMNS, rule, *rows):
                padded = [c.ljust(w) for c, w in zip(cells, widths, strict=False)]
                out.append(("  " + "  ".join([*padded, cells[-1]])).rstrip())
        if (hidden := more(message, len(rows))) > 0:
            out.append(f"  +{hidden} more")
    return "\n".join(out) + "\n"


def _e(value: str) -> str:
    return html.escape(value, quote=True)


_CELL = "padding:4px 8px;border:1px solid #ddd;text-align:left;vertical-align:top"
_FONT = "font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px"


def html_report(digest: Digest) -> str:
    """The digest as an HTML document: inline styles, no external resource, all escaped."""
    intro = _intro(digest)
    out = [
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">',
        f"<title>{_e(subject(digest))}</title></head>",
        f'<body style="{_FONT};color:#222">',
        f'<h1 style="font-size:18px">{_e(intro[0])}</h1>',
        *(f"<p>{_e(line)}</p>" for line in intro[1:]),
    ]
    if not digest.messages:
        out.append("<p>Nothing is stale, stuck, failed or missing.</p>")
    for message in digest.messages:
        name = label(message)
        out.append(
            f'<h2 style="font-size:16px;margin-top:24px">'
            f'<span style="color:#fff;background:{_COLOURS[name]};padding:2px 6px">{name}</span> '
            f"{_e(heading(message).partition(' · ')[2])}</h2>"
        )
        rows = [row(item) for item in message.items[:MAX_ITEMS]]
        if rows:
            out.append('<table style="border-collapse:collapse;font-size:13px">')
            out.append(_tr(COLUMNS, "th", "background:#f3f3f3;"))
            out += [_tr(cells, "td", "font-family:monospace;") for cells in rows]
            out.append("</table>")
        if (hidden := more(message, len(rows))) > 0:
            out.append(f"<p>+{hidden} more</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _tr(cells: Iterable[str], tag: str, style: str) -> str:
    inner = "".join(f'<{tag} style="{style}{_CELL}">{_e(c)}</{tag}>' for c in cells)
    return f"<tr>{inner}</tr>"


def mrkdwn(value: str) -> str:
    """`value` (already cleaned) escaped for Slack mrkdwn; bare @channel/@here cannot ping."""
    text = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@\u2060\\1", text)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _slack_alert(message: AlertMessage) -> list[str]:
    """The section texts of one alert: a heading, then its rows packed into sections."""
    title = clean(heading(message).partition(" · ")[2], SLACK_LINE)
    texts = [f"*{label(message)}* {mrkdwn(title)}"]
    lines = []
    for item in message.items[:SLACK_ROWS]:
        workflow, prefix, bucket, key, since, reason = row(item)
        other = f" · workflow {workflow}" if item.workflow != message.workflow else ""
        line = f"• {key}{other} · bucket {bucket} · prefix {prefix} · {since} · {reason}"
        lines.append(mrkdwn(clean(line, SLACK_LINE)))
    if (hidden := more(message, len(lines))) > 0:
        lines.append(f"+{hidden} more (see `ingestflow stale`)")
    chunk = ""
    for line in lines:
        if chunk and len(chunk) + 1 + len(line) > SLACK_SECTION:
            texts.append(chunk)
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    return [*texts, chunk] if chunk else texts


def slack_payload(digest: Digest) -> dict[str, Any]:
    """`{"text", "blocks"}` for a Slack incoming webhook, within Slack's limits: whole alerts
    are added while they fit in 50 blocks and SLACK_TOTAL characters; the rest is counted."""
    first = ""
    for i, line in enumerate(_intro(digest)):
        text = mrkdwn(clean(line, SLACK_LINE))
        text = f"*{text}*" if i == 0 else text
        if len(first) + len(text) + 1 > SLACK_SECTION:
            break  # more notes than a section holds
        first = f"{first}\n{text}" if first else text
    texts = [first]
    if not digest.messages:
        texts.append("Nothing is stale, stuck, failed or missing.")
    used, left_out = len(texts[0]), 0
    for message in digest.messages:
        alert = _slack_alert(message)
        size = sum(len(t) for t in alert)
        if left_out or len(texts) + len(alert) + 1 > SLACK_BLOCKS or used + size > SLACK_TOTAL:
            left_out += 1
            continue
        texts += alert
        used += size
    blocks = [_section(t) for t in texts]
    if left_out:
        note = f"+{left_out} more alerts not shown (see `ingestflow alerts`)"
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return {"text": mrkdwn(subject(digest)), "blocks": blocks}


def json_item(item: AlertItem) -> dict[str, Any]:
    return {
        "workflow": item.workflow,
        "prefix": item.prefix,
        "bucket": item.bucket,
        "key": item.key,
        "status": item.status,
        "since": iso(item.since),
        "reason": item.reason,
    }


def json_body(message: AlertMessage, sent_at: float) -> dict[str, Any]:
    """The documented `json` webhook body of one alert message (see the module docstring)."""
    return {
        "status": message.status,
        "rule": message.rule,
        "workflow": message.workflow,
        "summary": message.summary,
        "items": [json_item(item) for item in message.items],
        "sent_at": iso(sent_at),
    }


def json_bodies(digest: Digest) -> list[dict[str, Any]]:
    """One body per message of `digest`, in order (none for an empty digest)."""
    return [json_body(message, digest.sent_at) for message in digest.messages]
