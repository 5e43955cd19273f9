"""Headless Chromium for the page tests: Debian's chromium, its flags, a tab that keeps the page's errors.

The `browser` and `tab` fixtures are in tests/integration/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.async_api import Page

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip


SECOND = 1000  # playwright's timeouts are in ms


@dataclass
class Tab:
    page: Page
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors on the page
