"""A real headless Chromium for the tests of the web console and the web chat page.

The browser is Debian's ``chromium`` package (``scripts/test`` installs it), driven by Playwright's
async API so a test can drive the page and a protocol test client on the same event loop. A missing
browser skips the tests on a developer's machine and fails them under ``CI=true``, like the engines of
``tests/engines.py``. Screenshots go to ``test-output/screenshots`` (``POLYIM_TEST_OUTPUT`` moves it);
``docs/`` shows some of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.engines import missing

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

_CANDIDATES = ("chromium", "chromium-browser")


def chromium_path() -> str | None:
    for name in _CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot_dir() -> Path:
    root = Path(os.environ.get("POLYIM_TEST_OUTPUT", "test-output"))
    path = root / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def screenshot(page: Page, name: str) -> Path:
    """Save what the page shows now as ``<name>.png`` under the test output, and return its path."""
    path = screenshot_dir() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        missing("chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page in its own context (own cookies), closed after the test."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield await context.new_page()
    finally:
        await context.close()
