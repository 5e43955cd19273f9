"""Fixtures shared by the integration tests (the session-wide ones are in tests/conftest.py)."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import Browser, async_playwright

from hotline.asterisk.instance import Instance
from hotline.db.store import Store
from hotline.settings import Settings
from tests.helpers.browser import CHROMIUM_ARGS, SECOND, Tab
from tests.helpers.tickets_env import PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An empty, migrated store: a SQLite file (in a folder the store creates), or a schema of its own in the
    test PostgreSQL, dropped afterwards."""
    if request.param == "sqlite":
        s = await Store.open(f"sqlite:///{tmp_path / 'sub' / 'hotline.db'}")
        yield s
        await s.close()
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        s = await Store.open(PG_URL, schema=schema)
        yield s
        await s.close()
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium (Debian's, `make system-deps`) for the module; a fresh context per test."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (or `make system-deps`)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Tab]:
    context = await browser.new_context(locale="zh-CN")
    context.set_default_timeout(10 * SECOND)
    try:
        page = await context.new_page()
        t = Tab(page)
        page.on("pageerror", lambda exc: t.errors.append(str(exc)))
        yield t
    finally:
        await context.close()


@pytest.fixture
def cb_settings(asterisk: Instance, settings: Settings, tmp_path: Path) -> Settings:
    db = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    return settings.model_copy(
        update={
            "callbacks": True,
            "database_url": db,
            "ivr": False,
            "survey": False,
            "callback_trunk": "trunk-citizens",
            "callback_ring_s": 8,
            "callback_seat_ring_s": 8,
        }
    )
