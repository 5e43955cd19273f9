"""The seat page's 回访 form in real Chromium, on the seat routes alone (no Asterisk): a new callback that rings the
seat starts with an empty form; the outcome, comment and "已保存" of the last one never carry over (a seat saving in
a hurry would record the last citizen's 满意 for the next)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import expect

from ami_bridge.bridge import Bridge
from ami_bridge.ring_rule import RingRule
from ami_bridge.seat_control import SeatControl
from hotline.api import errors
from hotline.bus import InProcessBus
from hotline.live import BridgeLive
from hotline.pops.current import MemoryPops
from hotline.seats.auth import SeatAuth
from hotline.seats.http import add_routes
from tests.helpers.browser import Tab


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    bus = InProcessBus()
    bridge = Bridge(client=None, bus=bus, rule=RingRule(reason="未接"))  # type: ignore[arg-type]
    app = web.Application(middlewares=[errors])
    control = SeatControl(None, "hotline", ("小休", "未接"))  # type: ignore[arg-type]
    add_routes(app, control, BridgeLive(bridge), bus, auth=SeatAuth(b"k" * 32, {}), pops=MemoryPops())
    async with TestServer(app) as srv:
        yield srv


def pop(task_id: int, number: str) -> dict[str, Any]:
    script = "您好，这里是市长热线回访"
    return {"seat": "8001", "task_id": task_id, "attempt_id": f"cb-{task_id}-1", "state": "ringing",
            "pop": {"task": {"id": task_id, "number": number}, "ticket": None, "script": script}}  # fmt: skip


async def test_a_new_callback_starts_with_an_empty_outcome_form(server: TestServer, tab: Tab) -> None:
    page = tab.page
    await page.goto(str(server.make_url("/seat")))
    take = "async (msg) => (await import('/static/seat/callbacks.js')).takeCallback(msg)"
    await page.evaluate(take, pop(1, "13800138001"))
    await expect(page.locator("#callback")).to_be_visible()
    await page.check('input[name="cb-outcome"][value="满意"]')
    await page.fill("#cb-comment", "修好了")
    await page.evaluate("document.getElementById('cb-saved').textContent = '已保存：满意'")  # as after a save
    await page.evaluate(take, pop(2, "13800138002"))  # the next callback rings this seat
    await expect(page.locator("#cb-number")).to_have_text("13800138002")
    assert await page.locator('input[name="cb-outcome"]:checked').count() == 0
    await expect(page.locator("#cb-comment")).to_have_value("")
    await expect(page.locator("#cb-saved")).to_have_text("")
    await page.evaluate(take, {"seat": "8001", "task_id": 2, "state": "talking"})  # a step of the same callback
    await page.check('input[name="cb-outcome"][value="基本满意"]')
    await page.evaluate(take, {"seat": "8001", "task_id": 2, "state": "ended", "outcome": "answered"})
    assert await page.locator('input[name="cb-outcome"]:checked').get_attribute("value") == "基本满意"  # kept
    assert not tab.errors, tab.errors
