"""Fixtures shared by the unit tests."""

import os
import shutil

import pytest
import torch

BROWSER_INSTALL = "apt-get install -y chromium (Debian's package) and pip install playwright"


def missing_tool(reason: str):
    """Fail in CI (``CI`` set, as .ci/run does), skip with the reason on a student's machine."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; install with: {BROWSER_INSTALL}, or npm from your system's packages")
    pytest.skip(f"{reason} (install with: {BROWSER_INSTALL})")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium: Debian's ``chromium`` by ``executable_path``, driven by Playwright for Python
    (a browser downloaded by Playwright itself cannot work on these machines and is never used)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        missing_tool("the browser tests need Chromium: no `chromium` on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("the browser tests need the Python package playwright")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"])  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _seed():
    # Tests that draw from torch's global generator get the same numbers whatever ran before them.
    torch.manual_seed(0)
