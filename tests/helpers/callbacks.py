"""The 回访 dialer tests: the service with a clock the test sets, a replied ticket, a ready seat."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from hotline.service import Service
from hotline.settings import Settings
from hotline.tickets import validate
from hotline.tickets.model import CaseFile, Category, TicketStatus, Transition, Unit
from tests.helpers import realparts
from tests.helpers.polling import wait_for

SH = ZoneInfo("Asia/Shanghai")
S = TicketStatus
CITIZEN = "13800138000"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


class Clock:
    """The dialer's clock, set by the test; a ticking one runs on from `now` in real time (the attempt's times
    then measure the real talk)."""

    def __init__(self, now: datetime, *, ticking: bool = False) -> None:
        self.now, self.ticking, self._start = now, ticking, time.monotonic()

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self._start) if self.ticking else self.now


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock) -> AsyncIterator[Service]:
    async with Service(settings) as svc:
        assert svc.dialer is not None
        svc.dialer.paused = True  # the test runs the planning rounds itself (tick)
        svc.dialer.clock = svc.callbacks.clock = svc.tickets.clock = clock
        await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
        yield svc


def dialer(state: str) -> Any:
    return lambda m: "attempt_id" in m and m.get("state") == state


async def replied_ticket(svc: Service) -> CaseFile:
    unit = await svc.tickets.units.add(Unit(None, "市住建局", "市直", ("057187001200",), (Category.COMPLAINT,)))
    body = {"caller_number": CITIZEN, "content": "小区电梯坏了一周", "category": "投诉举报", "seat": "8001"}
    view = await svc.tickets.create(validate.new_ticket(body))
    for move in (Transition(S.DISPATCHED, "8001", unit_id=unit.id), Transition(S.SIGNED, "unit"),
                 Transition(S.REPLIED, "unit", comment="电梯已修复")):  # fmt: skip
        view = await svc.tickets.transition(view.id, move)
    return view


async def ready_seat(svc: Service, sub: Any, seat: str = "8001") -> None:
    await svc.seats.login(seat)
    await wait_for(sub, lambda m: m.get("seat") == seat and m.get("state") == "ready")


async def post(svc: Service, url: str, body: dict[str, Any], seat: str = "8001") -> tuple[int, dict[str, Any]]:
    """POST as the seat (its own login)."""
    headers = realparts.seat_headers(svc, seat)
    async with aiohttp.ClientSession(headers=headers) as http, http.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def tear_down(svc: Service, *phones_: Any) -> None:
    await realparts.hang_up_all(svc.client)
    for phone in phones_:
        await phone.stop()
    with contextlib.suppress(Exception):
        await svc.seats.logout("8001")
