"""With every seat paused the caller is told so and waits in the queue; with a free seat, no prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ami_bridge.client import AmiClient
from ami_bridge.topics import TOPIC_CALL
from tests.helpers import realparts
from tests.helpers.polling import floor_until, frames_until, wait_for

pytestmark = pytest.mark.asterisk


async def test_every_seat_paused_the_caller_is_told_so_and_waits(service: Any, ami: AmiClient, tmp_path: Path) -> None:
    await service.seats.login("8009", paused_reason="小休")
    phone = await realparts.seat_phone("8009", 1000, tmp_path)
    citizen = await realparts.citizen_call("13900139009", 30000, tmp_path)
    seen = await frames_until(ami, lambda f: f.name == "QueueCallerJoin", 20)
    told = [(t, f["Prompt"]) for t, f in seen if f.name == "UserEvent" and f["UserEvent"] == "HotlineNoSeatFree"]
    assert [prompt for _, prompt in told] == ["playing", "SUCCESS"], "the prompt file exists and was played"
    assert 2.0 <= told[1][0] - told[0][0] <= 8.0, "the caller heard the whole prompt"
    async with service.bus.subscribe(TOPIC_CALL) as sub:
        with pytest.raises(TimeoutError):  # waits: nothing rings while every seat is paused
            await wait_for(sub, lambda m: m.get("caller_number") == "13900139009" and m["state"] != "queued", 2)
        assert [c.state.value for c in service.bridge.calls.active() if c.caller_number == "13900139009"] == ["queued"]
        view = await floor_until(service, lambda v: v["live"]["queued_no_seat"] == 1)
        assert view["live"]["queued_no_seat"] == 1, "the wallboard raises it"
        await service.seats.resume("8009")
        talking = await wait_for(sub, lambda m: m.get("caller_number") == "13900139009" and m["state"] == "talking", 15)
    assert talking["seat"] == "8009"
    assert (await floor_until(service, lambda v: v["live"]["queued_no_seat"] == 0))["live"]["queued_no_seat"] == 0
    await citizen.stop()
    await phone.stop()


async def test_with_a_free_seat_the_caller_goes_straight_to_the_queue(
    service: Any, ami: AmiClient, tmp_path: Path
) -> None:
    await service.seats.login("8010")
    phone = await realparts.seat_phone("8010", 1000, tmp_path)
    citizen = await realparts.citizen_call("13900139010", 3000, tmp_path)
    seen = await frames_until(ami, lambda f: f.name == "QueueCallerJoin", 20)
    assert not [f for _, f in seen if f.name == "UserEvent"], "no prompt: a seat was free"
    assert any(f.get("CallerIDNum") == "13900139010" for _, f in seen if f.name == "QueueCallerJoin")
    await citizen.stop()
    await phone.stop()
