"""The IVR and the survey with real parts: Asterisk, the FastAGI server in the service, sipp citizens
pressing keys as RFC 2833 telephone-events (hotline.demo.dtmf), sipp seats that hang up first.

Key presses are timed from the moment Asterisk answers the citizen: each lands inside the prompt that
asks for it (prompt lengths: ivr/prompts.toml as spoken by espeak-ng; see the constants below).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge.client import AmiClient
from hotline.demo import phones
from hotline.demo.phones import Phone
from hotline.recordings.files import sox_duration
from hotline.service import Service
from hotline.settings import Settings
from hotline.tickets import validate
from hotline.topics import TOPIC_CALL, TOPIC_SURVEY, TOPIC_THREEWAY, Topic, as_json
from tests.helpers import realparts
from tests.helpers.polling import frames_until, wait_for

pytestmark = pytest.mark.asterisk


def prompt_s(asterisk: Any, *names: str) -> float:
    """Seconds of the instance's prompts (as built from ivr/prompts.toml at its start), end to end."""
    sounds = asterisk.host_path(asterisk.inner / "sounds")
    durations = [sox_duration(sounds / f"{name}.wav") for name in names]
    assert None not in durations, f"a prompt is missing in {sounds}: {names}"
    return sum(d for d in durations if d is not None)


def ivr_ms(asterisk: Any) -> int:
    """The welcome and the emergency notice: before the menu, the offer or the queue."""
    return int(prompt_s(asterisk, "ivr-welcome", "ivr-emergency") * 1000)


SURVEY_AT_MS = 4000  # ivr off, seat answers after 300 ms and talks 1 s: the survey prompt (11–16 s) is playing
LEVELS_5 = ("非常满意", "满意", "基本满意", "不满意", "非常不满意")


@contextlib.asynccontextmanager
async def ivr_service(settings: Settings, tmp_path: Path, **overrides: object) -> AsyncIterator[Service]:
    local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path / 'ivr.db'}", **overrides})
    async with Service(local) as svc:
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        try:
            yield svc
        finally:
            await realparts.hang_up_all(svc.client)
            for seat in [s.seat for s in svc.bridge.seats.all() if s.state.value != "logged_out"]:
                with contextlib.suppress(Exception):
                    await svc.seats.logout(seat)


async def done(svc: Service, *sipp: Phone) -> None:
    """Hang up what is still up, then stop the phones (a stopped phone's call would get BYEs for 32 s)."""
    await realparts.hang_up_all(svc.client)
    for phone in sipp:
        await phone.stop()


def citizen(number: str, keys: list[tuple[int, str]], tmp_path: Path, index: int, hold_ms: int = 60000) -> Any:
    return phones.citizen_ivr_call(number, keys, tmp_path, sip_port=realparts.SIP_PORT, index=index, hold_ms=hold_ms)


async def collect(
    sub: Any, want: Callable[[str, dict[str, Any]], str | None], n: int, timeout: float
) -> dict[str, dict[str, Any]]:
    """The first n distinct messages that `want` names (by the key it returns), within `timeout` s in all."""
    got: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(timeout):
        while len(got) < n:
            topic, message = await sub.get(timeout=timeout)
            data = as_json(message)
            key = want(topic, data)
            if key is not None:
                got[key] = data
    return got


async def call_view(http: aiohttp.ClientSession, svc: Service, call_id: str) -> dict[str, Any]:
    """GET /api/calls/<id>: live, or from the database once the bridge has written the ended call."""
    for _ in range(50):
        async with http.get(f"{svc.url}/api/calls/{call_id}") as resp:
            if resp.status == 200:
                body: dict[str, Any] = await resp.json()
                return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} not found by the API")


async def satisfaction_today(svc: Service, surveyed: int) -> dict[str, Any]:
    """The floor's satisfaction figures of today once it has counted `surveyed` results (it follows the bus)."""
    for _ in range(50):
        today: dict[str, Any] = svc.floor.view()["satisfaction"]["today"]
        if today["total"]["surveyed"] >= surveyed:
            break
        await asyncio.sleep(0.1)
    return today


async def test_default_flow_rings_a_seat_within_a_few_seconds(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    async with ivr_service(settings, tmp_path) as svc:
        await svc.seats.login("8001")
        seat = await realparts.seat_phone("8001", 500, tmp_path)
        caller = await citizen("13900139031", [], tmp_path, 1, hold_ms=15000)
        seen = await frames_until(ami, lambda f: f.name == "AgentCalled" and f.get("CallerIDNum") == "13900139031", 30)
        start = next(t for t, f in seen if f.name == "Newchannel" and f.get("CallerIDNum") == "13900139031")
        to_ring = seen[-1][0] - start
        print(f"\ncall start → AgentCalled: {to_ring:.2f} s")
        assert to_ring < 9.0, f"the caller waited {to_ring:.1f} s before a seat rang"
        assert svc.ivr.server.sessions >= 1
        await done(svc, caller, seat)


async def test_survey_stores_every_level_on_the_call_the_seat_and_the_ticket(
    asterisk: Any, settings: Settings, tmp_path: Path
) -> None:
    seats = ["8001", "8002", "8003", "8004", "8005"]
    async with ivr_service(settings, tmp_path, ivr=False, callback_offer_wait_s=0) as svc:
        for s in seats:
            await svc.seats.login(s)
        async with svc.bus.subscribe(TOPIC_CALL, TOPIC_SURVEY) as sub:
            sipp = [await phones.hanging_up_seat_phone(s, 300, 1000, tmp_path) for s in seats]
            for level in range(1, 6):
                sipp.append(await citizen(f"1390013904{level}", [(SURVEY_AT_MS, str(level))], tmp_path, level))

            def want(topic: Topic[Any], m: dict[str, Any]) -> str | None:
                if not str(m.get("caller_number")).startswith("1390013904"):
                    return None
                if topic == TOPIC_CALL and m["state"] == "talking":
                    return f"talking {m['caller_number']}"
                return f"survey {m['caller_number']}" if topic == TOPIC_SURVEY else None

            got = await collect(sub, want, 10, 30)
        floor = await satisfaction_today(svc, 5)
        async with aiohttp.ClientSession(headers=realparts.leader_headers(svc)) as http:
            for level in range(1, 6):
                number = f"1390013904{level}"
                r, call = got[f"survey {number}"], got[f"talking {number}"]
                assert (r["level"], r["label"], r["reason"], r["scale"]) == (level, LEVELS_5[level - 1], "answered", 5)
                assert (r["call_id"], r["seat"]) == (call["call_id"], call["seat"]), "the seat that took the call"
                assert r["satisfied"] is (level <= 3)
                assert (await call_view(http, svc, r["call_id"]))["survey"]["label"] == LEVELS_5[level - 1]  # call
                assert floor["seats"][call["seat"]]["levels"] == {LEVELS_5[level - 1]: 1}  # on the seat
        assert (floor["total"]["answered"], floor["total"]["satisfied"], floor["total"]["satisfaction_rate"]) == (
            5,
            3,
            0.6,
        )
        rated = got["survey 13900139042"]  # a ticket filed on a call shows its rating
        ticket = await svc.tickets.create(
            validate.new_ticket({"call_id": rated["call_id"], "caller_number": "13900139042", "content": "路灯不亮",
                                 "category": "求助"})
        )  # fmt: skip
        assert [(s["call_id"], s["label"]) for s in (await svc.tickets.get(ticket.id)).parts["surveys"]] == [
            (rated["call_id"], "满意")
        ]
        await done(svc, *sipp)


async def test_survey_no_answer_hang_up_and_three_levels(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    async with ivr_service(
        settings, tmp_path, ivr=False, callback_offer_wait_s=0, survey_scale=3, ivr_retries=0, ivr_digit_timeout_s=1
    ) as svc:
        seats = ("8006", "8007", "8008", "8010")
        for s in seats:
            await svc.seats.login(s)
        async with svc.bus.subscribe(TOPIC_SURVEY) as sub:
            sipp = [await phones.hanging_up_seat_phone(s, 300, 1000, tmp_path) for s in seats]
            sipp.append(await citizen("13900139051", [], tmp_path, 6, hold_ms=30000))  # says nothing
            sipp.append(await citizen("13900139052", [(SURVEY_AT_MS, "3")], tmp_path, 7))
            sipp.append(await citizen("13900139053", [], tmp_path, 8, hold_ms=SURVEY_AT_MS))  # hangs up in the survey
            sipp.append(await citizen("13900139054", [(SURVEY_AT_MS, "5")], tmp_path, 9))  # no 5 on this scale

            def want(topic: Topic[Any], m: dict[str, Any]) -> str | None:
                return m["caller_number"] if str(m.get("caller_number")).startswith("1390013905") else None

            got = await collect(sub, want, 4, 30)
        silent, rating, gone, wrong = (got[f"1390013905{n}"] for n in range(1, 5))
        assert (silent["label"], silent["level"], silent["satisfied"], silent["reason"]) == (
            "未评价",
            None,
            None,
            "timeout",
        )
        assert (rating["label"], rating["level"], rating["scale"], rating["satisfied"]) == ("不满意", 3, 3, False)
        assert (gone["label"], gone["level"], gone["reason"]) == ("未评价", None, "hangup")
        assert (wrong["label"], wrong["level"], wrong["reason"]) == ("未评价", None, "invalid")
        assert sorted(r["seat"] for r in got.values()) == sorted(seats)
        total = (await satisfaction_today(svc, 4))["total"]
        assert (total["surveyed"], total["answered"], total["satisfied"]) == (4, 1, 0)
        assert total["levels"] == {"未评价": 3, "不满意": 1}
        for r in got.values():
            stored = await svc.ivr.surveys.get(r["call_id"])
            assert stored is not None and (stored.label, stored.seat) == (r["label"], r["seat"])
        await done(svc, *sipp)


async def test_menu_choice_invalid_key_and_timeout_reach_the_queue(
    asterisk: Any, settings: Settings, tmp_path: Path
) -> None:
    menu = {"1": "普通话", "2": "粤语"}
    seats = ("8001", "8002", "8003", "8004")
    async with ivr_service(
        settings, tmp_path, ivr_menu=menu, callback_offer_wait_s=0, ivr_retries=1, ivr_digit_timeout_s=1, survey=False
    ) as svc:
        for s in seats:
            await svc.seats.login(s)
        sipp = [await realparts.seat_phone(s, 300, tmp_path) for s in seats]
        async with svc.bus.subscribe(TOPIC_CALL) as sub:
            key_at = ivr_ms(asterisk) + 1000  # during the menu prompt
            sipp.append(await citizen("13900139061", [(key_at, "2")], tmp_path, 11, hold_ms=30000))
            sipp.append(await citizen("13900139064", [(key_at, "1")], tmp_path, 14, hold_ms=30000))
            sipp.append(await citizen("13900139062", [(key_at, "9")], tmp_path, 12, hold_ms=30000))
            sipp.append(await citizen("13900139063", [], tmp_path, 13, hold_ms=30000))

            def want(topic: Topic[Any], m: dict[str, Any]) -> str | None:
                if str(m.get("caller_number")).startswith("1390013906") and m["state"] == "talking":
                    return str(m["caller_number"])
                return None

            results = await collect(sub, want, 4, 30)
        assert results["13900139061"]["ivr"] == "粤语"
        assert results["13900139064"]["ivr"] == "普通话"
        assert results["13900139062"]["ivr"] == "菜单:未选", "an invalid key, then the retries: to the queue"
        assert results["13900139063"]["ivr"] == "菜单:未选", "no key: to the queue"
        assert {m["seat"] for m in results.values()} == set(seats)
        await done(svc, *sipp)


async def test_callback_offer_registers_the_confirmed_number(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    # no seat logged in: the expected wait is unknown (long), so the call-back is offered
    async with ivr_service(settings, tmp_path, callback_offer_wait_s=60, ivr_digit_timeout_s=3) as svc:
        async with svc.bus.subscribe(TOPIC_CALL) as sub:
            offer_at = ivr_ms(asterisk) + 1000  # during the offer
            # 1: call me back; the number read back ("回电号码是" and 11 digits); 1: confirmed, during that prompt
            read_back = prompt_s(asterisk, "callback-number-is", *(f"digit-{d}" for d in "13900139071"))
            confirm_at = int(read_back * 1000) + 1500
            wants = await citizen("13900139071", [(offer_at, "1"), (confirm_at, "1")], tmp_path, 21)
            waits = await citizen("13900139072", [(offer_at, "2")], tmp_path, 22)  # 2: goes on waiting
            queued = await wait_for(  # the IVR's HOTLINE_IVR reaches the call as the caller joins the queue
                sub, lambda m: m.get("caller_number") == "13900139072" and m["state"] == "queued" and m["ivr"], 20
            )
            assert queued["ivr"] == "回电:继续等候"
            for _ in range(300):
                rows = await svc.ivr.surveys.callbacks()
                if rows:
                    break
                await asyncio.sleep(0.1)
        assert [(r.number, r.caller_number, r.status) for r in rows] == [("13900139071", "13900139071", "pending")]
        assert rows[0].call_id and rows[0].id is not None
        assert await wants.wait(15) == 0, "Asterisk hangs up after 已为您登记回电"
        await done(svc, wants, waits)


async def test_survey_after_a_three_way_call_rates_the_seat(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    async with ivr_service(settings, tmp_path, ivr=False) as svc:
        await svc.seats.login("8009")
        async with svc.bus.subscribe(TOPIC_CALL, TOPIC_THREEWAY, TOPIC_SURVEY) as sub:
            seat = await realparts.seat_phone("8009", 300, tmp_path)
            # the seat brings in a unit and leaves; the unit hangs up 1.5 s after answering: the citizen,
            # alone in the conference, goes to [threeway-after] and rates the call (survey prompt 16.6 s)
            caller = await citizen("13900139091", [(7000, "2")], tmp_path, 41)
            talking = await wait_for(sub, lambda m: m.get("caller_number") == "13900139091" and m["state"] == "talking")
            unit = await phones.unit_phone(tmp_path, ring_ms=300, talk_ms=1500)
            base = f"{svc.url}/api/seats/8009/threeway"
            async with aiohttp.ClientSession(headers=realparts.seat_headers(svc, "8009")) as http:
                async with http.post(base, json={"number": "057187001200", "consult": False}) as resp:
                    assert resp.status == 200, await resp.text()
                await wait_for(sub, lambda m: "attempt_id" in m and m["state"] == "joined", 10)
                async with http.post(f"{base}/leave", json={}) as resp:
                    assert resp.status == 200, await resp.text()
            ended = await wait_for(sub, lambda m: "attempt_id" in m and m["state"] == "ended", 10)
            assert ended["outcome"] == "completed"
            rated = await wait_for(sub, lambda m: m.get("caller_number") == "13900139091" and "label" in m, 20)
        assert (rated["call_id"], rated["seat"], rated["label"], rated["reason"]) == (
            talking["call_id"], "8009", "满意", "answered",
        )  # fmt: skip
        await done(svc, caller, seat, unit)


async def test_fastagi_down_the_call_still_reaches_a_seat(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    async with ivr_service(settings, tmp_path) as svc:
        await svc.ivr.close()  # the FastAGI server stops: AGI() fails, the dialplan goes on to the queue
        await svc.seats.login("8008")
        seat = await realparts.seat_phone("8008", 500, tmp_path)
        async with svc.bus.subscribe(TOPIC_CALL) as sub:
            caller = await realparts.citizen_call("13900139081", 3000, tmp_path, index=31)
            talking = await wait_for(
                sub, lambda m: m.get("caller_number") == "13900139081" and m["state"] == "talking", 20
            )
        assert talking["seat"] == "8008"
        await done(svc, caller, seat)


async def test_a_survey_cut_by_the_ivr_dying_is_asked_again(asterisk: Any, settings: Settings, tmp_path: Path) -> None:
    """The FastAGI server (in the service's process) goes away in the middle of a citizen's survey and is back at
    once, as when `hotline run`'s keeper replaces a dead process: the dialplan asks again ([survey-again]) and the
    citizen's key is recorded as without the cut."""
    async with ivr_service(settings, tmp_path, ivr=False, callback_offer_wait_s=0) as svc:
        await svc.seats.login("8009")
        seat = await phones.hanging_up_seat_phone("8009", 300, 1000, tmp_path)
        async with svc.bus.subscribe(TOPIC_SURVEY) as sub:
            caller = await citizen("13900139099", [(SURVEY_AT_MS + 4000, "2")], tmp_path, 12)
            for _ in range(200):  # the survey's session has begun
                if svc.ivr.server.active:
                    break
                await asyncio.sleep(0.05)
            assert svc.ivr.server.active, "no survey session"
            await svc.ivr.server.close()  # the session dies with it: AGISTATUS=FAILURE
            svc.ivr.server = type(svc.ivr.server)(svc.ivr.server.config, svc.ivr.server.on_survey,
                                                  svc.ivr.server.on_callback)  # fmt: skip
            await svc.ivr.server.start(settings.agi_host, settings.agi_port)
            result = await wait_for(sub, lambda m: m.get("caller_number") == "13900139099", 30)
        assert (result["level"], result["reason"], result["seat"]) == (2, "answered", "8009"), result
        stored = await svc.ivr.surveys.get(result["call_id"])
        assert stored is not None and stored.level == 2
        await done(svc, caller, seat)
