"""Auto-answer after two rings for headset seats: the header the seat's phone type honours reaches
a real sipp phone; a seat without it gets neither header."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge.constants import AutoAnswer
from ami_bridge.seat_control import SeatInputError
from ami_bridge.topics import TOPIC_CALL
from tests.helpers import realparts
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk


async def invite_seen_by(service: Any, seat: str, mode: str, caller: str, tmp_path: Path) -> str:
    """Set the seat's auto-answer, ring it once with a real call, return the INVITE its phone got."""
    await service.seats.login(seat)
    assert await service.seats.set_auto_answer(seat, mode) == AutoAnswer(mode)
    assert await service.seats.auto_answer(seat) == AutoAnswer(mode), "read back from Asterisk's database"
    phone = await realparts.traced_seat_phone(seat, 1000, tmp_path)
    async with service.bus.subscribe(TOPIC_CALL) as sub:
        citizen = await realparts.citizen_call(caller, 3000, tmp_path)
        await wait_for(sub, lambda m: m.get("caller_number") == caller and m["state"] == "talking", 20)
    await realparts.hang_up_all(service.client)
    await citizen.stop()
    await phone.stop()
    await asyncio.sleep(0.2)
    log = realparts.messages_of(phone)
    invites = re.findall(r"^INVITE sip:.*?(?=\n\n)", log, re.M | re.S)
    assert invites, f"the seat's phone got no INVITE; its log:\n{log[-2000:]}"
    return str(invites[0])


@pytest.mark.parametrize(
    ("seat", "mode", "header"),
    [
        pytest.param("8002", "call-info", r"^Call-Info:\s*<sip:hotline>;answer-after=6\s*$", id="Call-Info"),
        pytest.param(
            "8003",
            "alert-info",
            r"^Alert-Info:\s*<http://localhost>;info=alert-autoanswer;delay=6\s*$",
            id="Alert-Info",
        ),
    ],
)
async def test_the_auto_answer_header_reaches_the_seats_phone(
    service: Any, tmp_path: Path, seat: str, mode: str, header: str
) -> None:
    invite = await invite_seen_by(service, seat, mode, f"1390013{seat}", tmp_path)
    assert re.search(header, invite, re.M | re.I), invite
    await service.seats.set_auto_answer(seat, "off")


async def test_a_seat_without_auto_answer_gets_no_such_header(service: Any, tmp_path: Path) -> None:
    invite = await invite_seen_by(service, "8004", "off", "13900138004", tmp_path)
    assert not re.search(r"^(Call-Info|Alert-Info):", invite, re.M | re.I), invite


async def test_auto_answer_over_http_and_bad_input_refused(service: Any) -> None:
    url = f"{service.url}/api/seats/8004/auto-answer"
    async with aiohttp.ClientSession(headers=realparts.leader_headers(service)) as http:
        async with http.put(url, json={"auto_answer": "alert-info"}) as resp:
            assert resp.status == 200 and (await resp.json())["auto_answer"] == "alert-info"
        async with http.get(url) as resp:
            assert await resp.json() == {"seat": "8004", "auto_answer": "alert-info"}
        for body, says in [
            ({"auto_answer": "intercom"}, "auto_answer: 'intercom' is not a way to auto-answer; one of off"),
            ({}, "auto_answer: required"),
        ]:
            async with http.put(url, json=body) as resp:
                error = await resp.json()
            assert resp.status == 400 and error["error"] == "invalid-input" and says in error["message"], error
        async with http.put(f"{service.url}/api/seats/80x4/auto-answer", json={"auto_answer": "off"}) as resp:
            assert resp.status == 400 and "seat" in (await resp.json())["message"]
        async with http.get(url) as resp:
            assert (await resp.json())["auto_answer"] == "alert-info", "a refused change changed nothing"
        async with http.put(url, json={"auto_answer": "off"}) as resp:
            assert resp.status == 200
    with pytest.raises(SeatInputError):
        await service.seats.set_auto_answer("8004", "intercom")
    assert await service.seats.auto_answer("8004") is AutoAnswer.OFF
