"""Nothing lost in a crash (issue 25): the service killed hard in the middle of a call, then started again, keeps
the record the fault-free run would have made.

The service runs as its own process (`hotline run --no-asterisk`) with the test-only switch
HOTLINE_FAULT_EXIT_AFTER (tests/helpers/faults.py); a second AMI connection records every event of the call; the
same pure call machine fed with them is the fault-free record (the reference), so the two can be compared field by
field, and the restarted service's /api/floor counts (today's totals and each seat's) with the counts the same
pure tally makes of the reference. The whole scripted scenario, every kind of call at once: test_crash_scenario.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.bridge import FAULT_EXIT_CODE
from ami_bridge.client import AmiClient
from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.protocol import Frame
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot
from ami_bridge.topics import TOPIC_CALL
from hotline.db.store import Store
from hotline.service import Service
from hotline.settings import Settings
from tests.helpers import realparts
from tests.helpers.faults import (
    FaultRun,
    call_id_of,
    end_kept,
    record_frames,
    reference,
    same_record,
    start_process,
    stored_ended,
)
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk

CUT_MS = 500  # Asterisk killed -> the bridge sees its link drop (the kernel closes the socket at once)
SEAT = "8006"


@pytest.mark.parametrize("state", ["talking", "queued"])
async def test_asterisk_killed_mid_call_the_call_ends_cut(
    state: str, service: Any, asterisk: Any, tmp_path: Path
) -> None:
    """Asterisk SIGKILLed while a seat talks, or while the call waits in the queue: no hangup handler runs and no
    Hangup reaches the bridge. When Asterisk is back, the call ends `cut`, at the moment the link dropped (named as
    estimated). A talking call stays answered: the floor's 接通 keeps it. A waiting one is no longer waiting and is
    counted apart (unknown), never as lost (呼损): nobody knows whether the citizen would have waited. Tolerance: the
    end is the link's loss, within CUT_MS of the kill."""
    seat, caller = "8005", f"1390013908{5 if state == 'talking' else 6}"
    await service.seats.login(seat, paused_reason=None if state == "talking" else "小休")
    phone = await realparts.seat_phone(seat, 500, tmp_path)
    before = service.client.connections
    try:
        async with service.bus.subscribe(TOPIC_CALL) as sub:
            citizen = await realparts.citizen_call(caller, 60000, tmp_path)
            live = await wait_for(sub, lambda m: m["caller_number"] == caller and m["state"] == state)
        call_id = live["call_id"]
        answered = service.bridge.calls.get(call_id).answered_at
        await asyncio.sleep(0.3)  # the floor follows the bus: a talking call counts as answered, a queued one waits
        today = service.floor.view()["today"]["total"]
        assert today["answered" if state == "talking" else "waiting"] >= 1, today
        killed_at = datetime.now(UTC)
        await asyncio.to_thread(asterisk.kill)
        await asyncio.to_thread(asterisk.start)  # as after a crash: Asterisk restores its logged-in seats
        for _ in range(200):
            if service.client.connections > before and service.bridge.resynced.is_set():
                break
            await asyncio.sleep(0.1)
        call = service.bridge.calls.get(call_id)
        assert call is not None and (call.state, call.outcome) == (CallState.ENDED, CallOutcome.CUT), call
        assert call.answered_at == answered and call.ended_at is not None and "ended_at" in call.estimated, call
        assert timedelta(0) <= call.ended_at - killed_at <= timedelta(milliseconds=CUT_MS), (call.ended_at, killed_at)
        stored = await stored_ended(service.store, call_id)
        assert (stored.outcome, stored.answered_at, stored.ended_at) == (call.outcome, answered, call.ended_at)
        await asyncio.sleep(0.3)  # the floor follows the bus
        now = service.floor.view()["today"]["total"]
        if state == "talking":  # kept as answered, and its recording (what Asterisk wrote until it died) catalogued
            assert (now["answered"], now["unknown"]) == (today["answered"], today["unknown"]), (today, now)
            rec = None
            for _ in range(100):
                if (rec := await service.recordings.store.get(call_id)) is not None:
                    break
                await asyncio.sleep(0.1)
            assert rec is not None and rec["path"].split("/")[-1].startswith(call_id), rec
        else:  # no longer waiting, counted apart, not lost
            moved = (now["waiting"], now["unknown"], now["lost"], now["offered"])
            assert moved == (today["waiting"] - 1, today["unknown"] + 1, today["lost"], today["offered"]), (today, now)
    finally:
        await phone.stop()
        with contextlib.suppress(Exception):
            await citizen.stop()
        with contextlib.suppress(Exception):
            await service.seats.logout(seat)


async def test_the_keeper_replaces_a_service_process_that_died_and_the_record_is_whole(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """`hotline run` keeps the service: its process exits hard (the test-only switch) right after the seat answered,
    before the write-behind saved it; the keeper forks the next one at once from the code it loaded, which resyncs
    and ends the call as the fault-free record has it. SIGTERM to the keeper stops the service and the keeper."""
    kill = "SeatConnected:1"
    run = FaultRun.start(settings, ami, tmp_path, kill)
    db, port, env, control, frames, stop = run.db, run.port, run.env, run.control, run.frames, run.stop
    proc = await start_process(env, f"http://127.0.0.1:{port}", keeper=True)
    await control.login(SEAT)
    seat = await realparts.seat_phone(SEAT, 1500, tmp_path)
    caller = "13900139295"
    citizen = await realparts.citizen_call(caller, 6000, tmp_path)
    try:
        assert await citizen.wait(30) == 0
        local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db}"})
        store = await Store.open(local.effective_database_url)
        try:
            ended = await stored_ended(store, await call_id_of(store, caller))
        finally:
            await store.close()
        await run.done()
        same_record(ended, reference(frames, caller))
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        out = (await proc.communicate())[0].decode(errors="replace")
        assert f"exited with status {FAULT_EXIT_CODE}" in out and "starting another now" in out, out[-3000:]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            proc.kill()
        await realparts.hang_up_all(ami)
        await control.logout(SEAT)
        await seat.stop()
        await citizen.stop()


async def test_a_call_that_began_and_ended_while_no_service_ran_is_recorded(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """No service runs: a citizen calls, is told no seat is free, waits and gives up (呼损). The service started
    afterwards records the call from the end Asterisk kept (its start, queue entry, end and caller: the hangup
    handler's stamps), as the call's AMI events have it, and counts it on the floor. The record already held an
    older call: a record's ends of before its newest call are no gap of it (another database's leftovers)."""
    caller, db = "13900139455", tmp_path / "hotline.db"
    local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db}", "ivr": False, "survey": False})
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    store = await Store.open(local.effective_database_url)
    await store.save_call(CallSnapshot("older", CallState.ENDED, "13900139400", None, None, earlier, ended_at=earlier,
                                       outcome=CallOutcome.UNQUEUED))  # fmt: skip
    await store.close()
    control = SeatControl(ami, settings.queue, settings.pause_reasons)
    await control.login(SEAT, paused_reason="小休")  # nobody is free
    frames: list[Frame] = []
    stop = asyncio.Event()
    recorder = asyncio.create_task(record_frames(ami, frames, stop))
    citizen = await realparts.citizen_call(caller, 7000, tmp_path)  # the no-seat prompt, then the queue, gives up
    try:
        assert await citizen.wait(30) == 0, citizen.errors()
        await asyncio.sleep(0.3)  # the hangup handler's record
        stop.set()
        await recorder
        want = reference(frames, caller)
        assert (want.state, want.outcome) == (CallState.ENDED, CallOutcome.ABANDONED), want
        async with Service(local) as svc:
            await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
            got = await stored_ended(svc.store, want.call_id)
            today = svc.floor.view()["today"]["total"]
            for _ in range(30):  # the floor follows the bus
                if today["lost"] >= 1:
                    break
                await asyncio.sleep(0.1)
                today = svc.floor.view()["today"]["total"]
            assert (today["offered"], today["lost"], today["lost_queued"]) == (1, 1, 1), today
            assert await end_kept(ami, want.call_id) is None, "the call's end was left in Asterisk's database"
        same_record(got, want)
    finally:
        stop.set()
        await realparts.hang_up_all(ami)
        await control.logout(SEAT)
        await citizen.stop()


async def test_a_seat_that_missed_while_no_service_ran_is_paused_for_it(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """No service runs: 8005 lets a call ring out (未接) and 8006 answers it. The service started while the citizen
    still talks finds the miss in Asterisk's queue_log: the call has it, 8005's misses in a row count it, and the
    two-ring rule pauses 8005 (未接) as it would have live (Asterisk's autopause is off: nothing else would)."""
    caller = "13900139465"
    local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}",
                                        "ivr": False, "survey": False})  # fmt: skip
    control = SeatControl(ami, settings.queue, settings.pause_reasons)
    await control.login("8005")
    await control.login("8006", paused_reason="小休")  # so that 8005 rings first
    slow = await realparts.seat_phone("8005", 15000, tmp_path)
    quick = await realparts.seat_phone("8006", 1000, tmp_path)
    frames: list[Frame] = []
    stop = asyncio.Event()
    recorder = asyncio.create_task(record_frames(ami, frames, stop))
    citizen = await realparts.citizen_call(caller, 20000, tmp_path)  # rings out at 8005 (10 s), talks to 8006
    try:
        for _ in range(300):
            if any(f.name == "AgentCalled" and f.get("MemberName") == "8005" for f in frames):
                break
            await asyncio.sleep(0.1)
        await control.resume("8006")
        for _ in range(300):
            if any(f.name == "AgentConnect" and f.get("MemberName") == "8006" for f in frames):
                break
            await asyncio.sleep(0.1)
        async with Service(local) as svc:
            await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
            call = next(c for c in svc.bridge.calls.active() if c.caller_number == caller)
            assert (call.seat, call.misses) == ("8006", 1), call
            seat = svc.bridge.seats.get("8005")
            for _ in range(50):  # the pause comes back from Asterisk as an event
                seat = svc.bridge.seats.get("8005")
                if seat is not None and seat.state.value == "paused":
                    break
                await asyncio.sleep(0.1)
            assert seat is not None and (seat.state.value, seat.pause_reason, seat.misses_in_row) == (
                "paused",
                "未接",
                1,
            ), seat
    finally:
        stop.set()
        await recorder
        await realparts.hang_up_all(ami)
        for name in ("8005", "8006"):
            await control.logout(name)
        await slow.stop()
        await quick.stop()
        await citizen.stop()
