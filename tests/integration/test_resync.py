"""Restarts in the middle of calls: of Asterisk, and of the bridge. The view must come out right."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.constants import TOPIC_CALL, CallOutcome, CallState, SeatState
from hotline.service import Service
from tests import realparts

from .test_real_call import wait_for

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
