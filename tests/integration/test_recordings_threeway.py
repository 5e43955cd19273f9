"""A three-way call (三方通话) is recorded in the call's one file: the seat answers, consults the unit, all three
talk, the seat leaves, the unit and the citizen go on; the recording covers it all to the end (real parts)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hotline.demo import phones
from hotline.recordings.paths import resolve
from hotline.topics import TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY
from tests.helpers import realparts, talking
from tests.helpers.polling import until, wait_for
from tests.helpers.threeway import UNIT, post, tw_state

pytestmark = pytest.mark.asterisk


def sox_seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True).stdout)


async def test_a_three_way_call_is_one_recording_to_the_end(service: Any, tmp_path: Path) -> None:
    base = f"{service.url}/api/seats/8001/threeway"
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY) as sub:
        await service.seats.login("8001")
        await wait_for(sub, lambda m: m.get("seat") == "8001" and m.get("state") == "ready")
        seat = await realparts.seat_phone("8001", 300, tmp_path)
        citizen = await talking.citizen_talks("13800138011", 60000, tmp_path)
        talk = await wait_for(sub, lambda m: m.get("caller_number") == "13800138011" and m.get("state") == "talking")
        call_id = talk["call_id"]
        unit = await phones.unit_phone(tmp_path, ring_ms=1500, talk_ms=8000)
        await asyncio.sleep(2)  # the seat and the citizen talk first
        status, body = await post(service, base, {"number": UNIT, "consult": True})
        assert status == 200, body
        await wait_for(sub, tw_state("consulting"), 10)
        assert (await post(service, f"{base}/join"))[0] == 200
        await wait_for(sub, tw_state("joined"), 10)
        await asyncio.sleep(1)
        assert (await post(service, f"{base}/leave"))[0] == 200
        await wait_for(sub, tw_state("seat_left"), 10)
        await wait_for(sub, tw_state("ended"), 20)  # the unit hangs up 8 s after answering
        if service.bridge.calls.get(call_id).state.value != "ended":  # its end may come just before the attempt's
            await wait_for(sub, lambda m: m.get("call_id") == call_id and m.get("state") == "ended", 15)
        assert await unit.wait(10) == 0, unit.errors()
        await realparts.hang_up_all(service.client)
        await citizen.stop()
        await seat.stop()

    row = await until(lambda: service.recordings.store.get(call_id))
    assert row is not None, "the three-way call was not catalogued"
    call = service.bridge.calls.get(call_id)
    whole = (call.ended_at - call.answered_at).total_seconds()
    path = resolve(service.recordings.root, row["path"])
    measured = await asyncio.to_thread(sox_seconds, path)
    assert whole > 9, whole  # seat talk, consult, three talk, unit alone with the citizen
    assert abs(measured - whole) <= 1.5, (measured, whole)  # one file, answer to the end, after the seat left
    assert row["status"] == "ok", row
    same_call = [p for p in service.recordings.root.rglob(f"{call_id}*")]
    assert same_call == [path], same_call  # one file per call id
