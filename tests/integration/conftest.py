"""Fixtures shared by the integration tests (the session-wide ones are in tests/conftest.py)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from hotline.bus import make_bus
from hotline.db.store import Store
from recordings.retention import Retention
from recordings.sampling import Rule
from recordings.service import RecordingConfig, RecordingService
from recordings.store import RecordingStore
from tests.integration.tickets_env import PG_URL


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


@contextlib.asynccontextmanager
async def recording_service(store: Store, root: Path) -> AsyncIterator[RecordingService]:
    """The recordings service alone over `store` (no bridge, in-process bus, no nightly run): retention 30 and
    90 days, a sample of 5 % (at least 2), tolerance 1.5 s, the sweep over 7 days."""
    config = RecordingConfig(
        root, ZoneInfo("Asia/Shanghai"), 0.0, 1.5, Retention(30, 90), Rule(0.05, 2), time(1, 30), 7
    )
    bus = make_bus("")
    svc = RecordingService(None, bus, RecordingStore(store.engine), config)
    await svc.start(nightly=False)
    try:
        yield svc
    finally:
        await svc.close()
        await bus.close()
