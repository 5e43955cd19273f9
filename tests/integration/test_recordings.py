"""Recording with real parts: a real call through Asterisk 22 is recorded (MixMonitor from the dialplan) and
stored in the default format (Ogg Vorbis), the file measured with sox matches the call, the catalogue row is
right, and a deleted file is flagged."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hotline.recordings.paths import RELATIVE, resolve
from tests.helpers.polling import until
from tests.helpers.recordings import answered_call, sox_seconds, soxi

pytestmark = pytest.mark.asterisk


def rms(path: Path, channel: int) -> float:
    """RMS amplitude of one channel (sox stat)."""
    out = subprocess.run(["sox", str(path), "-n", "remix", str(channel), "stat"], capture_output=True, text=True,
                         check=True).stderr  # fmt: skip
    return float(next(line for line in out.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


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
