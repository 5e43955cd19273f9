"""PopService on the in-process bus with an in-memory history, and the seat websockets that show its pops."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ami_bridge.bridge import Bridge
from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot
from hotline.api import errors
from hotline.bus import InProcessBus, Subscription
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.pops.history import MemoryHistory
from hotline.pops.service import PopService
from hotline.seats.auth import SeatAuth
from hotline.seats.http import add_routes
from hotline.topics import TOPIC_CALL, TOPIC_POP, CallChange

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
S = CallState
CALLER = "13800138000"
AUTH = SeatAuth(b"k" * 32, {f"80{n:02}": f"pw-80{n:02}" for n in range(1, 10)})
TICKETS = {
    CALLER: [
        {"id": 11, "status": "已办结", "unit": "市住建局"},
        {"id": 12, "status": "办理中", "unit": "区城管局"},
    ]
}


def call(state: CallState, seat: str | None = "8001", call_id: str = "c1", **more: Any) -> CallSnapshot:
    snap = CallSnapshot(
        call_id=call_id, state=state, caller_number=CALLER, caller_name=None, dialed="12345", started_at=T0,
        queue="hotline", queued_at=T0 + timedelta(seconds=3), seat=seat,
        ring_started_at=T0 + timedelta(seconds=5) if seat else None,
    )  # fmt: skip
    return replace(snap, **more)


@dataclass
class Floor:
    bus: InProcessBus
    history: MemoryHistory
    current: MemoryPops
    service: PopService
    client: TestClient[Any, Any]

    async def send(self, snap: CallSnapshot) -> None:
        await self.bus.publish(TOPIC_CALL, CallChange(snap, time.time()))

    def page(self, seat: str, token: str | None = None) -> Any:
        return self.client.ws_connect(f"/ws/seats/{seat}", params={"token": token or AUTH.login(seat, f"pw-{seat}")[0]})


@pytest.fixture
async def floor() -> AsyncIterator[Floor]:
    bus = InProcessBus()
    history = MemoryHistory(TICKETS, {CALLER: {"ticket_id": 11, "result": "满意"}})
    current = MemoryPops()
    service = PopService(bus, history, current, history_timeout=0.5)
    await service.start()
    bridge = Bridge(client=None, bus=bus, rule=RingRule())  # type: ignore[arg-type]
    app = web.Application(middlewares=[errors])
    add_routes(app, SeatControl(None, "hotline", ("小休",)), BridgeLive(bridge), bus, auth=AUTH, pops=current)  # type: ignore[arg-type]
    try:
        async with TestClient(TestServer(app)) as client:
            yield Floor(bus, history, current, service, client)
    finally:
        await service.close()
    assert not service._tasks, "PopService left tasks behind"


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def nothing_more(ws: aiohttp.ClientWebSocketResponse, within: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        got = await asyncio.wait_for(ws.receive(), within)
        pytest.fail(f"unexpected message: {got}")


async def pops_of(sub: Subscription, n: int) -> list[dict[str, Any]]:
    return [(await sub.get(timeout=3))[1] for _ in range(n)]


async def test_a_ring_pops_only_at_that_seat_then_answer_and_hang_up(floor: Floor) -> None:
    async with floor.page("8001") as ws1, floor.page("8002") as ws2:
        assert (await receive(ws1))["pop"] is None
        assert (await receive(ws2))["pop"] is None
        await floor.send(call(S.QUEUED, seat=None))
        await floor.send(call(S.RINGING))
        pop = await receive(ws1)
        assert pop["topic"] == "pop" and pop["state"] == "ringing" and pop["rev"] == 1
        assert pop["seat"] == "8001" and pop["call_id"] == "c1" and pop["caller_number"] == CALLER
        assert pop["waited_ms"] == 2000  # queued at 3 s, rang at 5 s
        assert [(t["id"], t["open"]) for t in pop["history"]] == [(12, True), (11, False)]  # open first
        assert pop["open_tickets"] == 1 and pop["last_callback"] == {"ticket_id": 11, "result": "满意"}
        assert pop["draft"]["call_id"] == "c1" and pop["draft"]["seat"] == "8001" and pop["draft"]["category"] is None
        await floor.send(call(S.TALKING, answered_at=T0 + timedelta(seconds=8), wait_ms=5000))
        answered = await receive(ws1)
        assert (answered["state"], answered["rev"], answered["waited_ms"]) == ("answered", 2, 5000)
        assert answered["history"] == pop["history"]
        await floor.send(call(S.AFTER_SEAT))
        ended = await receive(ws1)
        assert (ended["state"], ended["end_reason"], ended["rev"]) == ("ended", "hung_up", 3)
        await floor.send(call(S.ENDED, ended_at=T0 + timedelta(seconds=60), outcome=CallOutcome.ANSWERED))
        await nothing_more(ws1)  # already ended for the seat
        await nothing_more(ws2, 0.1)  # 8002 saw nothing of it
    assert floor.history.lookups == 2  # history and last callback, once, for both states
    assert floor.service.stats.opened == 1 and len(floor.service.stats.delay_ms) == 1


async def test_missed_at_one_seat_then_rings_the_next(floor: Floor) -> None:
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.QUEUED, seat=None))
        await floor.send(call(S.RINGING, seat="8001"))
        first = (await pops_of(sub, 1))[0]
        assert (first["seat"], first["state"]) == ("8001", "ringing")
        assert await floor.current.get("8001") == first
        await floor.send(call(S.QUEUED, seat=None, misses=1))
        await floor.send(call(S.RINGING, seat="8002", misses=1, ring_started_at=T0 + timedelta(seconds=16)))
        missed, second = await pops_of(sub, 2)
        assert (missed["seat"], missed["state"], missed["end_reason"]) == ("8001", "ended", "missed")
        assert (second["seat"], second["state"], second["rev"]) == ("8002", "ringing", 1)
        assert second["waited_ms"] == 13000  # the citizen's wait goes on across seats
        assert await floor.current.get("8001") is None  # a missed pop is not shown again
        assert await floor.current.get("8002") == second
    assert floor.history.lookups == 2  # looked up once for the call, used at both seats


async def test_a_reconnecting_page_gets_the_current_pop_again(floor: Floor) -> None:
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING))
        ringing = (await pops_of(sub, 1))[0]
        async with floor.page("8001") as ws:  # a reload mid-ring
            first = await receive(ws)
            assert first["topic"] == "snapshot" and first["pop"] == ringing
            await floor.send(call(S.TALKING))
            assert (await receive(ws))["state"] == "answered"
        async with floor.page("8001") as ws:
            assert (await receive(ws))["pop"]["state"] == "answered"
        await floor.send(call(S.ENDED, outcome=CallOutcome.ANSWERED, ended_at=T0 + timedelta(seconds=30)))
        await pops_of(sub, 2)
        async with floor.page("8001") as ws:  # after hang-up the seat still has it while writing the ticket
            pop = (await receive(ws))["pop"]
            assert (pop["state"], pop["end_reason"]) == ("ended", "hung_up")
        async with floor.page("8002") as ws:
            assert (await receive(ws))["pop"] is None  # never another seat's


async def test_the_next_call_replaces_the_seats_current_pop(floor: Floor) -> None:
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING))
        await pops_of(sub, 1)
        await floor.send(call(S.ENDED, outcome=CallOutcome.ABANDONED, ended_at=T0 + timedelta(seconds=9)))
        abandoned = (await pops_of(sub, 1))[0]
        assert (abandoned["state"], abandoned["end_reason"]) == ("ended", "abandoned")
        assert await floor.current.get("8001") is None
        await floor.send(call(S.RINGING, call_id="c2"))
        assert (await pops_of(sub, 1))[0]["call_id"] == "c2"
        assert (await floor.current.get("8001") or {}).get("call_id") == "c2"


async def test_history_failure_or_slowness_never_holds_the_pop(floor: Floor) -> None:
    floor.history.fail = RuntimeError("database is down")
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING))
        pop = (await pops_of(sub, 1))[0]
        assert pop["history"] == [] and "database is down" in pop["history_error"]
        floor.history.fail = None
        floor.history.delay = 2  # longer than the service's history_timeout (0.5 s)
        started = time.monotonic()
        await floor.send(call(S.RINGING, call_id="c2", seat="8002"))
        late = (await pops_of(sub, 1))[0]
        assert 0.4 < time.monotonic() - started < 1.5
        assert late["seat"] == "8002" and late["history"] == [] and "not ready" in late["history_error"]
    assert floor.service.stats.history_errors == 2


async def test_updates_wait_for_the_opening_pop(floor: Floor) -> None:
    """An answer that comes while the history is still read: the ringing pop goes first, then the answer."""
    floor.history.delay = 0.2
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING))
        await floor.send(call(S.TALKING))
        got = await pops_of(sub, 2)
        assert [(p["state"], p["rev"]) for p in got] == [("ringing", 1), ("answered", 2)]


async def test_a_call_that_moved_on_while_its_history_was_read_does_not_pop(floor: Floor) -> None:
    floor.history.delay = 0.2
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING))
        await floor.send(call(S.ENDED, outcome=CallOutcome.ABANDONED, ended_at=T0 + timedelta(seconds=6)))
        with pytest.raises(TimeoutError):
            await sub.get(timeout=0.5)
    assert await floor.current.get("8001") is None


async def test_no_caller_number_pops_without_a_lookup(floor: Floor) -> None:
    async with floor.bus.subscribe(TOPIC_POP) as sub:
        await floor.send(call(S.RINGING, caller_number=None))
        pop = (await pops_of(sub, 1))[0]
    assert pop["caller_number"] is None and pop["history"] == [] and pop["history_error"] is None
    assert floor.history.lookups == 0


async def test_close_cancels_work_in_flight(floor: Floor) -> None:
    floor.history.delay = 30
    await floor.send(call(S.RINGING))
    await asyncio.sleep(0.05)
    assert floor.service._tasks  # the lookup and the pop wait on the history
    started = time.monotonic()
    await floor.service.close()
    assert time.monotonic() - started < 1 and not floor.service._tasks
