"""/ws/seats/{seat} and /api/pause-reasons, on the seat routes alone (no Asterisk: the bus is fed here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ami_bridge.bridge import Bridge
from ami_bridge.constants import CallState, SeatState
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot, MissSnapshot, SeatSnapshot
from ami_bridge.topics import TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT, CallChange, MissChange
from hotline.api import errors
from hotline.bus import InProcessBus
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.seats.auth import SeatAuth
from hotline.seats.http import add_routes

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
REASONS = ("小休", "培训", "会议", "未接", "其他")
AUTH = SeatAuth(b"k" * 32, {"8001": "pw-8001", "8009": "pw-8009"})


def token(seat: str) -> str:
    return AUTH.login(seat, f"pw-{seat}")[0]


@pytest.fixture
async def served() -> AsyncIterator[tuple[TestClient[Any, Any], InProcessBus]]:
    bus = InProcessBus()
    bridge = Bridge(client=None, bus=bus, rule=RingRule(reason="未接"))  # type: ignore[arg-type]
    bridge.seats.restore([SeatSnapshot("8001", SeatState.PAUSED, "PJSIP/8001", "小休", since=T0)])
    app = web.Application(middlewares=[errors])
    control = SeatControl(None, "hotline", REASONS)  # type: ignore[arg-type]
    add_routes(app, control, BridgeLive(bridge), bus, auth=AUTH, pops=MemoryPops())
    async with TestClient(TestServer(app)) as client:
        yield client, bus


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), 5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


def seat_msg(seat: str, state: str, **more: Any) -> SeatSnapshot:
    return SeatSnapshot(seat, SeatState(state), f"PJSIP/{seat}", since=T0, **more)


def miss_msg(seat: str, call_id: str) -> MissChange:
    return MissChange(MissSnapshot(seat, call_id, T0, 10000, False, 1), pausing=True)


async def test_only_this_seats_changes_and_misses_arrive(served: tuple[TestClient[Any, Any], InProcessBus]) -> None:
    client, bus = served
    async with client.ws_connect("/ws/seats/8001", params={"token": token("8001")}) as ws:
        first = await receive(ws)
        assert first["topic"] == "snapshot" and first["pause_reasons"] == list(REASONS)
        assert first["miss_reason"] == "未接"
        assert first["seat"]["seat"] == "8001" and first["seat"]["state"] == "paused"
        assert first["seat"]["pause_reason"] == "小休" and first["seat"]["caller_number"] is None
        assert first["pop"] is None  # no call rings here
        # subscribed before the snapshot was sent: everything published from here on is seen
        await bus.publish(TOPIC_SEAT, seat_msg("8002", "ringing", call_id="c2"))
        await bus.publish(TOPIC_MISS, miss_msg("8002", "c2"))
        ringing = CallSnapshot("c1", CallState.RINGING, "13800138000", None, "12345", T0, seat="8001")
        await bus.publish(TOPIC_CALL, CallChange(ringing))  # not a seat page's topic
        await bus.publish(TOPIC_SEAT, seat_msg("8001", "ready"))
        await bus.publish(TOPIC_SEAT, seat_msg("80011", "ringing"))
        await bus.publish(TOPIC_MISS, miss_msg("8001", "c1"))
        await bus.publish(TOPIC_SEAT, seat_msg("8002", "paused", pause_reason="未接"))
        await bus.publish(TOPIC_SEAT, seat_msg("8001", "paused", pause_reason="未接", misses_in_row=1))
        got = [await receive(ws) for _ in range(3)]
        assert [(m["topic"], m["seat"], m.get("state")) for m in got] == [
            ("seat", "8001", "ready"),
            ("miss", "8001", None),
            ("seat", "8001", "paused"),
        ]
        assert got[1]["call_id"] == "c1" and got[1]["pausing"] is True
        assert got[2]["pause_reason"] == "未接" and got[2]["misses_in_row"] == 1
        with pytest.raises(TimeoutError):  # nothing else was for 8001
            await asyncio.wait_for(ws.receive(), 0.3)
    for _ in range(50):  # the handler's finally leaves the bus
        if not bus._subs:
            break
        await asyncio.sleep(0.02)
    assert not bus._subs, "the seat websocket's subscription outlived the socket"


async def test_a_seat_never_seen_is_logged_out(served: tuple[TestClient[Any, Any], InProcessBus]) -> None:
    client, _ = served
    async with client.ws_connect("/ws/seats/8009", params={"token": token("8009")}) as ws:
        first = await receive(ws)
    assert first["seat"]["seat"] == "8009" and first["seat"]["state"] == "logged_out"
    assert first["seat"]["misses_in_row"] == 0


@pytest.mark.parametrize("bad", ["80x1", "12", "1234567", "8001%20"])
async def test_a_bad_seat_number_is_refused_before_the_upgrade(
    served: tuple[TestClient[Any, Any], InProcessBus], bad: str
) -> None:
    client, bus = served
    resp = await client.get(f"/ws/seats/{bad}")
    body = await resp.json()
    assert resp.status == 400 and body["error"] == "invalid-input", body
    assert "seat" in body["message"] and body["details"] == {"field": "seat"}
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/ws/seats/{bad}")
    assert refused.value.status == 400
    assert not bus._subs


async def test_pause_reasons(served: tuple[TestClient[Any, Any], InProcessBus]) -> None:
    client, _ = served
    resp = await client.get("/api/pause-reasons")
    assert resp.status == 200
    assert await resp.json() == {"pause_reasons": list(REASONS), "miss_reason": "未接"}
    resp = await client.post("/api/seats/8001/dance")
    assert resp.status == 404 and (await resp.json())["error"] == "unknown-action"


async def test_a_stopping_service_closes_the_pages_at_once(served: tuple[TestClient[Any, Any], InProcessBus]) -> None:
    """A stop of the service tells every open page it is going away (1001) instead of waiting for each page's
    heartbeat to time out (about 30 s a page)."""
    client, _ = served
    ws = await client.ws_connect("/ws/seats/8001", params={"token": token("8001")})
    await receive(ws)
    started = asyncio.get_running_loop().time()
    await asyncio.wait_for(client.server.close(), 5)
    msg = await asyncio.wait_for(ws.receive(), 1)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY, msg
    assert asyncio.get_running_loop().time() - started < 5
    await ws.close()
