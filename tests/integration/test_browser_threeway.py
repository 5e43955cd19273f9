"""三方通话 from the seat page in a real headless Chromium: a real call (sipp citizen and seat phone through
Asterisk 22), units as sipp phones behind the test trunk. The seat finds a unit in the directory, the unit is
busy (忙, the next number is offered), the seat cancels the next number while it rings, dials it again, it
answers, the seat consults, joins and leaves; the ticket lists every attempt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import expect

from hotline.demo import phones
from tests.helpers import realparts
from tests.helpers.browser import SECOND, Tab
from tests.helpers.polling import until

SEAT = "8003"
CALLER = "13900139031"


async def conference(service: Any, call_id: str) -> list[str]:
    return await realparts.conference(service.client, call_id)


async def ticket_json(service: Any, ticket_id: int) -> dict[str, Any]:
    headers = realparts.seat_headers(service, "8001")
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.get(f"{service.url}/api/tickets/{ticket_id}") as resp,
    ):
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
        return body


async def test_seat_page_three_way_busy_next_number_cancel_join_and_leave(
    service: Any, tab: Tab, tmp_path: Path
) -> None:
    page = tab.page
    await realparts.seat_page_login(page, service, SEAT)
    await expect(page.locator("#state")).to_have_text("就绪")
    await expect(page.locator("#tw")).to_be_hidden()  # no call, no three-way

    seat_phone = await realparts.seat_phone(SEAT, 1000, tmp_path)
    citizen = await realparts.citizen_call(CALLER, 120000, tmp_path)
    await expect(page.locator("#pop-state")).to_contain_text("通话中", timeout=15 * SECOND)
    call_id = await page.locator("#pop").get_attribute("data-call")
    assert call_id
    status, error = page.locator("#tw-status"), page.locator("#error")
    await expect(page.locator("#tw")).to_be_visible()
    await expect(page.locator("#threeway")).to_be_enabled()

    # nothing chosen, then a number the trunk cannot dial: refused, with why; the call goes on
    await page.click("#threeway")
    await expect(error).to_contain_text("请先在上面选择承办单位")
    await page.fill("#tw-number", "12ab")
    await page.click("#threeway")
    await expect(error).to_contain_text("三方通话失败（400 number-not-dialable）")
    await expect(error).to_contain_text("cannot be dialled")
    await page.fill("#tw-number", "")
    await expect(page.locator("#pop-state")).to_contain_text("通话中")

    # the directory: the ticket's category narrows it (表扬: only the unit that takes it); by topic
    units = page.locator("#tw-units li")
    await page.select_option("#t-category", "表扬")
    await page.fill("#tw-search", "局")
    await expect(units).to_have_count(1)
    await expect(units.first).to_contain_text("江城市交通运输局")
    await page.uncheck("#tw-by-category")
    await expect(units).not_to_have_count(1)
    await page.check("#tw-by-category")
    await page.select_option("#t-category", "投诉举报")
    await page.fill("#tw-search", "物业")
    await expect(units).to_have_count(1)
    await expect(units.first).to_contain_text("江城市住房和城乡建设局")
    await units.first.click()
    await expect(units.first).to_have_class("chosen")
    assert await page.locator("#tw-phone option").all_text_contents() == ["057187001200", "057187001201"]

    # the unit's first number is busy (486): 忙, the caller is back with the seat, the next number is offered
    busy = await phones.unit_phone(tmp_path, name="unit-busy", ring_ms=500, answer=False, code=486)
    await page.click("#threeway")
    await expect(status).to_contain_text("忙", timeout=15 * SECOND)
    await expect(status).to_contain_text("来电人已回到您的通话")
    assert await status.get_attribute("data-state") == "busy"
    await expect(page.locator("#tw-next")).to_be_visible()
    await expect(page.locator("#tw-next")).to_contain_text("057187001201")
    members = await until(lambda: _pair(service, call_id))
    assert members and len(members) == 2 and any(m.startswith(f"PJSIP/{SEAT}-") for m in members), members
    await busy.wait(10)

    # file the ticket on the call (the attempts are listed on it)
    await page.fill("#t-content", "小区物业不修电梯")
    await page.click("#t-save")
    await expect(page.locator("#ticket-saved")).to_contain_text("已保存：工单 #")
    ticket_id = int((await page.locator("#ticket-saved").text_content() or "").split("#")[1].split("（")[0])

    # the next number rings: 取消 while it rings, the caller is back with the seat
    rings = await phones.unit_phone(tmp_path, name="unit-rings", ring_ms=30000)
    await page.click("#tw-next")
    await expect(status).to_contain_text("振铃", timeout=10 * SECOND)
    await expect(page.locator("#threeway")).to_be_disabled()
    await page.click("#tw-cancel")
    await expect(status).to_contain_text("已取消", timeout=10 * SECOND)
    await expect(page.locator("#tw-cancel")).to_be_hidden()
    members = await until(lambda: _pair(service, call_id))
    assert members and len(members) == 2 and any(m.startswith(f"PJSIP/{SEAT}-") for m in members), members
    await rings.wait(10)

    # that number again, and it answers: ringing, consult, 加入三方, a reload, 退出三方
    unit = await phones.unit_phone(tmp_path, name="unit-answers", ring_ms=2500, talk_ms=20000)
    await page.select_option("#tw-phone", "057187001201")
    await page.click("#threeway")
    await expect(status).to_contain_text("振铃", timeout=10 * SECOND)
    await expect(page.locator("#tw-cancel")).to_be_visible()
    await expect(status).to_contain_text("单独通话", timeout=10 * SECOND)
    assert len(await conference(service, call_id)) == 1  # the citizen alone, on hold music
    await expect(page.locator("#tw-join")).to_be_visible()
    await page.click("#tw-join")
    await expect(status).to_contain_text("三方通话中", timeout=10 * SECOND)
    await expect(page.locator("#tw-cancel")).to_be_hidden()
    members = await until(lambda: _three(service, call_id))
    assert members and len(members) == 3 and any(m.startswith(f"PJSIP/{SEAT}-") for m in members), members
    assert any(m.startswith("PJSIP/trunk-units-") for m in members), members
    await page.reload()  # mid three-way: the page gets the call's attempts back
    await expect(status).to_contain_text("三方通话中")
    await expect(page.locator("#tw-attempts li")).to_have_count(3)
    await page.click("#tw-leave")
    await expect(status).to_contain_text("您已退出", timeout=10 * SECOND)
    members = await until(lambda: _pair(service, call_id))
    assert members and len(members) == 2 and not any(m.startswith(f"PJSIP/{SEAT}-") for m in members), members
    await expect(page.locator("#threeway")).to_be_disabled()  # the seat is off the call
    await expect(status).to_contain_text("三方通话已结束", timeout=30 * SECOND)  # the unit hangs up
    await expect(page.locator("#tw-attempts li")).to_have_count(3)
    assert await unit.wait(10) == 0, unit.errors()

    # the ticket lists both attempts: unit, number dialled, times, outcome
    async def attempts() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await ticket_json(service, ticket_id))["threeway"]
        return found if [a["outcome"] for a in found] == ["busy", "cancelled", "completed"] else None

    found = await until(attempts)
    assert found, (await ticket_json(service, ticket_id))["threeway"]
    assert [(a["unit_name"], a["number"], a["seat"]) for a in found] == [
        ("江城市住房和城乡建设局", "057187001200", SEAT), ("江城市住房和城乡建设局", "057187001201", SEAT),
        ("江城市住房和城乡建设局", "057187001201", SEAT),
    ]  # fmt: skip
    done = found[2]
    assert done["ringing_at"] and done["answered_at"] and done["joined_at"] and done["seat_left_at"]
    assert done["ended_at"] and done["consult"] is True

    await realparts.hang_up_all(service.client)  # before the phones stop (else stray BYEs)
    await citizen.stop()
    await seat_phone.stop()
    assert not tab.errors, tab.errors


async def _pair(service: Any, call_id: str) -> list[str] | None:
    members = await conference(service, call_id)
    return members if len(members) == 2 else None


async def _three(service: Any, call_id: str) -> list[str] | None:
    members = await conference(service, call_id)
    return members if len(members) == 3 else None
