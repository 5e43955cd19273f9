"""The 回访 dialer with real parts: Asterisk 22, a sipp seat, a sipp citizen behind the test trunk
trunk-citizens (127.0.0.1:27100), and a clock the test sets (so no test waits for a real calling window)."""

from __future__ import annotations

import asyncio
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from ami_bridge.constants import CallKind, SeatState
from hotline.demo import phones
from hotline.recordings.paths import resolve
from hotline.service import Service
from hotline.settings import Settings
from hotline.tickets.model import TicketStatus
from hotline.topics import TOPIC_DIALER, TOPIC_SEAT
from tests.helpers import realparts, talking
from tests.helpers.browser import SECOND, Tab
from tests.helpers.callbacks import CITIZEN, Clock, at, dialer, post, ready_seat, replied_ticket, running, tear_down
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk
S = TicketStatus


async def channels(svc: Service) -> list[str]:
    frames = await svc.client.action_list("CoreShowChannels")
    return sorted(f.get("Channel") for f in frames if f.name == "CoreShowChannel")


async def recording_of(svc: Service, attempt_id: str, timeout: float = 15) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (row := await svc.recordings.store.get(attempt_id)) is None:
        assert loop.time() < deadline, f"no catalogue row for the callback attempt {attempt_id}"
        await asyncio.sleep(0.2)
    return row


def rms(path: Path, channel: int) -> float:
    out = subprocess.run(["sox", str(path), "-n", "remix", str(channel), "stat"], capture_output=True, text=True,
                         check=True).stderr  # fmt: skip
    return float(next(line for line in out.splitlines() if line.startswith("RMS     amplitude")).split(":")[1])


def sox_seconds(path: Path) -> float:
    out = subprocess.run(["soxi", "-D", str(path)], capture_output=True, text=True, check=True)
    return float(out.stdout)


async def test_seat_first_then_citizen_outcome_moves_the_ticket(cb_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 10:00"), ticking=True)  # a Wednesday, inside the morning window
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        await ready_seat(svc, sub)
        seat = await realparts.traced_seat_phone("8001", 500, tmp_path)
        citizen = await talking.called_citizen_talks(tmp_path, ring_ms=1000)  # sends a tone: a recording to hear
        started = await svc.dialer.tick()  # type: ignore[union-attr]
        assert started == [f"cb-{task_id}-1"]
        pop = await wait_for(sub, dialer("ringing"))
        assert pop["seat"] == "8001" and pop["pop"]["ticket"]["id"] == ticket.id
        assert "电梯已修复" in pop["pop"]["script"] and "满意" in pop["pop"]["script"]
        await wait_for(sub, dialer("dialing_citizen"))
        await wait_for(sub, dialer("talking"))
        talking_since = time.monotonic()
        on = svc.bridge.seats.get("8001")  # busy on the 回访, not shown free (issue 25)
        assert on is not None and (on.state, on.call_kind) == (SeatState.TALKING, CallKind.CALLBACK), on
        assert svc.bridge.calls.active() == []  # the citizen called back is not a citizen calling in (outbound-trunk)
        row = await svc.callbacks.attempt(started[0])
        assert row is not None and row.seat_answered_at is not None and row.answered_at is not None
        assert row.seat_answered_at <= row.answered_at  # the seat first, then the citizen
        invite = realparts.messages_of(citizen).split("INVITE sip:")[1]
        assert invite.startswith(CITIZEN) and 'P-Asserted-Identity: "12345" <sip:12345@' in invite  # the hotline's
        assert await svc.dialer.tick() == []  # never a second call for the same ticket  # type: ignore[union-attr]
        # the seat records the outcome on the page's API
        base = f"{svc.url}/api/callbacks/{task_id}/outcome"
        status, body = await post(svc, base, {"outcome": "很好", "by": "8001"})
        assert status == 400 and body["details"]["field"] == "outcome"
        status, body = await post(svc, base, {"outcome": "满意", "comment": "修好了", "by": "8001"})
        assert status == 200, body
        assert body["status"] == "done" and body["outcome"] == "满意"
        assert (await svc.tickets.get(ticket.id)).status == "回访"
        await asyncio.sleep(max(0.0, 5 - (time.monotonic() - talking_since)))  # some talk to record
        await realparts.hang_up_all(svc.client)
        ended = await wait_for(sub, dialer("ended"))
        heard_s = time.monotonic() - talking_since
        assert ended["outcome"] == "answered"
        got = await svc.callbacks.get(task_id)
        assert [a["outcome"] for a in got["history"]] == ["answered"] and got["status"] == "done"
        assert (await svc.callbacks.last_callback(CITIZEN)).outcome == "满意"  # type: ignore[union-attr]
        last = await svc.history.last_callback(CITIZEN)  # what the next pop shows
        assert last is not None and last["result"] == "满意" and last["ticket_id"] == ticket.id
        # recorded (回访 too): one file named by the attempt id, as long as the talk, catalogued with the ticket
        attempt = await svc.callbacks.attempt(started[0])
        assert attempt is not None and attempt.answered_at is not None and attempt.ended_at is not None
        talk_s = (attempt.ended_at - attempt.answered_at).total_seconds()
        assert abs(talk_s - heard_s) < 1.0 and talk_s >= 4.5, (talk_s, heard_s)
        rec = await recording_of(svc, started[0])
        assert rec["path"].endswith(f"/{started[0]}.ogg"), rec  # the default format
        assert (rec["seat"], rec["caller_number"], rec["ticket_id"], rec["queue"]) == (
            "8001",
            CITIZEN,
            ticket.id,
            "回访",
        )
        assert rec["status"] == "ok" and abs(rec["call_s"] - talk_s) < 0.01, rec
        path = resolve(svc.recordings.root, rec["path"])
        assert path.is_file() and not path.with_suffix(".raw").exists(), path
        measured = await asyncio.to_thread(sox_seconds, path)
        assert abs(measured - talk_s) <= 1.0, (measured, talk_s)
        citizen_side, seat_side = await asyncio.to_thread(rms, path, 1), await asyncio.to_thread(rms, path, 2)
        assert citizen_side > 0.02 and seat_side < citizen_side / 10, (citizen_side, seat_side)  # citizen left
        assert await svc.recordings.store.tickets_of(started[0]) == [ticket.id]  # the QA page shows the ticket
        await tear_down(svc, seat, citizen)


async def test_a_callback_that_ended_while_no_dialer_followed_it_keeps_its_end(
    cb_settings: Settings, tmp_path: Path
) -> None:
    """The dialer stops following mid-talk (as when its process dies) and the citizen hangs up meanwhile: the
    dialplan keeps the attempt's end in Asterisk's database (hotline-cb-ended). The next service's recovery ends it
    answered, with the citizen's answer and the end as Asterisk kept them, not `interrupted`, and clears the key.
    Tolerance, stated once: 1 s between the answer Asterisk kept (end - ANSWEREDTIME_MS) and the test seeing the
    dialer's "talking" (the event, the database's write, the bus), 0.5 s between the end and the test's hang-up.
    The test's dialer clock is set to a Wednesday morning: the answer marked live is on that clock, the end read back
    is Asterisk's."""
    clock = Clock(at("2026-11-25 10:00"), ticking=True)
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        await ready_seat(svc, sub)
        seat = await realparts.seat_phone("8001", 300, tmp_path)
        citizen = await talking.called_citizen_talks(tmp_path, ring_ms=500)
        (attempt_id,) = await svc.dialer.tick()  # type: ignore[union-attr]
        await wait_for(sub, dialer("talking"))
        talking_seen = datetime.now(UTC)
        await svc.dialer.close()  # type: ignore[union-attr]  # nobody follows the attempt from here
        await asyncio.sleep(2.0)
        hung_up = datetime.now(UTC)
        await realparts.hang_up_all(svc.client)
        kept = None
        for _ in range(50):
            frames = await svc.client.action_list("DBGetTree", {"Family": "hotline-cb-ended"})
            kept = next((f.get("Val") for f in frames if f.get("Key", "").endswith(attempt_id)), None)
            if kept:
                break
            await asyncio.sleep(0.1)
        assert kept and kept.startswith("ANSWER|"), kept
        _, answered_at, _end, seat_answered_at = kept.split("|")  # the dialplan's stamps: Unix s.ms
        answered = datetime.fromtimestamp(float(answered_at), UTC)
        assert timedelta(0) <= talking_seen - answered <= timedelta(seconds=1), (answered, talking_seen)
        assert timedelta(0) < answered - datetime.fromtimestamp(float(seat_answered_at), UTC) < timedelta(seconds=2)
        assert (await svc.callbacks.attempt(attempt_id)).ended_at is None  # type: ignore[union-attr]
    async with running(cb_settings, clock) as again:
        await again.dialer.recover()  # type: ignore[union-attr]
        row = await again.callbacks.attempt(attempt_id)
        assert row is not None and (row.outcome, row.dial_status) == ("answered", "ANSWER"), row
        assert row.answered_at is not None and row.ended_at is not None  # the answer as marked live, the end kept
        assert abs((row.ended_at - hung_up).total_seconds()) <= 0.5, (row.ended_at, hung_up)  # Asterisk's clock
        assert (await again.callbacks.get(task_id))["status"] == "reached"  # the seat records the outcome next
        frames = await again.client.action_list("DBGetTree", {"Family": "hotline-cb-ended"})
        assert not any(f.get("Key", "").endswith(attempt_id) for f in frames), "the kept end was not cleared"
        await tear_down(again, seat, citizen)


async def test_outside_the_window_nothing_busy_is_retried_later(cb_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 12:30"))  # lunch: outside the windows
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        await ready_seat(svc, sub)
        seat = await realparts.seat_phone("8001", 300, tmp_path, calls=2)
        assert await svc.dialer.tick() == []  # type: ignore[union-attr]
        clock.now = at("2026-11-28 10:00")  # a Saturday
        assert await svc.dialer.tick() == []  # type: ignore[union-attr]
        assert await channels(svc) == []
        # a working day, in the window: the citizen is busy
        clock.now = at("2026-11-30 10:00")
        busy = await phones.unit_phone(
            tmp_path, ring_ms=500, answer=False, code=486, name="busy", port=phones.CALLED_CITIZEN_PORT
        )
        assert len(await svc.dialer.tick()) == 1  # type: ignore[union-attr]
        ended = await wait_for(sub, dialer("ended"))
        assert ended["outcome"] == "busy" and ended["task_status"] == "pending"
        task = await svc.callbacks.task(task_id)
        assert task.attempts == 1 and task.next_at == at("2026-11-30 10:30")
        assert await busy.wait(10) == 0, busy.errors()
        assert svc.bridge.seats.get("8001").state.value == "ready"  # type: ignore[union-attr]
        clock.now = at("2026-11-30 10:10")
        assert await svc.dialer.tick() == []  # spaced: not yet  # type: ignore[union-attr]
        # retried later: answered, and unsatisfied → 重办 with the comment
        clock.now = at("2026-11-30 10:31")
        citizen = await phones.unit_phone(
            tmp_path, ring_ms=500, talk_ms=60000, name="citizen", port=phones.CALLED_CITIZEN_PORT
        )
        assert await svc.dialer.tick() == [f"cb-{task_id}-2"]  # type: ignore[union-attr]
        await wait_for(sub, dialer("talking"))
        status, body = await post(
            svc, f"{svc.url}/api/callbacks/{task_id}/outcome", {"outcome": "不满意", "by": "8001"}
        )
        assert status == 400 and body["details"]["field"] == "comment"
        status, body = await post(
            svc,
            f"{svc.url}/api/callbacks/{task_id}/outcome",
            {"outcome": "不满意", "comment": "电梯还是坏的", "by": "8001"},
        )
        assert status == 200, body
        after = (await svc.tickets.get(ticket.id)).to_json()
        assert after["status"] == "重办" and "电梯还是坏的" in after["events"][-1]["comment"]
        await tear_down(svc, seat, citizen)


async def test_restart_mid_call_loses_nothing_dials_nothing_twice(cb_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 15:00"))
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        assert [t.id for t in await svc.callbacks.due(clock.now)] == [task_id]  # the task survived a restart
        await ready_seat(svc, sub)
        seat = await realparts.seat_phone("8001", 300, tmp_path)
        citizen = await phones.unit_phone(
            tmp_path, ring_ms=6000, talk_ms=60000, name="citizen", port=phones.CALLED_CITIZEN_PORT
        )
        attempt = (await svc.dialer.tick())[0]  # type: ignore[union-attr]
        await wait_for(sub, dialer("dialing_citizen"))
    # the bridge is away while the citizen's phone rings; it comes back and follows the same attempt
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        assert await svc.dialer.tick() == []  # type: ignore[union-attr]
        assert svc.dialer.live_seat(attempt) == "8001"  # type: ignore[union-attr]
        await wait_for(sub, dialer("talking"), 15)
        assert len([c for c in await channels(svc) if c.startswith("PJSIP/trunk-citizens-")]) == 1
        assert (await svc.callbacks.task(task_id)).status.value == "reached"
        await realparts.hang_up_all(svc.client)
        ended = await wait_for(sub, dialer("ended"))
        assert ended["outcome"] == "answered" and ended["task_status"] == "reached"
        got = await svc.callbacks.get(task_id)
        assert [a["id"] for a in got["history"]] == [attempt]  # dialled once
        # the seat heard a voicemail: a counted try, retried later
        status, body = await post(
            svc,
            f"{svc.url}/api/callbacks/{task_id}/outcome",
            {"outcome": "未接通", "comment": "语音信箱", "by": "8001"},
        )
        assert status == 200, body
        assert (body["status"], body["attempts"], body["next_at"]) == ("pending", 1, "2026-11-25T07:30:00+00:00")
        await tear_down(svc, seat, citizen)


async def test_seat_page_shows_the_callback_and_records_the_outcome(
    cb_settings: Settings, tab: Tab, tmp_path: Path
) -> None:
    clock = Clock(at("2026-11-25 14:05"))
    async with running(cb_settings, clock) as svc:
        ticket = await replied_ticket(svc)
        page = await seat_page(tab, svc)
        await expect(page.locator("#callback")).to_be_hidden()
        due = page.locator(f'#cb-due-list li[data-task="{ticket.parts["callbacks"][0]["id"]}"]')  # the seat's own list
        await expect(due).to_contain_text(CITIZEN)
        seat = await realparts.seat_phone("8001", 1500, tmp_path)
        citizen = await phones.unit_phone(
            tmp_path, ring_ms=1000, talk_ms=60000, name="citizen", port=phones.CALLED_CITIZEN_PORT
        )
        assert len(await svc.dialer.tick()) == 1  # type: ignore[union-attr]
        await expect(page.locator("#cb-state")).to_have_text("振铃")
        await expect(page.locator("#cb-number")).to_have_text(CITIZEN)
        await expect(page.locator("#cb-script")).to_contain_text("电梯已修复")
        await expect(page.locator("#cb-ticket")).to_contain_text(f"#{ticket.id}")
        await expect(page.locator("#cb-state")).to_have_text("通话中", timeout=15 * SECOND)
        await page.check('input[name="cb-outcome"][value="不满意"]')
        await page.click("#cb-save")  # 不满意 without a comment: refused, the page says why
        await expect(page.locator("#error-text")).to_contain_text("comment")
        await page.check('input[name="cb-outcome"][value="基本满意"]')
        await page.fill("#cb-comment", "还可以")
        await page.click("#cb-save")
        await expect(page.locator("#cb-saved")).to_contain_text("基本满意")
        await expect(page.locator("#cb-state")).to_have_text("已记录")
        await expect(page.locator("#cb-due")).to_be_hidden()  # nothing left to call back
        assert (await svc.tickets.get(ticket.id)).status == "回访"
        got = await svc.callbacks.get(ticket.parts["callbacks"][0]["id"])
        assert (got["outcome"], got["comment"], got["done_by"]) == ("基本满意", "还可以", "8001")
        assert not tab.errors, tab.errors
        await tear_down(svc, seat, citizen)


async def seat_page(tab: Tab, svc: Service, seat: str = "8001") -> Page:
    """The seat page in the browser, logged in as the seat would (number and its phone's password)."""
    page = tab.page
    await realparts.seat_page_login(page, svc, seat)
    await expect(page.locator("#state")).to_have_text("就绪")
    return page


async def test_seat_page_marks_a_callback_for_the_automated_survey(cb_settings: Settings, tab: Tab) -> None:
    clock = Clock(at("2026-11-25 14:05"))
    async with running(cb_settings.model_copy(update={"callback_survey": True}), clock) as svc:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        page = await seat_page(tab, svc)
        due = page.locator(f'#cb-due-list li[data-task="{task_id}"]')
        await expect(due).to_contain_text(CITIZEN)
        await expect(due).to_have_attribute("data-survey", "0")
        await expect(due.locator(".survey")).to_have_count(0)
        await due.get_by_role("button", name="转自动回访").click()
        await expect(due.locator(".survey")).to_have_text("自动回访")
        assert (await svc.callbacks.get(task_id))["survey"] is True
        # the team leader sees who calls it: the IVR (the task is overdue, so the board lists it)
        clock.now = at("2026-12-01 09:00")
        board = await page.context.new_page()
        board.on("pageerror", lambda exc: tab.errors.append(f"wallboard: {exc}"))
        await realparts.wallboard_login(board, svc)
        await expect(board.locator(f'#cb-raised tr[data-task="{task_id}"] td').nth(3)).to_have_text("自动回访")
        # back to a seat's call
        await due.get_by_role("button", name="改为人工回访").click()
        await expect(due).to_have_attribute("data-survey", "0")
        await expect(due.locator(".survey")).to_have_count(0)
        assert (await svc.callbacks.get(task_id))["survey"] is False
        assert not await page.locator("#error").is_visible()
        # a call started meanwhile (the list on the page is older): the mark is refused, the page says why
        assert await svc.callbacks.claim(await svc.callbacks.task(task_id), "8001", False) is not None
        await due.get_by_role("button", name="转自动回访").click()
        await expect(page.locator("#error-text")).to_contain_text("409 callback-not-pending")
        await expect(due).to_contain_text(CITIZEN)  # still listed, now without the button
        await expect(due.get_by_role("button")).to_have_count(0)
        assert (await svc.callbacks.get(task_id))["survey"] is False
        assert not tab.errors, tab.errors
        await tab.page.context.close()  # its websockets end now, not when the service's shutdown gives up on them
        await tear_down(svc)


async def test_seat_page_offers_no_survey_mark_when_the_feature_is_off(cb_settings: Settings, tab: Tab) -> None:
    clock = Clock(at("2026-11-25 14:05"))
    async with running(cb_settings, clock) as svc:  # HOTLINE_CALLBACK_SURVEY is off by default
        assert svc.settings.callback_survey is False
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        await svc.callbacks.mark_survey(task_id, True)  # marked through the API: with the feature off, a seat calls
        page = await seat_page(tab, svc)
        due = page.locator(f'#cb-due-list li[data-task="{task_id}"]')
        await expect(due).to_contain_text(CITIZEN)
        await expect(due.get_by_role("button")).to_have_count(0)
        await expect(due).not_to_contain_text("自动回访")
        await expect(due).not_to_have_attribute("data-survey", "1")
        assert not tab.errors, tab.errors
        await tab.page.context.close()  # its websockets end now, not when the service's shutdown gives up on them
        await tear_down(svc)


async def test_seat_not_answering_is_not_counted_against_the_citizen(cb_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 09:30"))
    async with running(cb_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket = await replied_ticket(svc)
        task_id = ticket.parts["callbacks"][0]["id"]
        await ready_seat(svc, sub)
        # the seat's phone rings and is never picked up (a phone that answers CANCEL properly)
        seat = await phones.unit_phone(tmp_path, ring_ms=30000, name="seat-away", port=phones.SEAT_PORT_BASE + 1)
        citizen = await phones.unit_phone(tmp_path, ring_ms=500, name="citizen", port=phones.CALLED_CITIZEN_PORT)
        assert len(await svc.dialer.tick()) == 1  # type: ignore[union-attr]
        ended = await wait_for(sub, dialer("ended"), 20)
        assert ended["outcome"] == "seat_no_answer" and ended["task_status"] == "pending"
        task = await svc.callbacks.task(task_id)
        assert task.attempts == 0 and task.next_at == at("2026-11-25 09:32")
        assert "INVITE" not in realparts.messages_of(citizen)  # the citizen was never dialled
        assert await seat.wait(10) == 0, seat.errors()
        await tear_down(svc, citizen)


async def test_wallboard_raises_overdue_callbacks(cb_settings: Settings, tab: Tab) -> None:
    clock = Clock(at("2026-12-30 10:00"))  # the deadline reaches 2027, which the calendar does not know
    async with running(cb_settings, clock) as svc:
        ticket = await replied_ticket(svc)
        clock.now = at("2027-01-05 09:00")  # past the (provisional) deadline of 4 January
        page = tab.page
        await realparts.wallboard_login(page, svc)
        await expect(page.locator("#callbacks")).to_be_visible()
        await expect(page.locator("#cb-overdue")).to_have_text("1")
        await expect(page.locator("#t-cb-overdue")).to_have_class("tile bad")
        row = page.locator(f'#cb-raised tr[data-task="{ticket.parts["callbacks"][0]["id"]}"]')
        await expect(row).to_contain_text("暂定")
        await expect(page.locator("#cb-warnings")).to_contain_text("2027")
        assert not tab.errors, tab.errors


async def test_a_lost_call_is_called_back(cb_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 10:00"))
    local = cb_settings.model_copy(update={"callback_missed_min_wait_s": 3})
    async with running(local, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        lost = await realparts.citizen_call("13900139001", 9000, tmp_path)  # no seat: waits, then hangs up
        assert await lost.wait(30) == 0, lost.errors()
        for _ in range(50):  # the call reaches the database (write-behind), then a round makes its task
            await svc.dialer.tick()  # type: ignore[union-attr]
            due = await svc.callbacks.due(clock.now)
            if due:
                break
            await asyncio.sleep(0.2)
        assert [(t.kind.value, t.number) for t in due] == [("呼损", "13900139001")]
        await ready_seat(svc, sub)
        seat = await realparts.seat_phone("8001", 300, tmp_path)
        citizen = await phones.unit_phone(
            tmp_path, ring_ms=500, talk_ms=60000, name="citizen", port=phones.CALLED_CITIZEN_PORT
        )
        assert len(await svc.dialer.tick()) == 1  # type: ignore[union-attr]
        await wait_for(sub, dialer("talking"))
        assert realparts.messages_of(citizen).split("INVITE sip:")[1].startswith("13900139001")
        await tear_down(svc, seat, citizen)
