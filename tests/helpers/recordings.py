"""Recordings tests: a seat ready over HTTP, a real answered call, sox measurements, a tone file."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from ami_bridge.topics import TOPIC_CALL, TOPIC_SEAT
from hotline.bus import make_bus
from hotline.db.store import Store
from hotline.recordings.retention import Retention
from hotline.recordings.sampling import Rule
from hotline.recordings.service import RecordingConfig, RecordingService
from hotline.recordings.store import RecordingStore
from tests.helpers import realparts, talking
from tests.helpers.polling import wait_for


async def seat_ready(service: Any, sub: Any, seat: str) -> None:
    """The seat logs in over HTTP with its own token, and the bridge has it ready (`sub`: TOPIC_SEAT)."""
    async with (
        aiohttp.ClientSession(headers=realparts.seat_headers(service, seat)) as http,
        http.post(f"{service.url}/api/seats/{seat}/login") as resp,
    ):
        assert resp.status == 200, await resp.text()
    await wait_for(sub, lambda m: m.get("seat") == seat and m.get("state") == "ready" and "call_id" in m)


async def answered_call(service: Any, seat: str, caller: str, hold_ms: int, tmp_path: Path) -> dict[str, Any]:
    """A real citizen call answered by a real sipp seat; the ended call's message."""
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
        await seat_ready(service, sub, seat)
        phone = await realparts.seat_phone(seat, 1500, tmp_path)
        citizen = await talking.citizen_talks(caller, hold_ms, tmp_path)
        ended = await wait_for(sub, lambda m: m.get("caller_number") == caller and m.get("state") == "ended", 40)
        assert await citizen.wait(10) == 0, citizen.errors()
        assert await phone.wait(10) == 0, phone.errors()
    return ended


def soxi(option: str, path: Path) -> str:
    return subprocess.run(["soxi", option, str(path)], capture_output=True, text=True, check=True).stdout


def sox_seconds(path: Path) -> float:
    return float(soxi("-D", path))


def raw_tone(raw: Path, seconds: float) -> None:
    """A tone on the left (the caller), silence on the right (the seat), as MixMonitor D writes it: headerless
    16-bit stereo at 8 kHz."""
    raw.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-n", "-r", "8000", "-e", "signed-integer", "-b", "16", "-c", "2", "-t", "raw", str(raw),
                    "synth", f"{seconds}", "sine", "440", "remix", "1", "0", "gain", "-3"], check=True)  # fmt: skip


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


KEY = b"0123456789abcdef0123456789abcdef"  # the signing key of the test QA logins
