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
from tests.helpers import realparts


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

    # IVR and survey off: these tests time calls from the queue on and end them when the seat hangs up
    # (tests/integration/test_ivr.py runs both)
    db = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    local = settings.model_copy(update={"database_url": db, "ivr": False, "survey": False})
    async with Service(local) as svc:
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        yield svc
        # leave Asterisk as we found it: no call up, no seat logged in
        await realparts.hang_up_all(svc.client)
        for seat in [s.seat for s in svc.bridge.seats.all() if s.state.value != "logged_out"]:
            with contextlib.suppress(Exception):
                await svc.seats.logout(seat)


@pytest.fixture
async def ami(asterisk: Instance, settings: Settings) -> AsyncIterator[object]:
    """A second AMI connection that sees every event the dialplan raises (the bridge keeps its own)."""
    from ami_bridge.client import AmiClient

    host, port, user, secret = realparts.ami_credentials(settings)
    client = AmiClient(host, port, user, secret)
    runner = asyncio.create_task(client.run())
    await asyncio.wait_for(client.connected.wait(), 10)
    try:
        yield client
    finally:
        await client.close()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs Asterisk (the `asterisk` fixture, directly or through `service`, `ami`...) is marked
    `asterisk` even when its module forgot `pytestmark`: `make test-fast` (-m 'not asterisk') never starts one."""
    for item in items:
        if "asterisk" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.asterisk)
