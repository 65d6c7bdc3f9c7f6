"""The dashboard in a real browser (Debian's chromium through Playwright) after a real run:
`ingestflow run --once` over good OHLCV files and malformed ones, then `ingestflow serve`,
compared with what the CLI's JSON says about the same ledger.

One run, one server and one browser serve the whole module. Tests that change the ledger
(Retry, a later run) each use their own file and compare with the CLI at that moment, so the
tests do not depend on their order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_support import (
    PNG_MAGIC,
    SCROLL_BOX_SCRIPT,
    Watch,
    dashboard,
    file_path,
    horizontal_overflow,
    launch_chromium,
    shown_counts,
    watch,
)
from e2e_support import (
    STATUSES,
    Project,
    drop_ohlcv_files,
    wait_until,
    workflow,
    write_config,
    write_file,
)
from playwright.sync_api import Browser, Page, expect, sync_playwright

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

GOOD = [
    "ohlcv/2024/01/02/EURUSD.csv",
    "ohlcv/2024/01/03/EURUSD.csv",
    "ohlcv/2024/01/04/EURUSD.csv",
    "ohlcv/2025/03/GBPUSD.csv.gz",
]
BROKEN = "ohlcv/2024/02/broken.csv"  # looked at (and photographed), never retried
RETRIED = "ohlcv/2024/02/retry-me.csv"  # retried by the Retry test
RETRIED_SIGNED_IN = "ohlcv/2024/02/retry-signed-in.csv"  # retried through the token server
HTML_KEY = "ohlcv/<img src=x onerror=alert(1)>.csv"  # FAILED: also on the overview
MARKUP_KEY = "ohlcv/[bold]x.csv"  # Rich markup: DONE
UNROUTED = "elsewhere/notes.csv"
BAD_DATE = b"Date,Open,High,Low,Close,Volume\nnot a date,1,2,3,4,5\n"
TOKEN_ENV = "DASHBOARD_E2E_TOKEN"
TOKEN = "s3cret-dashboard-token"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = write_config(
        tmp_path_factory.mktemp("dashboard"), [workflow("ohlcv", "ohlcv/", batch_size=1)]
    )
    drop_ohlcv_files(p.landing, [*GOOD, MARKUP_KEY], seed=21)
    for key in (BROKEN, RETRIED, RETRIED_SIGNED_IN, HTML_KEY):
        write_file(p.landing / key, BAD_DATE)
    write_file(p.landing / UNROUTED, b"not for any workflow\n")
    p.run_once(expect=1)  # files FAILED: exit code 1
    return p


@pytest.fixture(scope="module")
def url(project: Project) -> Iterator[str]:
    with dashboard(project) as base:
        yield base


@pytest.fixture(scope="module")
def token_url(project: Project) -> Iterator[str]:
    """A second server on the same ledger that needs the token."""
    config = project.root / "with-token.toml"
    extra = f'\n[server]\nhost = "127.0.0.1"\ntoken_env = "{TOKEN_ENV}"\n'
    config.write_text(project.config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with dashboard(project, config, env={TOKEN_ENV: TOKEN}) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch_chromium(playwright)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    """A page in a fresh context (no cookies); the caller closes `page.context`."""
    context = browser.new_context(
        viewport={"width": viewport["width"], "height": viewport["height"]}
    )
    context.set_default_timeout(15_000)
    return context.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


@pytest.fixture
def seen(page: Page) -> Watch:
    """The watch on `page` (attached before the test loads anything)."""
    return watch(page)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("INGESTFLOW_ARTIFACTS", tmp_path)) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def failed_error(project: Project, key: str) -> str:
    (record,) = [r for r in project.files("--status", "FAILED") if r["key"] == key]
    error: str = record["error"]
    return error


def cli_counts(project: Project) -> dict[str, int]:
    data = project.json("status")
    return dict(data["counts"]) | {"unrouted": data["unrouted"]}


def retry_from_the_file_page(page: Page, base: str, key: str) -> None:
    page.goto(base + file_path(key))
    expect(page.get_by_role("heading", name=key, exact=True)).to_be_visible()
    page.get_by_role("button", name="Retry").click()
    expect(page.locator(".action-result")).to_contain_text("back in TODO")
    # the script refreshes the section after a retry: the badge follows the ledger
    expect(page.locator("#file-state .badge")).to_have_text("TODO")


# -- the tests ---------------------------------------------------------------------------------


def test_the_overview_after_a_real_run_shows_the_ledgers_counts_and_charts_that_drew_data(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    page.goto(url + "/")

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    assert shown_counts(page) == cli_counts(project)
    assert set(shown_counts(page)) == {*STATUSES, "unrouted"}
    charts = page.locator("svg.chart").all()
    assert len(charts) == 4
    for chart in charts:
        title = chart.get_attribute("aria-label")
        assert int(chart.get_attribute("data-points") or 0) > 0, title
        boxes = [d.bounding_box() for d in chart.locator(".datum").all()]
        drawn = [b for b in boxes if b is not None and b["width"] > 0 and b["height"] > 0]
        assert drawn, f"{title}: no datum with a visible size among {len(boxes)}"
    assert seen.errors == []


def test_the_files_table_filters_by_status_and_by_part_of_the_key(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    page.goto(url + "/files")
    table = page.get_by_role("table", name="Files")
    expect(table).to_be_visible()

    page.get_by_label("Status").select_option("FAILED")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"status=FAILED"))
    failed = project.files("--status", "FAILED")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(len(failed))
    expect(table.locator("tbody .badge")).to_have_text(["FAILED"] * len(failed))
    links = table.locator("tbody td.key a").all_inner_texts()
    assert sorted(links) == sorted(r["key"] for r in failed)

    page.get_by_label("Status").select_option("")
    page.get_by_label("Key contains").fill("EURUSD")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"q=EURUSD"))
    wanted = sorted(r["key"] for r in project.files() if "EURUSD" in r["key"])
    assert len(wanted) == 3
    expect(table.locator("tbody tr")).to_have_count(len(wanted))
    assert sorted(table.locator("tbody td.key a").all_inner_texts()) == wanted
    assert seen.errors == []


def test_a_failed_files_page_shows_its_reason_its_history_and_a_retry_button(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    page.goto(url + "/files?status=FAILED")
    page.get_by_role("table", name="Files").get_by_role("link", name=BROKEN, exact=True).click()

    expect(page.get_by_role("heading", name=BROKEN, exact=True)).to_be_visible()
    expect(page.locator("table.record pre")).to_have_text(failed_error(project, BROKEN))
    history = project.history(BROKEN)
    assert [(t["from"], t["to"], t["reason"]) for t in history] == [
        (None, "TODO", "registered"),
        ("TODO", "PROCESSING", "claimed"),
        ("PROCESSING", "FAILED", "failed"),
    ]
    steps = page.get_by_role("list", name="Transitions").get_by_role("listitem")
    expect(steps).to_have_count(len(history))
    expect(steps.locator(".move")).to_have_text(
        [f"{t['from'] or '·'} → {t['to']}" for t in history]
    )
    expect(steps.locator("span.reason")).to_have_text([t["reason"] for t in history])
    expect(steps.last.locator("pre.reason")).to_have_text(history[-1]["error"])
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert seen.errors == []


def test_retry_on_a_failed_files_page_puts_it_back_in_todo(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    assert project.by_key()[RETRIED]["status"] == "FAILED"

    retry_from_the_file_page(page, url, RETRIED)

    assert project.by_key()[RETRIED]["status"] == "TODO"  # no run is running
    last = project.history(RETRIED)[-1]
    assert (last["from"], last["to"]) == ("FAILED", "TODO")
    assert seen.errors == []


def test_screenshots_of_the_overview_and_a_failed_file_are_saved(
    url: str, browser: Browser, page: Page, artifacts: Path
) -> None:
    shots = {
        "overview.png": (page, "/"),
        "failed-file.png": (page, file_path(BROKEN)),
    }
    phone = new_page(browser, PHONE)
    shots["overview-phone.png"] = (phone, "/")
    try:
        for name, (where, path) in shots.items():
            where.goto(url + path)
            where.screenshot(path=str(artifacts / name), full_page=True)
    finally:
        phone.context.close()

    for name in shots:
        data = (artifacts / name).read_bytes()
        assert len(data) > len(PNG_MAGIC) and data.startswith(PNG_MAGIC), name


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1366px"])
def test_the_pages_fit_the_window_and_the_files_table_scrolls_inside_its_box(
    url: str, browser: Browser, viewport: dict[str, int]
) -> None:
    page = new_page(browser, viewport)
    seen = watch(page)
    try:
        page.goto(url + "/")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        assert horizontal_overflow(page) == 0

        page.goto(url + "/files")
        assert horizontal_overflow(page) == 0
        box = page.get_by_role("table", name="Files").evaluate(SCROLL_BOX_SCRIPT)
        assert box is not None, "the Files table is not inside a horizontally scrollable box"
        assert box["width"] <= box["window"] + 1
        assert seen.errors == []
    finally:
        page.context.close()


def test_the_overview_refreshes_its_counts_in_place_without_reloading(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    page.goto(url + "/")
    before = shown_counts(page)
    page.evaluate("window.__marker = 1")

    drop_ohlcv_files(project.landing, ["ohlcv/2024/03/refreshed.csv"], seed=5)
    project.run_once(expect=None)  # a file retried by another test may fail again
    after = cli_counts(project)
    assert after["DONE"] == before["DONE"] + 1

    def refreshed() -> bool:
        page.evaluate("window.ingestflowRefresh()")  # returns a Promise: awaited
        return shown_counts(page) == after

    wait_until(refreshed, 15, lambda: f"shown {shown_counts(page)}, ledger {after}")
    assert page.evaluate("window.__marker") == 1
    assert seen.errors == []


def test_a_token_server_asks_for_the_token_then_shows_the_overview_and_retries(
    project: Project, token_url: str, page: Page
) -> None:
    response = page.goto(token_url + "/")

    assert response is not None and response.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    assert shown_counts(page) == cli_counts(project)
    retry_from_the_file_page(page, token_url, RETRIED_SIGNED_IN)
    assert project.by_key()[RETRIED_SIGNED_IN]["status"] == "TODO"


def test_a_wrong_token_shows_the_error_and_stays_signed_out(
    project: Project, token_url: str, page: Page
) -> None:
    page.goto(token_url + "/files")
    page.get_by_label("Token").fill("not-the-token")
    with page.expect_response(lambda r: r.url.endswith("/login")) as answer:
        page.get_by_role("button", name="Sign in").click()

    assert answer.value.status == 401
    expect(page.get_by_role("alert")).to_have_text("That token is not this server's token.")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    response = page.goto(token_url + "/")
    assert response is not None and response.status == 401
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert page.context.cookies() == []


def test_keys_holding_html_and_markup_show_literally_on_every_page(
    project: Project, url: str, page: Page, seen: Watch
) -> None:
    statuses = project.by_key()
    assert statuses[HTML_KEY]["status"] == "FAILED" and statuses[MARKUP_KEY]["status"] == "DONE"

    page.goto(url + "/")
    failures = page.locator("#failures")
    expect(failures.get_by_role("link", name=HTML_KEY, exact=True)).to_be_visible()

    page.goto(url + "/files")
    table = page.get_by_role("table", name="Files")
    for key in (HTML_KEY, MARKUP_KEY):
        expect(table.get_by_role("link", name=key, exact=True)).to_be_visible()
    assert page.locator("img").count() == 0

    for key in (HTML_KEY, MARKUP_KEY):
        page.goto(url + "/files")
        page.get_by_role("table", name="Files").get_by_role("link", name=key, exact=True).click()
        expect(page.get_by_role("heading", name=key, exact=True)).to_be_visible()
        expect(page.locator("table.record td.key").first).to_have_text(key)
        assert page.locator("img").count() == 0
    expect(page.get_by_role("button", name="Retry")).to_have_count(0)  # MARKUP_KEY is DONE
    page.goto(url + file_path(HTML_KEY))
    expect(page.get_by_role("button", name="Retry")).to_have_attribute("data-retry-key", HTML_KEY)
    assert page.locator("img").count() == 0
    assert seen.dialogs == []
    assert seen.errors == []
