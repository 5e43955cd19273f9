"""A real citizen call through the real Asterisk 22 to a real sipp seat, seen by the bridge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge.constants import CallOutcome, CallState, LegRole, SeatState
from ami_bridge.topics import TOPIC_CALL, TOPIC_SEAT
from tests.helpers import realparts
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk


async def test_answered_call(service: Any, tmp_path: Path) -> None:
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
        headers = realparts.seat_headers(service, "8001")
        async with (
            aiohttp.ClientSession(headers=headers) as http,
            http.post(f"{service.url}/api/seats/8001/login") as resp,
        ):
            assert resp.status == 200, await resp.text()
        await wait_for(sub, lambda m: m.get("seat") == "8001" and m.get("state") == "ready" and "call_id" in m)
        seat = await realparts.seat_phone("8001", 2000, tmp_path)
        citizen = await realparts.citizen_call("13800138000", 5000, tmp_path)
        seen: list[dict[str, Any]] = []

        def ended(m: dict[str, Any]) -> bool:
            seen.append(m)
            return m.get("caller_number") == "13800138000" and m.get("state") == "ended"

        final = await wait_for(sub, ended, timeout=30)
        assert await citizen.wait(10) == 0, citizen.errors()
        assert await seat.wait(10) == 0, seat.errors()

    call = service.bridge.calls.get(final["call_id"])
    assert call.outcome is CallOutcome.ANSWERED and call.seat == "8001"
    assert call.ring_ms is not None and 1800 <= call.ring_ms <= 3500, call.ring_ms
    assert call.answered_at is not None and call.ended_at is not None
    talk_s = (call.ended_at - call.answered_at).total_seconds()
    assert 1.0 <= talk_s <= 5.5, talk_s  # the citizen holds 5 s after Asterisk answers, ring included
    assert sorted(leg.role for leg in call.legs) == sorted([LegRole.CITIZEN, LegRole.SEAT])
    call_states = [m["state"] for m in seen if m.get("call_id") == call.call_id and "caller_number" in m]
    for state in (CallState.QUEUED, CallState.RINGING, CallState.TALKING):
        assert state.value in call_states
    seat_states = [m["state"] for m in seen if m.get("seat") == "8001" and "misses_in_row" in m]
    assert seat_states[:3] == [SeatState.RINGING.value, SeatState.TALKING.value, SeatState.WRAP_UP.value]

    await service.bridge.close()  # flush the write-behind, then read what was stored
    stored = await service.store.get_call(call.call_id)
    assert stored is not None and stored.outcome is CallOutcome.ANSWERED and len(stored.legs) == 2


async def test_seat_api_errors(service: Any) -> None:
    async with aiohttp.ClientSession() as http:  # nobody logged in: nothing is done for them
        async with http.post(f"{service.url}/api/seats/8001/login") as resp:
            assert resp.status == 401 and (await resp.json())["error"] == "login-required"
        async with http.get(f"{service.url}/api/calls") as resp:
            assert resp.status == 401
    assert service.bridge.seats.get("8001") is None or service.bridge.seats.get("8001").state.value == "logged_out"
    async with aiohttp.ClientSession(headers=realparts.leader_headers(service)) as http:
        async with http.post(f"{service.url}/api/seats/8001/pause", json={"reason": "午饭"}) as resp:
            body = await resp.json()
            assert resp.status == 400 and body["error"] == "invalid-input"
            assert "reason" in body["message"] and "小休" in body["message"]
        async with http.post(f"{service.url}/api/seats/80x1/login") as resp:
            assert resp.status == 400 and "seat" in (await resp.json())["message"]
        async with http.get(f"{service.url}/api/calls/nope") as resp:
            assert resp.status == 404 and (await resp.json())["error"] == "call-not-found"
        async with http.post(f"{service.url}/api/seats/8001/pause", data=b"{not json") as resp:
            assert resp.status == 400 and (await resp.json())["error"] == "invalid-json"


async def test_pause_reason_reaches_asterisk_and_back(service: Any) -> None:
    await service.seats.login("8002")
    await service.seats.pause("8002", "培训")
    async with service.bus.subscribe(TOPIC_SEAT) as sub:
        snap = service.bridge.seats.get("8002")
        if snap is None or snap.state is not SeatState.PAUSED:
            await wait_for(sub, lambda m: m["seat"] == "8002" and m["state"] == "paused")
    assert service.bridge.seats.get("8002").pause_reason == "培训"
    members = await service.client.action_list("QueueStatus", {"Queue": "hotline"})
    member = next(f for f in members if f.name == "QueueMember" and f["Name"] == "8002")
    assert member["Paused"] == "1" and member["PausedReason"] == "培训"
