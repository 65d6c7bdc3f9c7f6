"""Helpers for the dashboard's browser tests: `ingestflow serve` as a subprocess, Debian's
chromium through Playwright, and a watch on what a page logs and pops up.

The browser is never downloaded (`playwright install` is not used): CI installs Debian's
chromium at /usr/bin/chromium, and a missing one fails the tests rather than skipping them.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from e2e_support import CLI, Project, clean_env
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Error, Page, Playwright

CHROMIUM = Path("/usr/bin/chromium")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_STOP_TIMEOUT = 15  # seconds `serve` gets to stop after SIGTERM


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, headless; fails (never skips) when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard's browser tests need Debian's chromium "
            "(apt-get install chromium); `playwright install` is not used",
            pytrace=False,
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])


@contextlib.contextmanager
def dashboard(
    project: Project, config: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[str]:
    """`ingestflow serve --port 0` on `config` (the project's by default); yields the base URL
    read from its first line (`serving on http://HOST:PORT`); always stopped and reaped."""
    config = config or project.config
    log = project.root / f"serve-{config.stem}.stderr"
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", "0", "--config", str(config)],
            cwd=project.root,
            env=clean_env(env),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            prefix = "serving on "
            if not line.startswith(prefix):
                proc.kill()
                proc.wait(_STOP_TIMEOUT)
                raise AssertionError(
                    f"serve printed {line!r} first, exit code {proc.returncode}\n"
                    f"stderr:\n{log.read_text(errors='replace')}"
                )
            yield line[len(prefix) :].strip()
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(_STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
            proc.wait(_STOP_TIMEOUT)
            if proc.stdout is not None:
                proc.stdout.close()


def file_path(key: str) -> str:
    """The path of a key's page (percent-encoded, `/` kept)."""
    return "/files/" + quote(key, safe="/")


@dataclass
class Watch:
    """What a page reported: console errors, uncaught script errors, dialogs (dismissed)."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} at {message.location}")

    def on_page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error}")

    def on_dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


def watch(page: Page) -> Watch:
    seen = Watch()
    page.on("console", seen.on_console)
    page.on("pageerror", seen.on_page_error)
    page.on("dialog", seen.on_dialog)
    return seen


def shown_counts(page: Page) -> dict[str, int]:
    """The overview's status cards: name -> the number shown (its `data-value` must agree)."""
    found = {}
    for card in page.locator("[data-count]").all():
        name = card.get_attribute("data-count")
        assert name is not None
        shown = int(card.inner_text().strip().replace(",", ""))
        assert card.get_attribute("data-value") == str(shown), name
        found[name] = shown
    return found


def horizontal_overflow(page: Page) -> int:
    """Pixels the page is wider than the window (0 when it fits; 1 px of rounding allowed)."""
    width: int = page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - window.innerWidth - 1)"
    )
    return width


SCROLL_BOX_SCRIPT = """table => {
  for (let el = table.parentElement; el && el !== document.body; el = el.parentElement) {
    const overflow = getComputedStyle(el).overflowX;
    if (overflow === "auto" || overflow === "scroll") {
      return {overflow, width: el.getBoundingClientRect().width, window: window.innerWidth};
    }
  }
  return null;
}"""
