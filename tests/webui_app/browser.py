"""Headless Chromium driven by Playwright, for the browser tier (tests/webui_app/test_browser.py).

The browser is Debian's `chromium` package (`apt-get install -y chromium`; `.ci/run` installs it), never a
browser Playwright downloads: Playwright only drives it (`executable_path`). Pages are waited on by their
elements, never by network idleness (Open WebUI keeps a websocket open, so the network is never idle).
Every step's screenshot is written to `test-artifacts/browser-screenshots/<test>/NN-<step>.png`.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = ROOT / "test-artifacts" / "browser-screenshots"
# Root in CI: Chromium's own sandbox needs user namespaces it may not get there; /dev/shm may be small.
LAUNCH_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]
TIMEOUT_MS = 60_000  # a first page load compiles nothing, but two cores are shared with the app


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium from the system package."""
    if not CHROMIUM.exists():
        raise RuntimeError(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (see .ci/run)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Steps:
    """Numbered screenshots of one test's steps."""

    page: Page
    folder: Path
    taken: list[Path] = field(default_factory=list)

    @classmethod
    def for_test(cls, page: Page, test_name: str) -> Steps:
        folder = SCREENSHOTS / re.sub(r"[^\w.-]+", "_", test_name)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        page.set_default_timeout(TIMEOUT_MS)
        return cls(page, folder)

    def shot(self, step: str) -> Path:
        slug = re.sub(r"[^\w.-]+", "-", step)
        path = self.folder / f"{len(self.taken) + 1:02d}-{slug}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path
