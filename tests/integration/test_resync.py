"""Restarts in the middle of calls: of Asterisk, and of the bridge. The view must come out right."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.constants import CallOutcome, CallState, SeatState
from ami_bridge.topics import TOPIC_CALL
from hotline.service import Service
from tests.helpers import realparts
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk


async def _talking_call(service: Any, seat: str, tmp_path: Path, number: str) -> tuple[Any, Any, str]:
    await service.seats.login(seat)
    phone = await realparts.seat_phone(seat, 500, tmp_path)
    async with service.bus.subscribe(TOPIC_CALL) as sub:
        citizen = await realparts.citizen_call(number, 60000, tmp_path)
        talking = await wait_for(sub, lambda m: m["caller_number"] == number and m["state"] == "talking")
    return phone, citizen, talking["call_id"]


async def test_bridge_restart_mid_call_rebuilds_the_view(service: Any, settings: Any, tmp_path: Path) -> None:
    phone, citizen, call_id = await _talking_call(service, "8003", tmp_path, "13900139003")
    try:
        # a second bridge process starts while the call is up: it knows only what Asterisk says
        local = settings.model_copy(
            update={
                "database_url": f"sqlite+aiosqlite:///{tmp_path / 'second.db'}",
                "http_port": settings.http_port + 1,
            }
        )
        async with Service(local) as second:
            await asyncio.wait_for(second.bridge.resynced.wait(), 10)
            call = second.bridge.calls.get(call_id)
            assert call is not None, [c.call_id for c in second.bridge.calls.active()]
            assert call.state is CallState.TALKING and call.seat == "8003"
            assert call.caller_number == "13900139003"
            seat = second.bridge.seats.get("8003")
            assert seat is not None and seat.state is SeatState.TALKING and seat.call_id == call_id
    finally:
        await citizen.stop()
        await phone.stop()


async def test_asterisk_restart_mid_call(service: Any, asterisk: Any, tmp_path: Path) -> None:
    phone, citizen, call_id = await _talking_call(service, "8004", tmp_path, "13900139004")
    before = service.client.connections
    try:
        await asyncio.to_thread(asterisk.stop)
        restarted = time.monotonic()
        await asyncio.to_thread(asterisk.start)  # not fresh: Asterisk restores its logged-in seats
        while service.client.connections == before or not service.bridge.resynced.is_set():
            assert time.monotonic() - restarted < 20, "the bridge did not reconnect and resync within 20 s"
            await asyncio.sleep(0.05)
        took = time.monotonic() - restarted
        resync_ms = service.bridge.stats.last_resync_s * 1000
        print(f"\nAsterisk restart -> bridge resynced: {took:.2f} s (resync itself {resync_ms:.0f} ms)")
        call = service.bridge.calls.get(call_id)
        assert call is not None and call.state is CallState.ENDED  # the restart cut the call
        assert call.outcome is CallOutcome.ANSWERED  # it had been answered: that is not forgotten
        seat = service.bridge.seats.get("8004")
        assert seat is not None and seat.state is SeatState.READY and seat.call_id is None
        assert service.bridge.calls.active() == []
    finally:
        await citizen.stop()
        await phone.stop()


async def test_paused_seats_keep_their_reason_across_restarts(
    service: Any, settings: Any, asterisk: Any, tmp_path: Path
) -> None:
    """No seat left paused without knowing why, none silently unpaused: after Asterisk restarts, and
    in a bridge that starts afresh."""
    await service.seats.login("8005", paused_reason="会议")
    await service.seats.login("8006", paused_reason="培训")
    await service.seats.login("8007")
    await service.seats.resume("8006")  # paused, then resumed: must come back ready, not paused again
    before = service.client.connections
    await asyncio.to_thread(asterisk.stop)
    await asyncio.to_thread(asterisk.start)  # not fresh: Asterisk restores its logged-in seats
    deadline = time.monotonic() + 20
    while service.client.connections == before or not service.bridge.resynced.is_set():
        assert time.monotonic() < deadline, "the bridge did not reconnect and resync within 20 s"
        await asyncio.sleep(0.05)

    def states(bridge: Any) -> dict[str, tuple[str, str | None]]:
        return {
            s: (snap.state.value, snap.pause_reason)
            for s in ("8005", "8006", "8007")
            if (snap := bridge.seats.get(s)) is not None
        }

    want = {"8005": ("paused", "会议"), "8006": ("ready", None), "8007": ("ready", None)}
    assert states(service.bridge) == want, "after Asterisk restarted"
    members = await service.client.action_list("QueueStatus", {"Queue": "hotline"})
    paused = {f["Name"]: (f["Paused"], f["PausedReason"]) for f in members if f.name == "QueueMember"}
    assert paused["8005"] == ("1", "会议") and paused["8006"][0] == "0" and paused["8007"][0] == "0"

    local = settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}", "http_port": settings.http_port + 1}
    )
    async with Service(local) as fresh:
        await asyncio.wait_for(fresh.bridge.resynced.wait(), 10)
        assert states(fresh.bridge) == want, "a bridge started afresh"


async def test_calls_left_unfinished_by_a_stopped_bridge_end_cut_when_asterisk_started_after_them(
    asterisk: Any, settings: Any, tmp_path: Path
) -> None:
    """The bridge process stopped mid-call and the calls ended meanwhile, with nothing of them kept in Asterisk's
    database; the Asterisk running now started after they began (as after a crash of both): the database still
    holds them as queued or talking. The next bridge ends them `cut`, at the latest when this Asterisk started
    (named as estimated); the answered one stays answered, so nothing waits on them for ever (the wallboard's
    waiting count, the day's report). (Calls whose hangup handler did keep their end, and Asterisk killed under a
    running bridge: tests/integration/test_crash.py; a call gone from an Asterisk that ran all along: unit tests.)"""
    from datetime import UTC, datetime, timedelta

    from ami_bridge.snapshots import CallSnapshot
    from hotline.db.store import Store

    db = f"sqlite+aiosqlite:///{tmp_path / 'left.db'}"
    now = datetime.now(UTC)
    store = await Store.open(db)
    ago = [now - timedelta(minutes=m) for m in (0, 1, 2, 3, 4, 5)]
    queued = CallSnapshot("1700000001.1", CallState.QUEUED, "13900139071", None, "12345", ago[3],
                          queue="hotline", queued_at=ago[3])  # fmt: skip
    talking = CallSnapshot("1700000002.2", CallState.TALKING, "13900139072", None, "12345", ago[5],
                           queue="hotline", queued_at=ago[5], seat="8001", answered_at=ago[4], ring_ms=2000,
                           wait_ms=60000)  # fmt: skip
    for call in (queued, talking):
        await store.save_call(call)
    await store.close()
    await asyncio.to_thread(asterisk.stop)  # the Asterisk the next bridge finds started after these calls began
    await asyncio.to_thread(asterisk.start)
    local = settings.model_copy(update={"database_url": db, "ivr": False, "survey": False})
    async with Service(local) as svc:
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        await svc.bridge.close()  # flush the write-behind
        started = svc.bridge.asterisk.started_at
        # from its uptime at login: whole seconds, taken a second early, so up to 2 s before its real start
        assert started is not None and now - timedelta(seconds=2) < started < datetime.now(UTC), (now, started)
        for call in (queued, talking):
            stored = await svc.store.get_call(call.call_id)
            assert stored is not None and stored.state is CallState.ENDED, stored
            assert stored.outcome is CallOutcome.CUT and stored.ended_at == started, stored
            assert "ended_at" in stored.estimated and stored.answered_at == call.answered_at, stored
        await asyncio.sleep(0.3)  # the floor follows the bus
        live = svc.floor.view()["live"]
        assert live["waiting"] == 0, live
