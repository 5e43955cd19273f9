"""The 回访 dialer's automated survey callback with real parts: Asterisk 22 originates the citizen (a sipp
phone behind trunk-citizens that answers and presses keys as RFC 2833 events) into the IVR (FastAGI
/callback-survey); the key is applied to the ticket like a seat's outcome, and no key sends the task back
to a seat callback."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hotline.demo import phones
from hotline.service import Service
from hotline.settings import Settings
from hotline.tickets.model import CaseFile
from hotline.topics import TOPIC_DIALER, TOPIC_SEAT
from tests.helpers import realparts
from tests.helpers.callbacks import CITIZEN, Clock, at, dialer, post, ready_seat, replied_ticket, running, tear_down
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk


@pytest.fixture
def survey_settings(cb_settings: Settings) -> Settings:
    return cb_settings.model_copy(update={"callback_survey": True, "ivr_retries": 0, "ivr_digit_timeout_s": 3})


async def marked_task(svc: Service) -> tuple[CaseFile, int]:
    ticket = await replied_ticket(svc)
    task_id = ticket.parts["callbacks"][0]["id"]
    status, body = await post(svc, f"{svc.url}/api/callbacks/{task_id}/survey", {"survey": "yes"})
    assert status == 400 and body["details"]["field"] == "survey"
    status, body = await post(svc, f"{svc.url}/api/callbacks/{task_id}/survey", {"survey": True})
    assert status == 200 and body["survey"] is True, body
    return ticket, task_id


async def settled(svc: Service, task_id: int, timeout: float = 40) -> dict[str, Any]:
    """The task once its survey attempt has ended."""
    for _ in range(int(timeout / 0.2)):
        task = await svc.callbacks.get(task_id)
        if task["history"] and task["history"][-1]["ended_at"] is not None:
            return task
        await asyncio.sleep(0.2)
    raise AssertionError(f"the survey attempt of task {task_id} never ended: {task}")


async def test_citizen_presses_3_and_the_ticket_is_redone(survey_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 10:00"))
    async with running(survey_settings, clock) as svc:
        ticket, task_id = await marked_task(svc)
        citizen = await phones.called_citizen_ivr([(2500, "3")], tmp_path)
        started = await svc.dialer.tick()  # no seat is ready: the IVR needs none  # type: ignore[union-attr]
        assert started == [f"cb-{task_id}-1"]
        assert await svc.dialer.tick() == []  # never twice at once  # type: ignore[union-attr]
        task = await settled(svc, task_id)
        assert (task["status"], task["outcome"], task["done_by"]) == ("done", "不满意", "IVR"), task
        [attempt] = task["history"]
        assert (attempt["seat"], attempt["outcome"]) == ("IVR", "answered") and attempt["answered_at"]
        after = (await svc.tickets.get(ticket.id)).to_json()
        assert after["status"] == "重办" and "不满意" in after["events"][-1]["comment"]
        invite = realparts.messages_of(citizen).split("INVITE sip:")[1]
        assert invite.startswith(CITIZEN) and 'P-Asserted-Identity: "12345" <sip:12345@' in invite  # the hotline's
        assert await citizen.wait(20) == 0, citizen.errors()  # the IVR thanked and hung up
        await tear_down(svc, citizen)


async def test_no_key_falls_back_to_a_seat_callback(survey_settings: Settings, tmp_path: Path) -> None:
    clock = Clock(at("2026-11-25 10:00"))
    async with running(survey_settings, clock) as svc, svc.bus.subscribe(TOPIC_SEAT, TOPIC_DIALER) as sub:
        ticket, task_id = await marked_task(svc)
        silent = await phones.called_citizen_ivr([], tmp_path, name="silent")
        assert await svc.dialer.tick() == [f"cb-{task_id}-1"]  # type: ignore[union-attr]
        task = await settled(svc, task_id)
        assert (task["status"], task["survey"], task["attempts"], task["outcome"]) == ("pending", False, 0, None)
        assert task["history"][0]["dial_status"] == "timeout"
        assert (await svc.tickets.get(ticket.id)).status == "反馈"  # nothing recorded on the ticket
        assert await silent.wait(20) == 0, silent.errors()
        # the next round gives it to the ticket's seat, agent first, like any callback
        await ready_seat(svc, sub)
        seat = await realparts.seat_phone("8001", 300, tmp_path)
        citizen = await phones.unit_phone(
            tmp_path, ring_ms=500, talk_ms=60000, name="citizen", port=phones.CALLED_CITIZEN_PORT
        )
        assert await svc.dialer.tick() == [f"cb-{task_id}-2"]  # type: ignore[union-attr]
        await wait_for(sub, dialer("talking"))
        assert (await svc.callbacks.attempt(f"cb-{task_id}-2")).seat == "8001"  # type: ignore[union-attr]
        await tear_down(svc, seat, citizen)


@pytest.mark.parametrize(
    ("code", "outcome", "dial_status"),
    [(486, "busy", "cause 17"), (480, "no_answer", "cause 19")],  # Asterisk 22: Reason 0 for both
)
async def test_busy_or_unavailable_citizen_falls_back_to_a_seat_uncounted(
    survey_settings: Settings, tmp_path: Path, code: int, outcome: str, dial_status: str
) -> None:
    clock = Clock(at("2026-11-25 15:00"))
    async with running(survey_settings, clock) as svc:
        _, task_id = await marked_task(svc)
        busy = await phones.unit_phone(
            tmp_path, ring_ms=500, answer=False, code=code, name="busy", port=phones.CALLED_CITIZEN_PORT
        )
        assert await svc.dialer.tick() == [f"cb-{task_id}-1"]  # type: ignore[union-attr]
        task = await settled(svc, task_id)
        assert (task["status"], task["survey"], task["attempts"]) == ("pending", False, 0), task
        attempt = task["history"][0]
        assert (attempt["outcome"], attempt["dial_status"]) == (outcome, dial_status), attempt  # the Hangup's Cause
        assert attempt["answered_at"] is None
        assert await busy.wait(10) == 0, busy.errors()
        await tear_down(svc, busy)
