"""`hotline run --demo`: seats log in, sipp phones ring and answer, citizens call 12345.

Seats 8001, 8002 and 8004 answer after 1.5, 3 and 2 s; 8003 lets it ring past two rings (12 s), so
a newcomer sees answered calls, a miss and the call moving on to the next seat. Every call is
printed as it ends, from the bus, as the bridge saw it. Behind the overlay's test trunks, a unit's phone
answers three-way calls (trunk-units) and a citizen's phone answers the 回访 dialer's calls (trunk-citizens,
inside the calling windows: lost calls are called back), so those work in the demo too.

After each answered call the demo files the ticket (工单) the seat would have filed, bound to the call: a
咨询 or 表扬 is closed on the call (直办), anything else dispatched to a unit of the directory that takes its
category. One call in three comes from one of a few repeat callers, so their screen pops show the history
(open tickets first) and the wallboard's 工单时限 panel fills up.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

from ami_bridge.constants import CallOutcome, CallState, SeatState
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot, SeatSnapshot
from hotline.topics import TOPIC_CALL, TOPIC_DIALER, TOPIC_SEAT

from .. import tasks
from ..bus import Bus
from ..tickets.model import Category, NewTicket, TicketStatus, Transition
from ..tickets.store import TicketStore
from . import phones

log = logging.getLogger(__name__)

# seat -> ms its phone rings before answering; 8003 never answers within two rings (10 s)
DEMO_SEATS = {"8001": 1500, "8002": 3000, "8003": 12000, "8004": 2000}
IVR_AND_RINGS_MS = 22000  # a caller's worst path before talking: IVR prompts, 8003 rings out, retry, next seat
REPEAT_CALLERS = ("13800138001", "13800138002", "13800138003")  # one call in three: their pops have history
MATTERS = (  # what the demo's citizens call about, as a seat would write it down
    (Category.COMPLAINT, "小区门口夜间施工噪音扰民，已持续一周"),
    (Category.HELP, "家门口路灯不亮已一周，夜里出行不便"),
    (Category.CONSULTATION, "咨询居住证办理需要哪些材料"),
    (Category.SUGGESTION, "建议在实验小学门口增设减速带"),
    (Category.REQUEST, "小区垃圾清运不及时，楼下堆积"),
    (Category.PRAISE, "表扬社区网格员热心帮助独居老人"),
)
ON_THE_CALL = (Category.CONSULTATION, Category.PRAISE)  # answered on the call: 直办


class Demo:
    def __init__(
        self, seats: SeatControl, bus: Bus, *, sip_port: int, work_dir: Path, interval_s: float = 8,
        tickets: TicketStore | None = None,
    ) -> None:  # fmt: skip
        self.seat_control, self.bus, self.sip_port, self.tickets = seats, bus, sip_port, tickets
        self.work_dir, self.interval_s = work_dir, interval_s
        self._rng = random.Random()
        self._phones: list[phones.Phone] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # the demo's own phones live until Ctrl-C (timeout_s=0): sipp's default limit would end them after 2 min
        self._phones.append(await phones.unit_phone(self.work_dir, ring_ms=2000, talk_ms=30000, calls=100000,
                                                    timeout_s=0))  # fmt: skip
        self._phones.append(await phones.unit_phone(
            self.work_dir, ring_ms=3000, talk_ms=8000, name="called-citizen", port=phones.CALLED_CITIZEN_PORT,
            calls=100000, timeout_s=0,
        ))  # fmt: skip
        for seat, answer_ms in DEMO_SEATS.items():
            self._phones.append(await phones.seat_phone(seat, answer_ms, self.work_dir, calls=100000, timeout_s=0))
            await self.seat_control.login(seat)
            await self.seat_control.resume(seat)  # a seat paused (未接) in an earlier demo stays paused otherwise
        self._tasks = [asyncio.create_task(self._call_loop()), asyncio.create_task(self._report())]
        print(f"demo: seats {', '.join(DEMO_SEATS)} logged in; a citizen calls 12345 every {self.interval_s:.0f} s")

    async def _call_loop(self) -> None:
        index = 0
        while True:
            number = demo_caller(self._rng)
            # on the line 26–30 s after Asterisk answers: the IVR's welcome (≈7 s), 8003's two rings (10 s) and the
            # next seat's ring included, then 4–8 s of talk (with audio, so the recordings hold sound)
            hold_ms = IVR_AND_RINGS_MS + self._rng.randint(4000, 8000)
            phone = await phones.citizen_talks(number, hold_ms, self.work_dir, sip_port=self.sip_port, index=index % 50)
            self._phones.append(phone)
            self._phones = [p for p in self._phones if p.process.returncode is None]
            index += 1
            await asyncio.sleep(self.interval_s)

    async def _report(self) -> None:
        ringing: dict[str, tuple[str, float]] = {}  # seat -> (call id, when it started ringing)
        loop = asyncio.get_running_loop()
        async with self.bus.subscribe(TOPIC_CALL, TOPIC_SEAT, TOPIC_DIALER) as sub:
            async for _topic, msg in sub:
                if isinstance(msg, dict):  # TOPIC_DIALER
                    if (line := describe_callback(msg)) is not None:
                        print(line)
                elif isinstance(msg, SeatSnapshot):
                    seat, state = msg.seat, msg.state
                    if state is SeatState.RINGING:
                        ringing[seat] = (msg.call_id or "", loop.time())
                    elif seat in ringing:
                        call_id, since = ringing.pop(seat)
                        if state is not SeatState.TALKING:
                            rang = loop.time() - since
                            print(f"  seat {seat} let call {call_id} ring {rang:.0f} s without answering (未接)")
                elif msg.call.state is CallState.ENDED:
                    print(describe(msg.call))
                    if msg.call.outcome is CallOutcome.ANSWERED and self.tickets is not None:
                        await self._file(msg.call)

    async def _file(self, call: CallSnapshot) -> None:
        assert self.tickets is not None
        try:
            print(await file_ticket(self.tickets, call, self._rng))
        except Exception as exc:  # the demo goes on: a ticket it could not file is said, not fatal
            log.warning("call %s: the demo could not file its ticket: %s", call.call_id, exc)

    async def stop(self) -> None:
        await tasks.stop(self._tasks)
        for phone in self._phones:
            await phone.stop()


def demo_caller(rng: random.Random) -> str:
    """A repeat caller one time in three, else a new mobile number."""
    if rng.random() < 1 / 3:
        return rng.choice(REPEAT_CALLERS)
    return f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"


async def file_ticket(tickets: TicketStore, call: CallSnapshot, rng: random.Random) -> str:
    """The ticket the seat who answered `call` (its snapshot from the bus) would file; the line to print."""
    category, content = rng.choice(MATTERS)
    seat = call.seat or ""
    new = NewTicket(call.caller_number or "", content, category, seat=seat, call_id=call.call_id, by=seat,
                    direct=category in ON_THE_CALL)  # fmt: skip
    ticket = await tickets.create(new)
    head = f"  ticket #{ticket.id} ({category.value}) filed by seat {seat} for call {call.call_id}"
    if new.direct:
        return head + ": answered on the call (直办)"
    units = await tickets.units.search(category=category)
    if not units:
        return head + ": no unit in the directory takes it; it waits for dispatch (受理)"
    unit = rng.choice(units)
    await tickets.transition(ticket.id, Transition(TicketStatus.DISPATCHED, seat, unit.id))
    return head + f", dispatched to {unit.name} (派单)"


def describe_callback(attempt: dict[str, Any]) -> str | None:
    """One line when a 回访 attempt starts (the seat's phone rings first) or ends; None for the steps between."""
    state = attempt.get("state")
    if state not in ("ringing", "ended"):
        return None
    what = "rings the seat first" if state == "ringing" else f"ended: {attempt.get('outcome')}"
    return f"  回访 callback {attempt['attempt_id']} (task {attempt['task_id']}) by seat {attempt['seat']}: {what}"


def describe(call: CallSnapshot) -> str:
    """One line for an ended call, from its snapshot on the bus."""
    wait = f"{call.wait_ms / 1000:.1f} s" if call.wait_ms is not None else "-"
    head = f"call {call.call_id} from {call.caller_number}: "
    if call.outcome is CallOutcome.ANSWERED:
        ring = f"{call.ring_ms / 1000:.1f} s" if call.ring_ms is not None else "-"
        return head + f"answered by seat {call.seat} after ringing {ring} (waited {wait} in all)"
    if call.outcome is CallOutcome.ABANDONED:
        return head + f"the citizen hung up after waiting {wait} (呼损)"
    return head + str(call.outcome)
