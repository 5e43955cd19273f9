"""Screen pops across web processes on the real Redis at redis://localhost:6379: a pop published where the
bridge runs reaches the seat's page served by another process, and that process can give the current pop
to a page that reconnects."""

from __future__ import annotations

import asyncio
import json
import os
import random
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
from ami_bridge.topics import TOPIC_CALL, CallChange
from hotline.api import errors
from hotline.bus import InProcessBus, RedisBus, TeeBus
from hotline.live import BridgeLive
from hotline.pops.current import KEY_PREFIX, RedisPops, make_current_pops
from hotline.pops.history import MemoryHistory
from hotline.pops.service import PopService, beside_bridge
from hotline.seats.auth import SeatAuth
from hotline.seats.http import add_routes
from tests.helpers import realparts

REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://localhost:6379/0")
PREFIX = f"hotline-test-{realparts.WORKER or 'main'}:"  # Redis channels are the server's: one set per test worker
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
CALLER = "13900139001"
S = CallState


@dataclass
class WebProcess:
    """What one web process has: its own Redis connection, its seat routes, its test server."""

    bus: RedisBus
    pops: RedisPops
    client: TestClient[Any, Any]

    def page(self, seat: str, auth: SeatAuth) -> Any:
        return self.client.ws_connect(f"/ws/seats/{seat}", params={"token": auth.login(seat, f"pw-{seat}")[0]})


@pytest.fixture
def seats() -> tuple[str, str]:
    """Seat numbers of this run only: runs sharing the Redis do not see each other's pops."""
    first = random.randrange(900_000, 999_000)
    return str(first), str(first + 1)


@pytest.fixture
def auth(seats: tuple[str, str]) -> SeatAuth:
    return SeatAuth(b"r" * 32, {seat: f"pw-{seat}" for seat in seats})


async def _web_process(auth: SeatAuth) -> AsyncIterator[WebProcess]:
    bus = RedisBus(REDIS_URL, prefix=PREFIX)
    await bus.ping()
    pops = make_current_pops(bus)
    assert isinstance(pops, RedisPops)
    bridge = Bridge(client=None, bus=bus, rule=RingRule())  # type: ignore[arg-type]
    app = web.Application(middlewares=[errors])
    add_routes(app, SeatControl(None, "hotline", ("小休",)), BridgeLive(bridge), bus, auth=auth, pops=pops)  # type: ignore[arg-type]
    try:
        async with TestClient(TestServer(app)) as client:
            yield WebProcess(bus, pops, client)
    finally:
        await bus.close()


@pytest.fixture
async def web_a(auth: SeatAuth) -> AsyncIterator[WebProcess]:
    """The process where the bridge and PopService run."""
    async for process in _web_process(auth):
        yield process


@pytest.fixture
async def web_b(auth: SeatAuth) -> AsyncIterator[WebProcess]:
    """Another web process: serves seat pages only."""
    async for process in _web_process(auth):
        yield process


@pytest.fixture
async def service(web_a: WebProcess) -> AsyncIterator[PopService]:
    history = MemoryHistory({CALLER: [{"id": 1, "status": "办理中", "unit": "市住建局"}]})
    svc = PopService(web_a.bus, history, web_a.pops)
    await svc.start()
    yield svc
    await svc.close()


def call(state: CallState, seat: str | None, call_id: str, **more: Any) -> CallChange:
    snap = CallSnapshot(
        call_id=call_id, state=state, caller_number=CALLER, caller_name=None, dialed="12345", started_at=T0,
        queue="hotline", queued_at=T0, seat=seat, ring_started_at=T0 + timedelta(seconds=4) if seat else None, **more,
    )  # fmt: skip
    return CallChange(snap, time.time())


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 3) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def test_a_pop_published_in_one_process_reaches_a_page_served_by_another(
    web_a: WebProcess, web_b: WebProcess, service: PopService, seats: tuple[str, str], auth: SeatAuth
) -> None:
    mine, other = seats
    async with web_b.page(mine, auth) as ws, web_b.page(other, auth) as ws_other:
        assert (await receive(ws))["pop"] is None
        assert (await receive(ws_other))["pop"] is None
        ringing = call(S.RINGING, mine, f"redis-call-{mine}")
        await web_a.bus.publish(TOPIC_CALL, ringing)  # the bridge, in process A
        pop = await receive(ws)
        assert (pop["topic"], pop["seat"], pop["state"], pop["caller_number"]) == ("pop", mine, "ringing", CALLER)
        assert pop["history"][0]["unit"] == "市住建局"
        # the current pop is readable from process B
        stored = await web_b.pops.get(mine)
        assert stored is not None and stored["call_id"] == pop["call_id"] and stored["rev"] == 1
        # a page that reconnects to process B gets it again
        async with web_b.page(mine, auth) as again:
            assert (await receive(again))["pop"]["call_id"] == pop["call_id"]
        await web_a.bus.publish(TOPIC_CALL, CallChange(replace(ringing.call, state=S.TALKING), time.time()))
        assert (await receive(ws))["state"] == "answered"
        ended_call = replace(
            ringing.call, state=S.ENDED, outcome=CallOutcome.ANSWERED, ended_at=T0 + timedelta(seconds=60)
        )
        await web_a.bus.publish(TOPIC_CALL, CallChange(ended_call, time.time()))
        ended = await receive(ws)
        assert (ended["state"], ended["end_reason"], ended["rev"]) == ("ended", "hung_up", 3)
        assert (await web_b.pops.get(mine) or {}).get("rev") == 3
        with pytest.raises(TimeoutError):  # the other seat saw nothing of it
            await asyncio.wait_for(ws_other.receive(), 0.3)
    ttl = await web_b.bus.redis.pttl(KEY_PREFIX + mine)
    assert 0 < ttl <= service.keep_s * 1000
    await web_b.bus.redis.delete(KEY_PREFIX + mine)


async def test_missed_at_one_seat_clears_its_current_pop_everywhere(
    web_a: WebProcess, web_b: WebProcess, service: PopService, seats: tuple[str, str], auth: SeatAuth
) -> None:
    first, second = seats
    async with web_b.page(first, auth) as ws1, web_b.page(second, auth) as ws2:
        await receive(ws1)
        await receive(ws2)
        call_id = f"redis-miss-{first}"
        await web_a.bus.publish(TOPIC_CALL, call(S.RINGING, first, call_id))
        assert (await receive(ws1))["state"] == "ringing"
        await web_a.bus.publish(TOPIC_CALL, call(S.QUEUED, None, call_id, misses=1))
        await web_a.bus.publish(TOPIC_CALL, call(S.RINGING, second, call_id, misses=1))
        missed = await receive(ws1)
        assert (missed["state"], missed["end_reason"]) == ("ended", "missed")
        assert (await receive(ws2))["state"] == "ringing"
    assert await web_b.pops.get(first) is None
    assert (await web_b.pops.get(second) or {}).get("call_id") == call_id
    await web_b.bus.redis.delete(KEY_PREFIX + first, KEY_PREFIX + second)


async def test_an_older_save_never_overwrites_a_newer_one(web_a: WebProcess, seats: tuple[str, str]) -> None:
    seat = seats[0]
    try:
        assert await web_a.pops.save(seat, 200, {"call_id": "new"}, 60)
        assert not await web_a.pops.save(seat, 100, {"call_id": "old"}, 60)  # late, from a slower task
        assert await web_a.pops.get(seat) == {"call_id": "new"}
        assert await web_a.pops.save(seat, 300, None, 60)  # cleared
        assert await web_a.pops.get(seat) is None
        assert not await web_a.pops.save(seat, 250, {"call_id": "stale"}, 60)  # the clear keeps its seq
        assert await web_a.pops.get(seat) is None
    finally:
        await web_a.bus.redis.delete(KEY_PREFIX + seat)


async def test_beside_the_bridge_pops_follow_its_snapshots_in_process(
    web_b: WebProcess, seats: tuple[str, str], auth: SeatAuth
) -> None:
    """As hotline.service wires it with REDIS_URL: the bridge publishes through a TeeBus, PopService reads
    the local side (no Redis round trip before a pop is built), and the pop still reaches other processes."""
    seat = seats[0]
    bus = RedisBus(REDIS_URL, prefix=PREFIX)
    bridge_bus, current, service = beside_bridge(bus, MemoryHistory())
    assert isinstance(bridge_bus, TeeBus) and isinstance(current, RedisPops)
    assert isinstance(service.source, InProcessBus) and service.bus is bus
    await service.start()
    try:
        async with web_b.page(seat, auth) as ws:
            await receive(ws)
            await bridge_bus.publish(TOPIC_CALL, call(S.RINGING, seat, f"tee-{seat}"))
            pop = await receive(ws)
            assert (pop["seat"], pop["state"], pop["call_id"]) == (seat, "ringing", f"tee-{seat}")
    finally:
        await service.close()
        await bus.redis.delete(KEY_PREFIX + seat)
        await bus.close()
    local, _, in_process = beside_bridge(InProcessBus(), MemoryHistory())
    assert isinstance(local, InProcessBus) and in_process.source is local  # one bus when there is no Redis
