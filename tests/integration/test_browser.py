"""The pages in a real headless Chromium: the wallboard (/) and the seat page (/seat), against the real
service, Asterisk 22 and sipp phones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import expect

from hotline.asterisk.instance import seat_passwords
from hotline.pops.history import MemoryHistory
from hotline.workdays import YearSchedule
from tests.helpers import realparts
from tests.helpers.browser import SECOND, Tab

pytestmark = pytest.mark.asterisk


async def member(service: Any, seat: str) -> dict[str, str] | None:
    """Asterisk's own view of `seat` in the queue (QueueStatus), or None if it is not a member."""
    frames = await service.client.action_list("QueueStatus", {"Queue": service.settings.queue})
    found = next((f for f in frames if f.name == "QueueMember" and f["Name"] == seat), None)
    return None if found is None else {"Paused": found.get("Paused"), "PausedReason": found.get("PausedReason")}


def password(service: Any, seat: str) -> str:
    """The seat's SIP password: what it logs in to its page with."""
    return seat_passwords(service.settings)[seat]


async def session_token(service: Any, seat: str) -> str:
    async with aiohttp.ClientSession() as http:
        body = {"seat": seat, "password": password(service, seat)}
        async with http.post(f"{service.url}/api/session", json=body) as resp:
            assert resp.status == 200, await resp.text()
            token: str = (await resp.json())["token"]
    return token


async def until(check: Callable[[], Any], timeout: float = 10) -> Any:
    """The first truthy result of the coroutine function `check`, polled; its last result after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result or loop.time() > deadline:
            return result
        await asyncio.sleep(0.1)


async def test_wallboard_shows_a_seat_and_counts_a_real_answered_call(service: Any, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    await page.goto(f"{service.url}/")
    await expect(page.locator("#login")).to_be_visible()  # citizens' numbers only after a staff login
    await expect(page.locator("#board")).to_be_hidden()
    await realparts.wallboard_login(page, service)
    await expect(page.locator("#link")).to_have_text("已连接")
    await expect(page.locator("#offered")).to_have_text("0")
    await expect(page.locator("#answered")).to_have_text("0")
    headers = realparts.seat_headers(service, "8008")
    async with aiohttp.ClientSession(headers=headers) as http, http.post(f"{service.url}/api/seats/8008/login") as resp:
        assert resp.status == 200, await resp.text()
    row = page.locator('#seats tr[data-seat="8008"]')
    await expect(row).to_be_visible()
    await expect(row.locator("td").nth(1)).to_have_text("空闲")

    phone = await realparts.seat_phone("8008", 2000, tmp_path)
    citizen = await realparts.citizen_call("13900139018", 6000, tmp_path)
    calls = page.locator("#calls")
    await expect(calls).to_contain_text("13900139018", timeout=15 * SECOND)  # the live call, as it waits or rings
    await expect(row.locator("td").nth(1)).to_have_text("通话", timeout=15 * SECOND)
    await expect(row.locator("td").nth(2)).to_have_text("来电")  # the kind of call: a citizen's, from the queue
    await expect(page.locator("#offered")).to_have_text("1", timeout=30 * SECOND)
    await expect(page.locator("#answered")).to_have_text("1", timeout=30 * SECOND)
    assert await citizen.wait(20) == 0, citizen.errors()
    assert await phone.wait(10) == 0, phone.errors()
    await expect(calls).not_to_contain_text("13900139018", timeout=10 * SECOND)  # ended calls leave the table
    await expect(page.locator("#lost")).to_have_text("0")
    assert not tab.errors, tab.errors


async def test_wallboard_says_loudly_when_next_years_holidays_are_missing(service: Any, tab: Tab) -> None:
    """A year the calendar does not know (here: next year, forgotten) is on the team leader's board until ops
    add it; once they have, the warning goes away."""
    calendar = service.calendar
    today = datetime.now(service.settings.zone).date()
    saved = {y: calendar.years[y] for y in (today.year, today.year + 1) if y in calendar.years}
    calendar.years.pop(today.year + 1, None)
    calendar.years.setdefault(
        today.year, saved.get(today.year) or YearSchedule(today.year, frozenset(), frozenset(), "test")
    )
    page = tab.page
    try:
        await realparts.wallboard_login(page, service)
        banner = page.locator("#calendar-warning")
        await expect(banner).to_be_visible()
        await expect(banner.locator("[data-year]")).to_have_count(1)
        await expect(banner).to_contain_text(f"工作日历缺少 {today.year + 1} 年的法定节假日和调休安排")
        await expect(banner).to_contain_text(f"[years.{today.year + 1}]")
        await expect(banner).to_contain_text(str(service.settings.workdays_file))
        calendar.years[today.year + 1] = saved.get(today.year + 1) or YearSchedule(
            today.year + 1, frozenset(), frozenset(), "test"
        )
        await page.evaluate("loadCalendar()")  # hourly on its own
        await expect(banner).to_be_hidden()
    finally:
        calendar.years.pop(today.year + 1, None)
        calendar.years.update(saved)
    assert not tab.errors, tab.errors


async def test_wallboard_shows_tickets_past_their_deadline(service: Any, tab: Tab) -> None:
    """工单时限 on the team leader's board: a ticket whose dispatch deadline has passed is counted and listed
    (without the caller's number), its tile red; the board is the one GET /api/tickets/board serves."""
    from sqlalchemy import update

    from hotline.db.models import TicketRow
    from hotline.tickets.model import Category, NewTicket

    late = await service.tickets.create(
        NewTicket("13900007777", "路口红绿灯坏了三天无人修", Category.HELP, seat="8001")
    )
    async with service.tickets.engine.begin() as conn:  # filed days ago: its dispatch deadline has passed
        await conn.execute(
            update(TicketRow).where(TicketRow.id == late.id).values(deadline_at=datetime.now(UTC) - timedelta(days=4))
        )
    page = tab.page
    await realparts.wallboard_login(page, service)
    await expect(page.locator("#tickets-board")).to_be_visible()
    row = page.locator(f'#tb-late tr[data-ticket="{late.id}"]')
    await expect(row).to_contain_text("超期")
    await expect(row).to_contain_text("路口红绿灯坏了三天无人修")
    await expect(row).to_contain_text("派单")  # the hotline's own dispatch deadline
    await expect(page.locator("#t-tb-overdue")).to_have_class("tile bad")
    assert int(await page.locator("#tb-overdue").inner_text()) >= 1
    await expect(page.locator('#tb-units tr[data-unit="待派单（热线）"]')).to_be_visible()
    assert "13900007777" not in await page.locator("#tickets-board").inner_text()
    assert not tab.errors, tab.errors


async def test_seat_page_login_pause_resume_miss_and_logout(service: Any, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    await page.goto(f"{service.url}/seat")
    state, reason, banner = page.locator("#state"), page.locator("#reason"), page.locator("#banner")
    await expect(state).to_have_text("–")

    # an API error is shown in the page, with the server's message
    await page.fill("#seat-input", "80x1")
    await page.fill("#password-input", "whatever")
    await page.click("#login")
    await expect(page.locator("#error")).to_be_visible()
    await expect(page.locator("#error")).to_contain_text("400")
    await expect(page.locator("#error")).to_contain_text("is not a seat extension")

    # a wrong password is refused, and nothing is remembered
    await page.fill("#seat-input", "8005")
    await page.fill("#password-input", "not-the-password")
    await page.click("#login")
    await expect(page.locator("#error")).to_contain_text("401 wrong-password")
    assert await page.evaluate("localStorage.getItem('hotline.token')") is None
    assert service.bridge.seats.get("8005") is None or service.bridge.seats.get("8005").state.value == "logged_out"

    # 登录 with the seat's phone password
    await page.fill("#seat-input", "8005")
    await page.fill("#password-input", password(service, "8005"))
    await page.click("#login")
    await expect(state).to_have_text("就绪")
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator("#link")).to_have_text("已连接")
    await expect(page.locator("#seat-no")).to_have_text("8005")
    await expect(page.locator("#misses")).to_have_text("0")
    assert await member(service, "8005") == {"Paused": "0", "PausedReason": ""}
    assert service.bridge.seats.get("8005").state.value == "ready"
    assert await page.evaluate("localStorage.getItem('hotline.seat')") == "8005"
    assert (await page.evaluate("localStorage.getItem('hotline.token')")).startswith("v1.8005.")
    await expect(page.locator("#password-input")).to_have_value("")
    options = await page.locator("#reason-select option").all_text_contents()
    assert options == [r for r in service.settings.pause_reasons if r != service.settings.miss_reason], options

    # 暂停 (小休), then 恢复
    await page.select_option("#reason-select", "小休")
    await page.click("#pause")
    await expect(state).to_have_text("暂停")
    await expect(reason).to_contain_text("小休")
    await expect(banner).to_be_hidden()
    assert await member(service, "8005") == {"Paused": "1", "PausedReason": "小休"}
    await page.click("#resume")
    await expect(state).to_have_text("就绪")
    await expect(reason).to_have_text("")
    assert await member(service, "8005") == {"Paused": "0", "PausedReason": ""}

    # a reload reconnects to the remembered seat
    await page.reload()
    await expect(page.locator("#seat-input")).to_have_value("8005")
    await expect(state).to_have_text("就绪")
    await expect(page.locator("#link")).to_have_text("已连接")

    # a call that rings past the limit: 振铃 with the caller's number, then the 未接 banner and 暂停（未接）
    phone = await realparts.seat_phone("8005", 12000, tmp_path)  # lets it ring past two rings
    citizen = await realparts.citizen_call("13900139015", 30000, tmp_path)
    await expect(state).to_have_text("振铃", timeout=15 * SECOND)
    await expect(page.locator("#caller")).to_have_text("13900139015")
    await expect(page.locator("#pop")).to_be_visible()  # the screen pop, with the caller
    await expect(page.locator("#pop-caller")).to_have_text("13900139015")
    await expect(page.locator("#pop-state")).to_contain_text("振铃")
    await expect(page.locator("#pop-waited")).to_contain_text("秒")
    await expect(banner).to_be_visible(timeout=15 * SECOND)
    await expect(banner).to_contain_text("漏接来电")
    await expect(banner).to_contain_text("恢复")
    await expect(state).to_have_text("暂停", timeout=3 * SECOND)
    await expect(reason).to_contain_text(service.settings.miss_reason)
    await expect(page.locator("#pop-state")).to_contain_text("未接")
    await expect(page.locator("#misses")).to_have_text("1")
    await expect(page.locator("#last-miss")).to_contain_text("13900139015")
    assert await member(service, "8005") == {"Paused": "1", "PausedReason": service.settings.miss_reason}

    # the citizen gives up; 恢复 clears the banner and the misses in a row
    await service.client.action("Hangup", {"Channel": "/.*/"})
    assert await until(lambda: _no_calls(service)), "the call did not end"
    await citizen.stop()
    await phone.stop()
    await page.click("#resume")
    await expect(state).to_have_text("就绪")
    await expect(banner).to_be_hidden()
    await expect(page.locator("#misses")).to_have_text("0")

    # 退出
    await page.click("#logout")
    await expect(state).to_have_text("未登录")
    await expect(page.locator("#resume")).to_be_disabled()
    assert await until(lambda: _not_member(service, "8005")), "8005 is still in Asterisk's queue"
    await expect(page.locator("#error")).to_be_hidden()
    assert not tab.errors, tab.errors


async def test_seat_page_shows_why_asterisk_refused(service: Any, tab: Tab) -> None:
    """Resuming a seat that is not logged in: Asterisk refuses, and the seat reads why."""
    page = tab.page
    await page.goto(f"{service.url}/seat")
    await page.evaluate("localStorage.setItem('hotline.seat', '8004')")
    await page.evaluate(f"localStorage.setItem('hotline.token', '{await session_token(service, '8004')}')")
    await page.reload()
    await expect(page.locator("#state")).to_have_text("未登录")
    headers = realparts.seat_headers(service, "8004")
    async with (
        aiohttp.ClientSession(headers=headers) as http,
        http.post(f"{service.url}/api/seats/8004/resume") as resp,
    ):
        body = await resp.json()
    assert resp.status >= 400, body
    await page.evaluate("document.getElementById('resume').disabled = false")  # as if the page were stale
    await page.click("#resume")
    error = page.locator("#error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text(f"恢复失败（{resp.status} {body['error']}）")
    await expect(error).to_contain_text(body["message"][:20])
    assert not tab.errors, tab.errors


async def _no_calls(service: Any) -> bool:
    return not service.bridge.calls.active()


async def _not_member(service: Any, seat: str) -> bool:
    return await member(service, seat) is None


async def test_seat_page_refuses_a_token_that_no_longer_works(service: Any, tab: Tab) -> None:
    """A remembered token that the server refuses (another key, expired): the page asks for the password."""
    page = tab.page
    await page.goto(f"{service.url}/seat")
    await page.evaluate("localStorage.setItem('hotline.seat', '8004')")
    await page.evaluate("localStorage.setItem('hotline.token', 'v1.8004.9999999999.' + 'A'.repeat(43))")
    await page.reload()
    await expect(page.locator("#error")).to_contain_text("401 token-invalid")
    await expect(page.locator("#link")).to_have_text("未登录")
    assert await page.evaluate("localStorage.getItem('hotline.token')") is None
    assert not tab.errors, tab.errors


async def test_seat_page_pop_with_history_join_a_ticket_and_reload(service: Any, tab: Tab, tmp_path: Path) -> None:
    """A repeat caller: the pop lists the open ticket first with 加入此工单; a reload mid-call shows it again."""
    caller = "13900139016"
    service.pops.history = MemoryHistory(
        {
            caller: [
                {"id": 41, "status": "已办结", "unit": "市交通局"},
                {"id": 42, "status": "办理中", "unit": "区城管局"},
            ]
        },
        {caller: {"result": "满意", "at": "2026-11-20T10:00:00+08:00"}},
    )
    page = tab.page
    await page.goto(f"{service.url}/seat")
    await page.fill("#seat-input", "8006")
    await page.fill("#password-input", password(service, "8006"))
    await page.click("#login")
    await expect(page.locator("#state")).to_have_text("就绪")
    await expect(page.locator("#pop")).to_be_hidden()

    phone = await realparts.seat_phone("8006", 3000, tmp_path)
    citizen = await realparts.citizen_call(caller, 9000, tmp_path)
    await expect(page.locator("#pop-state")).to_contain_text("振铃", timeout=15 * SECOND)
    await expect(page.locator("#pop-caller")).to_have_text(caller)
    items = page.locator("#pop-history li[data-ticket]")
    await expect(items).to_have_count(2)
    assert [await items.nth(i).get_attribute("data-ticket") for i in range(2)] == ["42", "41"]  # open first
    await expect(items.nth(0)).to_contain_text("办理中")
    await expect(items.nth(0)).to_contain_text("区城管局")
    await expect(items.nth(1).locator("button")).to_have_count(0)  # closed: nothing to join
    await expect(page.locator("#pop-callback")).to_contain_text("满意")
    await expect(page.locator("#pop-state")).to_contain_text("通话中", timeout=10 * SECOND)

    await page.reload()  # mid-call: the pop comes back
    await expect(page.locator("#pop-caller")).to_have_text(caller)
    await expect(page.locator("#pop-state")).to_contain_text("通话中")

    # 加入此工单: the ticket endpoint answers an error first (shown), then takes it
    sent: list[dict[str, Any]] = []

    async def refuse(route: Any) -> None:
        await route.fulfill(status=409, content_type="application/json",
                            body='{"error": "ticket-closed", "message": "工单已办结", "details": {}}')  # fmt: skip

    async def accept(route: Any) -> None:
        sent.append(route.request.post_data_json)
        await route.fulfill(status=201, content_type="application/json", body='{"ticket_id": 42}')

    await page.route("**/api/tickets/42/calls", refuse)
    await items.nth(0).locator("button").click()
    await expect(page.locator("#error")).to_contain_text("加入工单失败（409 ticket-closed）")
    await page.unroute("**/api/tickets/42/calls")
    await page.route("**/api/tickets/42/calls", accept)
    await items.nth(0).locator("button").click()
    await expect(items.nth(0).locator("button")).to_have_text("已加入")
    call_id = await page.locator("#pop").get_attribute("data-call")
    assert sent == [{"call_id": call_id, "by": "8006"}]

    await expect(page.locator("#pop-state")).to_contain_text("通话结束", timeout=20 * SECOND)
    assert await citizen.wait(20) == 0, citizen.errors()
    assert await phone.wait(10) == 0, phone.errors()
    assert not tab.errors, tab.errors


async def test_seat_files_a_ticket_from_the_pop_and_it_is_in_the_database(
    service: Any, tab: Tab, tmp_path: Path
) -> None:
    """The whole desk with the real ticket store: the pop lists the caller's open ticket, a bad form is
    refused with the field named and nothing saved, a good one is saved bound to the call, this call is
    added to the older ticket too, and 挂断 ends the call."""
    caller = "13900139017"
    async with aiohttp.ClientSession(headers=realparts.seat_headers(service, "8001")) as http:
        body = {"caller_number": caller, "category": "求助", "content": "小区路灯不亮", "by": "8001"}
        async with http.post(f"{service.url}/api/tickets", json=body) as resp:
            assert resp.status == 201, await resp.text()
            older = (await resp.json())["id"]
    page = tab.page
    await page.goto(f"{service.url}/seat")
    await page.fill("#seat-input", "8007")
    await page.fill("#password-input", password(service, "8007"))
    await page.click("#login")
    await expect(page.locator("#state")).to_have_text("就绪")
    await expect(page.locator("#ticket")).to_be_hidden()

    phone = await realparts.seat_phone("8007", 2000, tmp_path)
    citizen = await realparts.citizen_call(caller, 60000, tmp_path)
    await expect(page.locator("#pop-caller")).to_have_text(caller, timeout=15 * SECOND)
    await expect(page.locator(f'#pop-history li[data-ticket="{older}"]')).to_contain_text("受理")
    await expect(page.locator("#t-caller")).to_have_value(caller)  # the draft fills the form
    await expect(page.locator("#pop-state")).to_contain_text("通话中", timeout=10 * SECOND)
    call_id = await page.locator("#pop").get_attribute("data-call")

    await page.click("#t-save")  # nothing chosen or written: refused, the field named, nothing saved
    await expect(page.locator("#error")).to_contain_text("保存工单失败（400 invalid-input）")
    await expect(page.locator("#error")).to_contain_text("content")
    assert len(await service.tickets.history(caller)) == 1

    await page.select_option("#t-category", "投诉举报")
    await page.fill("#t-district", "东城区")
    await page.fill("#t-address", "和平路 12 号")
    await page.fill("#t-content", "夜间施工噪音扰民")
    await page.click("#t-save")
    await expect(page.locator("#ticket-saved")).to_contain_text("已保存：工单 #")
    await expect(page.locator("#t-save")).to_be_disabled()
    mine = [t for t in await service.tickets.history(caller) if t.id != older]
    assert len(mine) == 1
    saved = (await service.tickets.get(mine[0].id)).to_json()
    assert (saved["category"], saved["district"], saved["content"], saved["seat"]) == (
        "投诉举报", "东城区", "夜间施工噪音扰民", "8007",
    )  # fmt: skip
    assert call_id in [c["call_id"] if isinstance(c, dict) else c for c in saved["calls"]], saved["calls"]

    await page.locator(f'#pop-history li[data-ticket="{older}"] button').click()  # 加入此工单, for real
    await expect(page.locator(f'#pop-history li[data-ticket="{older}"] button')).to_have_text("已加入")
    joined = (await service.tickets.get(older)).to_json()
    assert call_id in [c["call_id"] if isinstance(c, dict) else c for c in joined["calls"]], joined["calls"]

    await page.click("#hangup")
    await expect(page.locator("#pop-state")).to_contain_text("结束", timeout=10 * SECOND)
    assert await until(lambda: _no_calls(service), timeout=10), "挂断 ended the call in Asterisk"
    assert not tab.errors, tab.errors
    await citizen.stop()
    await phone.stop()
