"""Recording with real parts: a real call through Asterisk 22 is recorded (MixMonitor from the dialplan) and
stored in the default format (Ogg Vorbis), the file measured with sox matches the call, the catalogue row is
right, and a deleted file is flagged."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge.constants import TOPIC_CALL, TOPIC_SEAT
from recordings.paths import RELATIVE, resolve
from tests import realparts, talking

from .test_real_call import wait_for

pytestmark = pytest.mark.asterisk


async def until(check: Any, timeout: float = 15) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.2)


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


def rms(path: Path, channel: int) -> float:
    """RMS amplitude of one channel (sox stat)."""
    out = subprocess.run(["sox", str(path), "-n", "remix", str(channel), "stat"], capture_output=True, text=True,
                         check=True).stderr  # fmt: skip
    return float(next(line for line in out.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


def sox_seconds(path: Path) -> float:
    return float(soxi("-D", path))


async def test_a_real_call_is_recorded_catalogued_and_a_deleted_file_flagged(service: Any, tmp_path: Path) -> None:
    ended = await answered_call(service, "8004", "13700137004", 7000, tmp_path)
    call_id = ended["call_id"]
    store = service.recordings.store
    row = await until(lambda: store.get(call_id))
    assert row is not None, "no catalogue row for the call"
    call = service.bridge.calls.get(call_id)
    talk_s = (call.ended_at - call.answered_at).total_seconds()
    assert 4.0 <= talk_s <= 7.5, talk_s

    assert RELATIVE.match(row["path"]) and row["path"].endswith(f"/{call_id}.ogg"), row["path"]
    path = resolve(service.recordings.root, row["path"])
    assert path.is_file(), path
    measured = await asyncio.to_thread(sox_seconds, path)  # sox, independent of the service's own measurement
    assert abs(measured - talk_s) <= 1.0, (measured, talk_s)
    assert row["status"] == "ok" and not row["flagged"], row
    assert row["seat"] == "8004" and row["caller_number"] == "13700137004" and row["queue"] == "hotline"
    assert row["size"] == path.stat().st_size and row["size"] > 44
    assert row["size"] < measured * 8000 * 4 / 4, row["size"]  # compressed: well under a quarter of the WAV
    assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert abs(row["duration_s"] - measured) < 0.05 and abs(row["call_s"] - talk_s) < 0.5
    day = call.answered_at.astimezone(service.settings.zone).date()
    assert row["day"] == day.isoformat() and row["path"].startswith(f"{day:%Y/%m/%d}/")
    info = await asyncio.to_thread(soxi, "-t", path)
    assert info.strip() == "vorbis", info  # a format browsers play
    assert (await asyncio.to_thread(soxi, "-c", path)).strip() == "2"  # stereo: the caller left, the seat right
    assert (await asyncio.to_thread(soxi, "-r", path)).strip() == "8000"
    caller, seat = await asyncio.to_thread(rms, path, 1), await asyncio.to_thread(rms, path, 2)
    assert caller > 0.02 and seat < caller / 10, (caller, seat)  # the citizen's tone, a silent sipp seat
    leftovers = [path.with_suffix(x) for x in (".raw", ".wav", ".flac")] + list(path.parent.glob(f".{call_id}.*"))
    assert not [p for p in leftovers if p.exists()], leftovers  # no .raw, no sox temporary file, no second format

    path.unlink()
    counts = await service.recordings.check()
    assert counts.get("missing", 0) >= 1, counts
    row = await store.get(call_id)
    assert row["status"] == "missing" and row["flagged"], row
