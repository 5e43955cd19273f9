"""Shared fixtures: the real Asterisk (once per session), the service, sipp phones."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hotline.asterisk.instance import Instance
from hotline.settings import Settings

from . import realparts


@pytest.fixture(scope="session")
def state_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="hotline-test-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def settings(state_dir: Path) -> Settings:
    return realparts.test_settings(state_dir)


@pytest.fixture(scope="session")
def asterisk(settings: Settings) -> Iterator[Instance]:
    instance = realparts.start_asterisk(settings)
    yield instance
    instance.stop()


@pytest.fixture
async def service(asterisk: Instance, settings: Settings, tmp_path: Path) -> AsyncIterator[object]:
    """The bridge + web server against the session's Asterisk, with its own SQLite database."""
    from hotline.service import Service

    local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"})
    async with Service(local) as svc:
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        yield svc
        # leave Asterisk as we found it: no call up, no seat logged in
        with contextlib.suppress(Exception):
            await svc.client.action("Hangup", {"Channel": "/.*/"})
            for _ in range(50):
                if not await svc.client.action_list("CoreShowChannels"):
                    break
                await asyncio.sleep(0.1)
        for seat in [s.seat for s in svc.bridge.seats.all() if s.state.value != "logged_out"]:
            with contextlib.suppress(Exception):
                await svc.seats.logout(seat)
