"""Floor statistics from real calls: the counters, the wallboard websocket, /metrics, the daily report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge.topics import TOPIC_CALL
from tests.helpers import realparts
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk


async def test_answer_after_three_seconds_is_within_two_rings_and_pushed_to_the_wallboard(
    service: Any, tmp_path: Path
) -> None:
    await service.seats.login("8008")
    phone = await realparts.seat_phone("8008", 3000, tmp_path)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # citizens' numbers: staff only
            await http.ws_connect(f"{service.url}/ws/floor")
    assert refused.value.status == 401
    leader = realparts.leader_headers(service)
    async with aiohttp.ClientSession(headers=leader) as http, http.ws_connect(f"{service.url}/ws/floor") as ws:
        first = json.loads((await ws.receive()).data)
        assert first["topic"] == "snapshot" and first["floor"]["today"]["total"]["offered"] == 0
        async with service.bus.subscribe(TOPIC_CALL) as sub:
            citizen = await realparts.citizen_call("13900139008", 6000, tmp_path)
            await wait_for(sub, lambda m: m.get("caller_number") == "13900139008" and m["state"] == "ended", 30)
        floors = []
        while not floors or floors[-1]["today"]["total"]["answered"] < 1:
            msg = json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
            if msg["topic"] == "floor":
                floors.append(msg)
    assert any(f["live"]["waiting"] == 1 for f in floors), "the wallboard saw the call waiting"
    total = floors[-1]["today"]["total"]
    assert (total["offered"], total["answered"], total["lost"], total["within_two_rings"]) == (1, 1, 0, 1)
    assert total["two_ring_share"] == 1.0 and total["service_level"] == 1.0 and total["answer_rate"] == 1.0
    assert 2.5 <= total["avg_ring_s"] <= 4.0, total
    seat = floors[-1]["today"]["seats"]["8008"]
    assert (seat["answered"], seat["within_two_rings"], seat["misses"]) == (1, 1, 0)
    await citizen.stop()
    await phone.stop()

    async with aiohttp.ClientSession(headers=leader) as http:
        async with http.get(f"{service.url}/metrics") as resp:
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
        async with http.get(f"{service.url}/api/reports/daily") as resp:
            report = await resp.json()
        async with http.get(f"{service.url}/api/reports/daily", params={"format": "csv"}) as resp:
            rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert 'hotline_calls_within_two_rings{window="today"} 1.0' in text
    assert 'hotline_answer_rate{window="24h"} 1.0' in text
    assert 'hotline_seat_calls{result="answered",seat="8008"} 1.0' in text
    assert "hotline_answer_rate_target 0.95" in text
    saved = [line for line in text.splitlines() if line.startswith("hotline_writebehind_saved_total ")]
    assert saved and float(saved[0].split()[1]) > 0 and "hotline_writebehind_failures_total 0.0" in text
    assert "hotline_writebehind_pending" in text  # what ops alert on while the database is down
    assert report["total"]["offered"] == 1 and len(report["half_hours"]) == 48
    busy = [s for s in report["half_hours"] if s["offered"]]
    assert len(busy) == 1 and busy[0]["answered"] == 1
    assert rows[0][:3] == ["start", "end", "offered"] and len(rows) == 49
    assert sum(int(r[2]) for r in rows[1:]) == 1


async def test_daily_report_refuses_a_bad_date(service: Any) -> None:
    async with aiohttp.ClientSession(headers=realparts.leader_headers(service)) as http:
        async with http.get(f"{service.url}/api/reports/daily", params={"date": "2026-13-01"}) as resp:
            body = await resp.json()
        assert resp.status == 400 and body["error"] == "invalid-input" and "date" in body["message"]
        async with http.get(f"{service.url}/api/reports/daily", params={"format": "xls"}) as resp:
            assert resp.status == 400 and "format" in (await resp.json())["message"]
        async with http.get(f"{service.url}/api/reports/daily", params={"date": "2020-01-01"}) as resp:
            old = await resp.json()
        assert resp.status == 200 and old["total"]["offered"] == 0 and len(old["half_hours"]) == 48
