"""The sweep with real parts: a real call's recording is left alone while the call is live in Asterisk (even
with no write for a while), and a call that ended while the service was stopped is catalogued by the next
service's sweep at start."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.topics import TOPIC_CALL, TOPIC_SEAT
from hotline.asterisk.instance import Instance
from hotline.recordings import files, sweep
from hotline.recordings.formats import Format
from hotline.recordings.paths import resolve
from hotline.service import Service
from hotline.settings import Settings
from tests.helpers import realparts, talking
from tests.helpers.polling import until, wait_for
from tests.helpers.recordings import seat_ready, sox_seconds

pytestmark = pytest.mark.asterisk


async def talking_call(svc: Any, sub: Any, seat: str, caller: str, hold_ms: int, tmp_path: Path) -> tuple[Any, ...]:
    """A real citizen call a real sipp seat answered: (the talking call's message, the seat's phone, the citizen)."""
    await seat_ready(svc, sub, seat)
    phone = await realparts.seat_phone(seat, 1000, tmp_path)
    citizen = await talking.citizen_talks(caller, hold_ms, tmp_path)
    talk = await wait_for(sub, lambda m: m.get("caller_number") == caller and m.get("state") == "talking", 30)
    return talk, phone, citizen


async def raw_of(svc: Any, call_id: str) -> Path:
    today = datetime.now(svc.settings.zone).date()
    fmt = Format(svc.settings.recording_format)
    rel = await until(lambda: asyncio.to_thread(files.find, svc.recordings.root, call_id, today, fmt))
    assert rel is not None, f"no recording of {call_id} under {svc.recordings.root}"
    return files.raw_of(resolve(svc.recordings.root, rel))


async def test_a_live_calls_recording_is_left_alone(service: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(sweep, "FRESH_S", 0.0)  # only the call being live protects its file now
    store = service.recordings.store
    await service.recordings.sweep_live()  # the earlier tests' files first: the sweep below meets the live call's
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
        talk, phone, citizen = await talking_call(service, sub, "8004", "13700137014", 6000, tmp_path)
        call_id = talk["call_id"]
        raw = await raw_of(service, call_id)
        assert raw.is_file()
        counts = await service.recordings.sweep_live()
        assert counts is not None and counts.get("live", 0) >= 1 and "error" not in counts, counts
        assert await store.get(call_id) is None and raw.is_file() and not raw.with_suffix(".ogg").exists()
        await wait_for(sub, lambda m: m.get("call_id") == call_id and m.get("state") == "ended", 40)
    assert await citizen.wait(10) == 0, citizen.errors()
    assert await phone.wait(10) == 0, phone.errors()
    row = await until(lambda: store.get(call_id))  # catalogued at its end, as every call: the whole talk
    call = service.bridge.calls.get(call_id)
    talk_s = (call.ended_at - call.answered_at).total_seconds()
    assert row is not None and row["status"] == "ok", row
    assert row["path"].endswith(".ogg") and not raw.exists()
    assert abs(await asyncio.to_thread(sox_seconds, raw.with_suffix(".ogg")) - talk_s) <= 1.0


async def test_a_call_that_ended_while_the_service_was_down_is_swept_at_start(
    asterisk: Instance, settings: Settings, tmp_path: Path
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    local = settings.model_copy(update={"database_url": db, "ivr": False, "survey": False, "recording_sweep": True})
    async with Service(local) as svc, svc.bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        talk, phone, citizen = await talking_call(svc, sub, "8004", "13700137015", 5000, tmp_path)
        call_id = talk["call_id"]
        raw = await raw_of(svc, call_id)
    # the service is stopped; the call goes on and ends without it
    assert await citizen.wait(20) == 0, citizen.errors()
    assert await phone.wait(10) == 0, phone.errors()
    assert raw.is_file() and not raw.with_suffix(".ogg").exists()  # nobody catalogued it
    then = datetime.now(UTC).timestamp() - 120  # as if the service came back two minutes later
    os.utime(raw, (then, then))

    async with Service(local) as svc:
        try:
            row = await until(lambda: svc.recordings.store.get(call_id), 30)  # the sweep at start, in the background
            assert row is not None, "the sweep at start did not catalogue the call"
            assert (row["status"], row["seat"], row["caller_number"], row["queue"]) == (
                "ok", "8004", "13700137015", "hotline"
            ), row  # fmt: skip
            # the call's end came back from Asterisk's database (its hangup handler kept it): the length is checked
            assert "not checked" not in row["status_reason"], row
            made = resolve(svc.recordings.root, row["path"])
            assert made == raw.with_suffix(".ogg") and made.is_file() and not raw.exists()
            assert 3.0 <= row["duration_s"] <= 6.0, row  # the talk: the citizen's 5 s from the answer on
            stored = await svc.store.get_call(call_id)
            assert stored is not None and stored.ended_at is not None and stored.answered_at is not None, stored
            assert 3.0 <= (stored.ended_at - stored.answered_at).total_seconds() <= 6.0, stored  # as the recording
        finally:
            await realparts.hang_up_all(svc.client)
            await svc.seats.logout("8004")


async def test_a_seats_own_call_out_is_recorded_and_catalogued(service: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """A seat dials a unit itself from its phone ([seats] → [outbound]): the bridge tracks no call for it, the
    recording is named out-<seat>-<its channel>, and the sweep catalogues it (queue 外呼), not flagged."""
    from hotline.asterisk.instance import seat_passwords
    from hotline.demo import phones

    monkeypatch.setattr(sweep, "FRESH_S", 0.0)
    await service.client.action("Setvar", {"Variable": "HOTLINE_TRUNK", "Value": "trunk-units"})  # the test trunk
    try:
        today, fmt = datetime.now(service.settings.zone).date(), Format(service.settings.recording_format)
        before = {f.call_id for f in await asyncio.to_thread(files.on_disk, service.recordings.root, today, fmt)}
        unit = await phones.unit_phone(tmp_path, ring_ms=300, talk_ms=60000)
        seat = await phones.seat_dials("8006", seat_passwords(service.settings)["8006"], "057187001200", 3000,
                                       tmp_path, sip_port=realparts.SIP_PORT)  # fmt: skip
        assert await seat.wait(20) == 0, seat.errors()

        async def outbound() -> list[files.OnDisk]:
            found = await asyncio.to_thread(files.on_disk, service.recordings.root, today, fmt)
            return [f for f in found if f.call_id.startswith("out-8006-") and f.call_id not in before]

        mine = await until(outbound)
        assert mine is not None and len(mine) == 1, mine
        await asyncio.sleep(1)  # MixMonitor closes the file after the hang-up
        counts = await service.recordings.sweep_live()
        assert counts is not None and "error" not in counts, counts
        row = await service.recordings.store.get(mine[0].call_id)
        assert row is not None and (row["seat"], row["queue"], row["status"]) == ("8006", "外呼", "ok"), row
        assert 2.0 <= row["duration_s"] <= 4.5, row  # the 3 s talk
        assert row["path"] == f"{today:%Y/%m/%d}/{mine[0].call_id}.ogg", row  # named as its call, in the default format
        await realparts.hang_up_all(service.client)
        await unit.stop()
    finally:
        await service.client.action("Setvar", {"Variable": "HOTLINE_TRUNK", "Value": "trunk-out"})
