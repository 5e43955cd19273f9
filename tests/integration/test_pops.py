"""Screen pops with the real Asterisk 22 and sipp: a citizen's call rings seat 8001, whose page (websocket,
with its login token) gets the pop, then the answer, then the end; seat 8002's page gets nothing of it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline.asterisk.instance import seat_passwords
from hotline.pops.history import MemoryHistory
from tests.helpers import realparts

pytestmark = pytest.mark.asterisk

CALLER = "13800138031"


async def token(http: aiohttp.ClientSession, service: Any, seat: str) -> str:
    body = {"seat": seat, "password": seat_passwords(service.settings)[seat]}
    async with http.post(f"{service.url}/api/session", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return str((await resp.json())["token"])


async def messages(ws: aiohttp.ClientWebSocketResponse, into: list[dict[str, Any]]) -> None:
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT:
            into.append(json.loads(msg.data))


async def next_pop(seen: list[dict[str, Any]], after: int, timeout: float = 20) -> tuple[int, dict[str, Any]]:
    """The first pop message in `seen` past index `after` (waiting for it), and its index."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for i in range(after + 1, len(seen)):
            if seen[i].get("topic") == "pop":
                return i, seen[i]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no pop after message {after}: {seen[after + 1 :]}")


async def test_a_real_call_pops_at_the_ringing_seat_only(service: Any, tmp_path: Path) -> None:
    service.pops.history = MemoryHistory({CALLER: [{"id": 7, "status": "办理中", "unit": "市水务局"}]})
    async with aiohttp.ClientSession(headers=realparts.leader_headers(service)) as http:  # the 班长 logs them in
        for seat in ("8001", "8002"):
            async with http.post(f"{service.url}/api/seats/{seat}/login") as resp:
                assert resp.status == 200, await resp.text()
        async with http.post(f"{service.url}/api/seats/8002/pause", json={"reason": "小休"}) as resp:
            assert resp.status == 200, await resp.text()  # logged in, but nothing rings there
        ws_url = service.url.replace("http", "ws")
        t1, t2 = await token(http, service, "8001"), await token(http, service, "8002")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # 8001's token opens 8001's page only
            await http.ws_connect(f"{ws_url}/ws/seats/8002", params={"token": t1})
        assert refused.value.status == 403
        seen1: list[dict[str, Any]] = []
        seen2: list[dict[str, Any]] = []
        async with (
            http.ws_connect(f"{ws_url}/ws/seats/8001", params={"token": t1}) as ws1,
            http.ws_connect(f"{ws_url}/ws/seats/8002", params={"token": t2}) as ws2,
        ):
            readers = [asyncio.create_task(messages(ws1, seen1)), asyncio.create_task(messages(ws2, seen2))]
            try:
                phone = await realparts.seat_phone("8001", 2000, tmp_path)
                citizen = await realparts.citizen_call(CALLER, 5000, tmp_path)
                i, ringing = await next_pop(seen1, 0)
                assert (ringing["seat"], ringing["state"], ringing["caller_number"]) == ("8001", "ringing", CALLER)
                assert isinstance(ringing["waited_ms"], int) and 0 <= ringing["waited_ms"] < 5000
                assert ringing["history"][0]["id"] == 7 and ringing["history"][0]["open"] is True
                assert ringing["draft"]["call_id"] == ringing["call_id"] and ringing["draft"]["seat"] == "8001"
                i, answered = await next_pop(seen1, i)
                assert (answered["call_id"], answered["state"], answered["rev"]) == (ringing["call_id"], "answered", 2)
                assert answered["answered_at"] is not None and answered["waited_ms"] >= ringing["waited_ms"]
                i, ended = await next_pop(seen1, i)
                assert (ended["state"], ended["end_reason"], ended["rev"]) == ("ended", "hung_up", 3)
                assert await citizen.wait(20) == 0, citizen.errors()
                assert await phone.wait(10) == 0, phone.errors()
                await asyncio.sleep(0.5)  # anything late for 8002 would have arrived by now
            finally:
                for task in readers:
                    task.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
    assert seen2[0]["topic"] == "snapshot" and seen2[0]["pop"] is None
    leaked = [m for m in seen2 if m.get("topic") == "pop" or m.get("call_id") == ringing["call_id"]]
    assert not leaked, leaked
    assert all(m.get("seat") in (None, "8001") or m["topic"] == "snapshot" for m in seen1)
    delays = list(service.pops.stats.delay_ms)
    assert delays and delays[-1] < 500, delays  # AgentCalled taken by the bridge -> pop published
