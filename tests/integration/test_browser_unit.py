"""The handling unit's page (/unit) in a real headless Chromium, against the real service: a unit logs in,
sees the ticket dispatched to it with the caller's number masked, signs for it and replies; the database
then says 反馈."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from hotline.recordings.qaauth import add_user
from hotline.tickets.model import Category, NewTicket, TicketStatus, Transition
from tests.helpers.browser import Tab

pytestmark = pytest.mark.asterisk  # the `service` fixture runs against the session's Asterisk

USER, PASSWORD = "unit-browser", "unit-password"


async def test_a_unit_signs_for_a_ticket_and_replies_on_its_page(service: Any, tab: Tab) -> None:
    units = await service.tickets.units.search()
    unit, other = units[0], units[1]
    assert unit.id is not None and other.id is not None
    new = NewTicket("13812345678", "小区路灯不亮已一周", Category.HELP, caller_name="王小明", district="东湖区",
                    address="东湖路 8 号", seat="8001")  # fmt: skip
    mine = await service.tickets.create(new)
    await service.tickets.transition(mine.id, Transition(TicketStatus.DISPATCHED, "8001", unit.id))
    theirs = await service.tickets.create(NewTicket("13900001111", "别的单位的工单", Category.HELP, seat="8001"))
    await service.tickets.transition(theirs.id, Transition(TicketStatus.DISPATCHED, "8001", other.id))
    add_user(service.settings.qa_users_path, USER, PASSWORD, role="unit", unit=unit.id)

    page = tab.page
    await page.goto(f"{service.url}/unit")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#login-user", USER)
    await page.fill("#login-password", "wrong-password")
    await page.click("#login-button")
    await expect(page.locator("#error")).to_contain_text("401 wrong-password")  # the API's own words
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-button")
    await expect(page.locator("#unit-name")).to_have_text(unit.name)
    assert (await page.evaluate("sessionStorage.getItem('hotline.unit')")) is not None

    rows = page.locator("#tickets tr")
    await expect(rows).to_have_count(1)  # its own ticket only
    row = page.locator(f'#tickets tr[data-ticket="{mine.id}"]')
    await expect(row).to_contain_text("派单")
    await expect(row.locator(".deadline")).not_to_have_text("—")
    await row.click()
    await expect(page.locator("#d-caller")).to_have_text("王先生/女士 138****5678")
    await expect(page.locator("#d-location")).to_contain_text("东湖路 8 号")
    body = await page.locator("body").inner_text()
    assert "13812345678" not in body and "王小明" not in body and "三方通话" in body

    await page.click("#do-sign")
    await expect(page.locator("#d-status")).to_have_text("签收")
    await page.click("#do-reply")  # no reply text: the API says what is missing
    await expect(page.locator("#error")).to_contain_text("400 invalid-input")
    await expect(page.locator("#error")).to_contain_text("required for 反馈")
    await page.fill("#reply-text", "已联系供电所更换路灯")
    await page.click("#do-reply")
    await expect(page.locator("#d-status")).to_have_text("反馈")
    await expect(page.locator("#error")).to_be_hidden()
    await expect(page.locator("#d-events")).to_contain_text("已联系供电所更换路灯")
    await expect(row).to_contain_text("反馈")

    stored = (await service.tickets.get(mine.id)).to_json()
    assert stored["status"] == "反馈"
    assert [(e["to"], e["by"]) for e in stored["events"]][-2:] == [("签收", f"unit:{USER}"), ("反馈", f"unit:{USER}")]
    assert not tab.errors, tab.errors
