"""The two-ring rule with real Asterisk 22 and real sipp seats."""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.constants import CallOutcome, SeatState
from ami_bridge.topics import TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT
from hotline.topics import as_json
from tests.helpers import realparts
from tests.helpers.polling import floor_until, wait_for

pytestmark = pytest.mark.asterisk


async def test_seat_that_lets_it_ring_out_is_paused_and_the_call_moves_on(service: Any, tmp_path: Path) -> None:
    await service.seats.login("8005")
    await service.seats.login("8006", paused_reason="小休")  # so that 8005 rings first
    slow = await realparts.seat_phone("8005", 12000, tmp_path)  # lets it ring past two rings
    quick = await realparts.seat_phone("8006", 1000, tmp_path)
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_MISS) as sub:
        citizen = await realparts.citizen_call("13900139005", 20000, tmp_path)
        await wait_for(sub, lambda m: m.get("seat") == "8005" and m.get("state") == "ringing")
        await service.seats.resume("8006")
        seen = await collect_until(
            sub, lambda m: m.get("caller_number") == "13900139005" and m.get("state") == "talking", timeout=20
        )
    answered = next(m for m in seen if m.get("caller_number") == "13900139005" and m.get("state") == "talking")
    miss = next(m for m in seen if "rejected" in m and m["seat"] == "8005")
    rang_next = next(m for m in seen if m.get("seat") == "8006" and m.get("state") == "ringing" and "since" in m)
    paused = next(m for m in seen if m.get("seat") == "8005" and m.get("state") == "paused")
    assert not miss["rejected"] and 9500 <= miss["ring_ms"] <= 11000, miss  # two rings of the cn cadence
    assert miss["pausing"] and miss["misses_in_row"] == 1
    gap_s = (datetime.fromisoformat(rang_next["since"]) - datetime.fromisoformat(miss["at"])).total_seconds()
    assert 0 <= gap_s <= 1.5, f"the next seat rang {gap_s:.2f} s after the miss"
    assert paused["pause_reason"] == "未接"
    assert answered["seat"] == "8006" and answered["misses"] == 1
    members = await service.client.action_list("QueueStatus", {"Queue": "hotline"})
    member = next(f for f in members if f.name == "QueueMember" and f["Name"] == "8005")
    assert member["Paused"] == "1" and member["PausedReason"] == "未接"  # Asterisk rings nothing more there
    floor = await floor_until(service, lambda v: v["today"]["seats"].get("8005", {}).get("misses") == 1)
    assert floor["today"]["seats"]["8005"]["misses"] == 1 and floor["today"]["total"]["misses"] == 1
    assert floor["today"]["seats"]["8006"]["answered"] == 1
    assert floor["today"]["total"]["within_two_rings"] == 0, "the citizen heard more than two rings"
    await citizen.stop()
    await slow.stop()
    await quick.stop()


async def test_caller_hanging_up_while_it_rings_is_lost_and_the_seat_is_ready_again(
    service: Any, tmp_path: Path
) -> None:
    await service.seats.login("8007")
    phone = await realparts.seat_phone("8007", 9000, tmp_path)
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_MISS) as sub:
        citizen = await realparts.citizen_call("13900139007", 3000, tmp_path)  # hangs up after 3 s
        seen = await collect_until(
            sub, lambda m: m.get("caller_number") == "13900139007" and m.get("state") == "ended", timeout=15
        )
    call = seen[-1] if seen[-1].get("state") == "ended" else next(m for m in seen if m.get("state") == "ended")
    seat = [m for m in seen if m.get("seat") == "8007" and "misses_in_row" in m]
    assert call["outcome"] == CallOutcome.ABANDONED.value and call["misses"] == 0
    assert [s["state"] for s in seat][-2:] == [SeatState.RINGING.value, SeatState.READY.value], seat
    assert seat[-1]["misses_in_row"] == 0
    assert not [m for m in seen if "rejected" in m], "a caller hanging up is not the seat's miss"
    floor = await floor_until(service, lambda v: v["today"]["total"]["lost"] == 1)
    total = floor["today"]["total"]
    assert (total["offered"], total["lost"], total["lost_ringing"], total["misses"]) == (1, 1, 1, 0)
    assert total["answer_rate"] == 0.0 and floor["today"]["seats"]["8007"]["lost_ringing"] == 1
    await citizen.stop()
    await phone.stop()


async def collect_until(sub: Any, predicate: Any, timeout: float, settle: float = 1.0) -> list[dict[str, Any]]:
    """Every message up to the one `predicate` accepts, and those that follow within `settle` seconds
    (a seat's snapshot and a call's may come in either order)."""
    seen: list[dict[str, Any]] = []

    def keep(m: dict[str, Any]) -> bool:
        seen.append(m)
        return bool(predicate(m))

    await wait_for(sub, keep, timeout=timeout)
    with contextlib.suppress(TimeoutError):
        while True:
            seen.append(as_json((await sub.get(timeout=settle))[1]))
    return seen
