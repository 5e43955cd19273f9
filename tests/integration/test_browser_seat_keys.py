"""The seat page keyboard first (issue 23), in real Chromium with a real call: the ? list, Alt chords for pause and
resume, the cursor in 诉求内容 when the call is answered, the ticket typed and saved and the call hung up without the
mouse; a chord does nothing where its button cannot be clicked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.helpers import realparts
from tests.helpers.browser import SECOND, Tab

pytestmark = pytest.mark.asterisk


async def test_a_call_taken_and_filed_from_the_keyboard(service: Any, tab: Tab, tmp_path: Path) -> None:
    page = tab.page
    await realparts.seat_page_login(page, service, "8005")
    state = page.locator("#state")
    await expect(state).to_have_text("就绪")
    assert await page.get_attribute("#hangup", "aria-keyshortcuts") == "Alt+H"

    await page.locator("body").press("?")  # the list of chords; Esc closes it
    await expect(page.locator("#keys-help")).to_be_visible()
    await expect(page.locator("#keys-list")).to_contain_text("Alt+H 挂断")
    await page.keyboard.press("Escape")
    await expect(page.locator("#keys-help")).to_be_hidden()

    await page.select_option("#reason-select", "小休")
    await page.keyboard.press("Alt+P")  # 暂停 with the chosen reason
    await expect(state).to_have_text("暂停")
    await page.keyboard.press("Alt+H")  # no call: 挂断 cannot be clicked, nothing happens
    await page.keyboard.press("Alt+R")  # 恢复
    await expect(state).to_have_text("就绪")

    seat = await realparts.seat_phone("8005", 800, tmp_path)
    citizen = await realparts.citizen_call("13900139077", 60000, tmp_path)
    try:
        await expect(page.locator("#pop-state")).to_contain_text("通话中", timeout=20 * SECOND)
        await expect(page.locator("#t-content")).to_be_focused()  # the cursor is in 诉求内容 at the answer
        await page.keyboard.type("小区路灯坏了一个月")
        await page.keyboard.press("Alt+S")  # 保存工单: no category yet, refused in the page
        await expect(page.locator("#error")).to_contain_text("category")
        await page.select_option("#t-category", "求助")
        await page.keyboard.press("Alt+N")  # back to 诉求内容, then save from there
        await expect(page.locator("#t-content")).to_be_focused()
        await page.keyboard.press("Alt+S")
        await expect(page.locator("#ticket-saved")).to_contain_text("已保存：工单 #")
        await page.set_viewport_size({"width": 1366, "height": 768})
        await page.screenshot(path=str(tmp_path / "seat-keys-1366.png"))  # kept as the test's output
        await page.keyboard.press("Alt+H")  # 挂断
        await expect(page.locator("#pop-state")).to_contain_text("结束", timeout=10 * SECOND)
        saved = [t for t in await service.tickets.history("13900139077")]
        assert [(t.content, t.category) for t in saved] == [("小区路灯坏了一个月", "求助")]
        assert not tab.errors, tab.errors
    finally:
        await citizen.stop()
        await seat.stop()
