"""Alert digests rendered as text, HTML, Slack blocks and JSON bodies: the table, the caps, and
data (keys, errors, summaries) escaped for each medium."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from ingestflow.adapters.notify.render import (
    SLACK_BLOCKS,
    SLACK_ROWS,
    SLACK_SECTION,
    SLACK_TOTAL,
    SUBJECT_MAX,
    html_report,
    json_bodies,
    json_body,
    slack_payload,
    subject,
    text_report,
)
from ingestflow.domain.alerts import (
    CLOSED,
    FAILED,
    MAX_ITEMS,
    OPENED,
    REMINDER,
    STALE,
    AlertItem,
    AlertMessage,
    Digest,
)

NOW = dt.datetime(2024, 5, 1, 7, 0, tzinfo=dt.UTC).timestamp()
NASTY_KEY = "ohlcv/<b>x</b>&.csv"
NASTY_ERROR = "bad row \x1b[31mred\x1b[0m"
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but newline


def item(key: str = "ohlcv/2024/a.csv", reason: str = "TODO for 6h", workflow: str = "ohlcv"):
    return AlertItem(workflow, "ohlcv/", "landing", key, "TODO", NOW - 6 * 3600, reason)


def message(
    items: tuple[AlertItem, ...] = (),
    event: str = OPENED,
    rule: str = STALE,
    workflow: str = "ohlcv",
    summary: str = "2 files in TODO longer than 5h",
    count: int | None = None,
) -> AlertMessage:
    n = len(items) if count is None else count
    return AlertMessage(event, rule, workflow, "", summary, NOW - 600, items, n)


def digest(*messages: AlertMessage, env: str = "prod") -> Digest:
    return Digest("ingestflow alerts", messages, NOW, env)


def nasty() -> Digest:
    failed = message((item(NASTY_KEY, NASTY_ERROR),), rule=FAILED, summary="1 file failed")
    return digest(message((item(), item("ohlcv/2024/b.csv"))), failed)


def test_the_text_report_heads_each_alert_and_tables_its_files() -> None:
    text = text_report(nasty())
    assert "FIRING · stale · ohlcv: 2 files in TODO longer than 5h" in text
    assert "(since 2024-05-01T06:50:00Z)" in text
    header = next(line for line in text.splitlines() if "WORKFLOW" in line)
    assert header.split() == ["WORKFLOW", "PREFIX", "BUCKET", "KEY", "SINCE", "REASON"]
    row = next(line for line in text.splitlines() if "ohlcv/2024/b.csv" in line)
    assert row.split()[:5] == [
        "ohlcv",
        "ohlcv/",
        "landing",
        "ohlcv/2024/b.csv",
        "2024-05-01T01:00:00Z",
    ]
    assert row.index("ohlcv/2024/b.csv") == header.index("KEY")  # fixed width: aligned


def test_the_text_report_names_reminders_and_resolved_alerts() -> None:
    text = text_report(digest(message(event=REMINDER), message(event=CLOSED, rule=FAILED)))
    assert "REMINDER · stale · ohlcv" in text
    assert "RESOLVED · failed · ohlcv" in text
    assert "WORKFLOW" not in text  # no files, no table


def test_control_characters_in_values_are_shown_as_escapes_never_raw() -> None:
    broken = item("a\r\nb.csv", "line1\nline2\x07\u202eevil")
    text = text_report(digest(message((broken,), summary="s\x1b]0;title\x07")))
    assert not RAW_CONTROL.search(text)
    assert "\u202e" not in text
    assert "a\\x0d\\x0ab.csv" in text and "line1\\x0aline2\\x07\\u202eevil" in text
    assert "\\x1b[31mred" in text_report(nasty())
    assert "\\udcff.csv" in text_report(digest(message((item("\udcff.csv"),))))  # a raw name


def test_rows_stop_at_max_items_with_a_count_of_the_rest() -> None:
    many = tuple(item(f"k/{i:04d}.csv") for i in range(MAX_ITEMS + 10))
    text = text_report(digest(message(many, count=500)))
    assert "k/0049.csv" in text and "k/0050.csv" not in text
    assert f"+{500 - MAX_ITEMS} more" in text
    assert f"+{500 - MAX_ITEMS} more" in html_report(digest(message(many, count=500)))


def test_an_empty_digest_says_all_is_well() -> None:
    empty = digest()
    assert "Nothing is stale, stuck, failed or missing." in text_report(empty)
    assert subject(empty) == "[ingestflow prod] all is well"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        if self.tags and self.tags[-1] in ("td", "th"):
            self.cells.append(data)


def test_the_html_report_escapes_every_value_and_loads_nothing_external() -> None:
    page = html_report(nasty())
    assert "&lt;b&gt;x&lt;/b&gt;&amp;.csv" in page
    assert "<b>" not in page and "\x1b" not in page
    parsed = _Collect()
    parsed.feed(page)
    assert NASTY_KEY in parsed.cells  # what a mail client shows: the key, literally
    assert "bad row \\x1b[31mred\\x1b[0m" in parsed.cells
    assert {"WORKFLOW", "PREFIX", "BUCKET", "KEY", "SINCE", "REASON"} <= set(parsed.cells)
    assert not {"script", "link", "img", "style", "iframe"} & set(parsed.tags)
    assert {name for name, _ in parsed.attrs} <= {"style", "charset"}


def test_html_cannot_be_broken_out_of_by_a_summary_or_a_workflow() -> None:
    evil = message(workflow='w"><script>alert(1)</script>', summary="</h2><img src=x>")
    page = html_report(digest(evil))
    parsed = _Collect()
    parsed.feed(page)
    assert "script" not in parsed.tags and "img" not in parsed.tags


def _texts(payload: dict) -> list[str]:
    out = []
    for block in payload["blocks"]:
        if block["type"] == "section":
            out.append(block["text"]["text"])
        else:
            out += [e["text"] for e in block["elements"]]
    return out


def test_the_slack_payload_has_a_fallback_text_and_escaped_mrkdwn_blocks() -> None:
    payload = slack_payload(nasty())
    assert set(payload) == {"text", "blocks"}
    assert payload["text"] == subject(nasty())
    assert all(b["type"] in ("section", "context") for b in payload["blocks"])
    joined = "\n".join(_texts(payload))
    assert "ohlcv/&lt;b&gt;x&lt;/b&gt;&amp;.csv" in joined
    assert "\\x1b[31mred" in joined and "\x1b" not in joined
    assert "*FIRING*" in joined


def test_slack_mentions_in_data_cannot_ping_anyone() -> None:
    sneaky = item("<!channel> <!here|here> <@U123> @here", "<https://evil.example|click> @channel")
    payload = slack_payload(digest(message((sneaky,), summary="<!everyone>", workflow="@here")))
    serialized = json.dumps(payload, ensure_ascii=False)
    assert "<!" not in serialized and "<@" not in serialized and "<http" not in serialized
    assert not re.search(r"@(channel|here|everyone)\b", serialized)


def test_slack_rows_are_capped_with_a_count_of_the_rest() -> None:
    many = tuple(item(f"k/{i:04d}.csv") for i in range(500))
    payload = slack_payload(digest(message(many)))
    joined = "\n".join(_texts(payload))
    assert joined.count("• k/") == SLACK_ROWS
    assert f"+{500 - SLACK_ROWS} more" in joined


def test_a_huge_digest_stays_within_slack_limits_and_counts_what_it_left_out() -> None:
    long_key = "k/" + "&<>" * 400
    many = tuple(item(f"{long_key}{i}", "E&" * 300) for i in range(MAX_ITEMS))
    alerts = [message(many, workflow=f"w{n}", summary="&" * 2000, count=500) for n in range(100)]
    payload = slack_payload(digest(*alerts))
    texts = _texts(payload)
    assert len(payload["blocks"]) <= SLACK_BLOCKS
    assert all(len(t) <= SLACK_SECTION for t in texts)
    assert sum(len(t) for t in texts) <= SLACK_TOTAL + 200
    assert re.search(r"\+\d+ more alerts not shown", texts[-1])
    assert not re.search(r"&(?!amp;|lt;|gt;)", "".join(texts))  # no entity cut in half


def test_the_json_body_follows_the_contract_exactly() -> None:
    first, resolved = json_bodies(
        digest(message((item(NASTY_KEY, NASTY_ERROR),)), message(event=CLOSED))
    )
    assert set(first) == {"status", "rule", "workflow", "summary", "items", "sent_at"}
    assert (first["status"], first["rule"], first["workflow"]) == ("firing", "stale", "ohlcv")
    assert first["summary"] == "2 files in TODO longer than 5h"
    assert dt.datetime.fromisoformat(first["sent_at"]) == dt.datetime.fromtimestamp(NOW, dt.UTC)
    (row,) = first["items"]
    assert set(row) == {"workflow", "prefix", "bucket", "key", "status", "since", "reason"}
    assert row["key"] == NASTY_KEY and row["reason"] == NASTY_ERROR  # JSON stays lossless
    assert dt.datetime.fromisoformat(row["since"]).timestamp() == NOW - 6 * 3600
    assert resolved["status"] == "resolved" and resolved["items"] == []


def test_a_reminder_is_still_firing_in_the_json_body() -> None:
    assert json_body(message(event=REMINDER), NOW)["status"] == "firing"


def test_the_subject_counts_and_names_the_alerts() -> None:
    two = digest(message(), message(workflow="trades", rule=FAILED), message(event=CLOSED))
    assert subject(two) == "[ingestflow prod] 2 firing, 1 resolved: stale ohlcv, failed trades"
    report = Digest("ingestflow report", (message(),), NOW, "dev")
    assert subject(report) == "[ingestflow dev] report: 1 firing: stale ohlcv"


def test_the_subject_is_one_capped_line_even_with_newlines_in_the_data() -> None:
    evil = message(workflow="w\r\nBcc: victim@example.org", summary="x\nSubject: hi")
    line = subject(digest(*[evil] * 3, env="prod\r\nX-Evil: 1"))
    assert "\r" not in line and "\n" not in line
    assert "Bcc: victim@example.org" in line  # shown as text, on the one line
    long = subject(digest(*(message(workflow="w" * 80 + str(i)) for i in range(10))))
    assert len(long) <= SUBJECT_MAX and long.endswith("…")


_text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["\r\n", "\x1b[2J", "\u202e", "\x85", "\u2028", "<!channel>"]
)


@given(key=_text, reason=_text, summary=_text, workflow=_text)
def test_no_data_reaches_any_medium_raw(key: str, reason: str, summary: str, workflow: str) -> None:
    d = digest(message((item(key, reason, workflow),), workflow=workflow, summary=summary))
    assert not RAW_CONTROL.search(text_report(d))
    assert not RAW_CONTROL.search(html_report(d))
    assert not re.search("[\x00-\x1f\x7f-\x9f\u2028\u2029]", subject(d))
    assert "<" not in json.dumps(slack_payload(d), ensure_ascii=False)
