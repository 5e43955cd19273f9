"""Three-way calls (三方通话) with real parts: Asterisk 22, sipp citizen, seat and unit (behind the test trunk)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ami_bridge.constants import CallKind, SeatState
from hotline.demo import phones
from hotline.service import Service
from hotline.topics import TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY
from tests.helpers import realparts
from tests.helpers.polling import wait_for
from tests.helpers.threeway import UNIT, post, tw_state

pytestmark = pytest.mark.asterisk


async def channels(service: Any) -> list[str]:
    frames = await service.client.action_list("CoreShowChannels")
    return sorted(f.get("Channel") for f in frames if f.name == "CoreShowChannel")


async def conference(service: Any, call_id: str) -> list[str]:
    return await realparts.conference(service.client, call_id)


async def live_call(service: Any, sub: Any, tmp_path: Path, hold_ms: int = 60000) -> tuple[str, Any, Any]:
    await service.seats.login("8001")
    await wait_for(sub, lambda m: m.get("seat") == "8001" and m.get("state") == "ready")
    seat = await realparts.seat_phone("8001", 300, tmp_path)
    citizen = await realparts.citizen_call("13800138000", hold_ms, tmp_path)
    talking = await wait_for(sub, lambda m: m.get("caller_number") == "13800138000" and m.get("state") == "talking")
    return talking["call_id"], seat, citizen


async def test_unit_answers_join_leave_unit_hangs_up(service: Any, tmp_path: Path) -> None:
    base = f"{service.url}/api/seats/8001/threeway"
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY) as sub:
        call_id, seat, citizen = await live_call(service, sub, tmp_path)
        unit = await phones.unit_phone(tmp_path, ring_ms=1500, talk_ms=6000)
        status, body = await post(service, base, {"number": UNIT, "consult": True})
        assert status == 200, body
        await wait_for(sub, tw_state("ringing"), 10)
        await wait_for(sub, tw_state("consulting"), 10)
        assert len(await conference(service, call_id)) == 1  # the citizen alone, on hold music
        status, body = await post(service, f"{base}/join")
        assert status == 200, body
        await wait_for(sub, tw_state("joined"), 10)
        await asyncio.sleep(0.5)
        members = await conference(service, call_id)
        assert len(members) == 3 and any(m.startswith("PJSIP/8001-") for m in members), members
        assert any(m.startswith("PJSIP/trunk-units-") for m in members), members
        busy = service.bridge.seats.get("8001")  # busy, on a 三方 call, live and as a restarted bridge sees it
        assert (busy.state, busy.call_kind, busy.call_id) == (SeatState.TALKING, CallKind.THREEWAY, call_id), busy
        again = service.settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'again.db'}",
                                                    "http_port": service.settings.http_port + 1})  # fmt: skip
        async with Service(again) as restarted:
            await asyncio.wait_for(restarted.bridge.resynced.wait(), 10)
            rebuilt = restarted.bridge.seats.get("8001")
            assert rebuilt is not None and (rebuilt.state, rebuilt.call_kind) == (busy.state, busy.call_kind), rebuilt
        status, body = await post(service, f"{base}/leave")
        assert status == 200, body
        await wait_for(sub, tw_state("seat_left"), 10)
        await asyncio.sleep(0.5)
        assert service.bridge.seats.get("8001").state is SeatState.WRAP_UP  # a citizen's call: wrap-up after it
        members = await conference(service, call_id)
        assert len(members) == 2 and not any(m.startswith("PJSIP/8001-") for m in members), members
        final = await wait_for(sub, tw_state("ended"), 15)  # the unit hangs up after 6 s
        assert final["outcome"] == "completed" and final["joined_at"] and final["seat_left_at"]
        # the call's end may be published just before the attempt's (the unit's and the citizen's hang-ups
        # arrive together): then wait_for above has already read it
        if service.bridge.calls.get(call_id).state.value != "ended":
            await wait_for(sub, lambda m: m.get("call_id") == call_id and m.get("state") == "ended", 10)
        assert await unit.wait(10) == 0, unit.errors()
        for _ in range(30):
            if not await channels(service):
                break
            await asyncio.sleep(0.2)
        assert await channels(service) == []
        await citizen.stop()
        await seat.stop()
    await service.threeway.records.flush()
    stored = await service.threeway.records.of_calls([call_id])
    assert [a["outcome"] for a in stored] == ["completed"] and stored[0]["number"] == UNIT


async def test_failures_bring_the_caller_back(service: Any, tmp_path: Path) -> None:
    base = f"{service.url}/api/seats/8001/threeway"
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY) as sub:
        status, body = await post(service, base, {"number": UNIT})
        assert status == 409 and body["error"] == "no-live-call"
        call_id, seat, citizen = await live_call(service, sub, tmp_path)
        status, body = await post(service, base, {"unit_id": 99999})
        assert status == 404 and body["error"] == "unit-not-found"
        status, body = await post(service, base, {"number": "12ab"})
        assert status == 400 and body["error"] == "number-not-dialable"
        cases = [("busy", dict(ring_ms=500, answer=False, code=486)), ("failed", dict(ring_ms=300, answer=False,
                 code=404)), ("no_answer", dict(ring_ms=20000))]  # fmt: skip
        for n, (outcome, kind) in enumerate(cases):
            unit = await phones.unit_phone(tmp_path, name=f"unit-{n}", **kind)  # type: ignore[arg-type]
            status, body = await post(service, base, {"number": UNIT})
            assert status == 200, body
            if n == 0:
                status, second = await post(service, base, {"number": UNIT})
                assert status == 409 and second["error"] == "threeway-in-progress"
            final = await wait_for(sub, tw_state(outcome), 15)
            assert final["outcome"] == outcome
            await asyncio.sleep(0.5)
            members = await conference(service, call_id)  # back with the seat, never hung up
            assert len(members) == 2 and any(m.startswith("PJSIP/8001-") for m in members), (outcome, members)
            await unit.wait(10)
        # the seat cancels while the unit rings
        unit = await phones.unit_phone(tmp_path, name="unit-cancel", ring_ms=20000)
        status, body = await post(service, base, {"number": UNIT})
        assert status == 200, body
        await wait_for(sub, tw_state("ringing"), 10)
        status, body = await post(service, f"{base}/cancel")
        assert status == 200, body
        assert (await wait_for(sub, tw_state("cancelled"), 10))["outcome"] == "cancelled"
        await asyncio.sleep(0.5)
        assert len(await conference(service, call_id)) == 2
        assert not [c for c in await channels(service) if c.startswith("PJSIP/trunk-units-")]
        await unit.wait(10)
        status, body = await post(service, f"{base}/join")
        assert status == 409 and body["error"] == "no-threeway"
        assert service.bridge.calls.get(call_id).state.value != "ended"
        await realparts.hang_up_all(service.client)  # before the phones stop (else stray BYEs)
        await citizen.stop()
        await seat.stop()


async def test_citizen_hangs_up_during_three_way(service: Any, tmp_path: Path) -> None:
    base = f"{service.url}/api/seats/8001/threeway"
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY) as sub:
        call_id, seat, citizen = await live_call(service, sub, tmp_path, hold_ms=13000)
        unit = await phones.unit_phone(tmp_path, ring_ms=500, talk_ms=60000)
        status, body = await post(service, base, {"number": UNIT, "consult": False})
        assert status == 200, body
        await wait_for(sub, tw_state("joined"), 10)
        await asyncio.sleep(0.5)
        assert len(await conference(service, call_id)) == 3
        final = await wait_for(sub, tw_state("ended"), 20)
        assert final["outcome"] == "completed"
        assert await citizen.wait(10) == 0, citizen.errors()
        assert await unit.wait(10) == 0, unit.errors()
        for _ in range(30):
            if not await channels(service):
                break
            await asyncio.sleep(0.2)
        assert await channels(service) == []  # no orphan leg
        await seat.stop()


async def test_a_three_way_call_is_followed_again_by_a_restarted_service(service: Any, tmp_path: Path) -> None:
    """Three-way sessions live in the service's memory; the record says the attempt is joined. The first service
    stops following (as when it dies) while citizen, seat and unit are in the conference; a new one on the same
    database follows the call again: the seat leaves through it, the unit hangs up, and the attempt ends completed,
    as without the restart (test_unit_answers_join_leave_unit_hangs_up)."""
    base = f"{service.url}/api/seats/8001/threeway"
    async with service.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_THREEWAY) as sub:
        call_id, seat, citizen = await live_call(service, sub, tmp_path)
        unit = await phones.unit_phone(tmp_path, ring_ms=500, talk_ms=8000)
        status, body = await post(service, base, {"number": UNIT, "consult": False})
        assert status == 200, body
        await wait_for(sub, tw_state("joined"), 10)
    await service.threeway.close()  # nobody follows the attempt in this service from here
    await service.threeway.records.flush()
    again = service.settings.model_copy(update={"http_port": service.settings.http_port + 1})  # the same database
    async with Service(again) as restarted, restarted.bus.subscribe(TOPIC_THREEWAY) as sub:
        await asyncio.wait_for(restarted.bridge.resynced.wait(), 10)
        for _ in range(50):
            if restarted.threeway.current("8001") is not None:
                break
            await asyncio.sleep(0.1)
        current = restarted.threeway.current("8001")
        assert current is not None and current.state.value == "joined", current
        status, body = await post(restarted, f"{restarted.url}/api/seats/8001/threeway/leave")
        assert status == 200, body
        await wait_for(sub, tw_state("seat_left"), 10)
        final = await wait_for(sub, tw_state("ended"), 20)  # the unit hangs up after its talk
        assert final["outcome"] == "completed" and final["joined_at"] and final["seat_left_at"], final
        await restarted.threeway.records.flush()
        stored = await restarted.threeway.records.of_calls([call_id])
        assert [(a["state"], a["outcome"]) for a in stored] == [("ended", "completed")], stored
    assert await unit.wait(10) == 0, unit.errors()
    await citizen.stop()
    await seat.stop()
