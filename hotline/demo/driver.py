"""`hotline run --demo`: seats log in, sipp phones ring and answer, citizens call 12345.

Seats 8001, 8002 and 8004 answer after 1.5, 3 and 2 s; 8003 lets it ring past two rings (12 s), so
a newcomer sees answered calls, a miss and the call moving on to the next seat. Every call is
printed as it ends, from the bus, as the bridge saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path
from typing import Any

from ami_bridge.constants import TOPIC_CALL, TOPIC_SEAT
from ami_bridge.seat_control import SeatControl

from ..bus import Bus
from . import phones

log = logging.getLogger(__name__)

# seat -> ms its phone rings before answering; 8003 never answers within two rings (10 s)
DEMO_SEATS = {"8001": 1500, "8002": 3000, "8003": 12000, "8004": 2000}


class Demo:
    def __init__(self, seats: SeatControl, bus: Bus, *, sip_port: int, work_dir: Path, interval_s: float = 8) -> None:
        self.seat_control, self.bus, self.sip_port = seats, bus, sip_port
        self.work_dir, self.interval_s = work_dir, interval_s
        self._phones: list[phones.Phone] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for seat, answer_ms in DEMO_SEATS.items():
            self._phones.append(await phones.seat_phone(seat, answer_ms, self.work_dir, calls=100000))
            await self.seat_control.login(seat)
        self._tasks = [asyncio.create_task(self._call_loop()), asyncio.create_task(self._report())]
        print(f"demo: seats {', '.join(DEMO_SEATS)} logged in; a citizen calls 12345 every {self.interval_s:.0f} s")

    async def _call_loop(self) -> None:
        index = 0
        while True:
            number = f"13{random.randint(0, 9)}{random.randint(10000000, 99999999)}"
            hold_ms = random.randint(4000, 8000)  # on the line 14–18 s after Asterisk answers, waiting included
            phone = await phones.citizen_call(
                number, 10000 + hold_ms, self.work_dir, sip_port=self.sip_port, index=index % 50
            )
            self._phones.append(phone)
            self._phones = [p for p in self._phones if p.process.returncode is None]
            index += 1
            await asyncio.sleep(self.interval_s)

    async def _report(self) -> None:
        ringing: dict[str, tuple[str, float]] = {}  # seat -> (call id, when it started ringing)
        loop = asyncio.get_running_loop()
        async with self.bus.subscribe(TOPIC_CALL, TOPIC_SEAT) as sub:
            async for topic, msg in sub:
                if topic == TOPIC_SEAT:
                    seat, state = msg["seat"], msg["state"]
                    if state == "ringing":
                        ringing[seat] = (msg["call_id"], loop.time())
                    elif seat in ringing:
                        call_id, since = ringing.pop(seat)
                        if state != "talking":
                            rang = loop.time() - since
                            print(f"  seat {seat} let call {call_id} ring {rang:.0f} s without answering (未接)")
                elif msg["state"] == "ended":
                    print(describe(msg))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for phone in self._phones:
            await phone.stop()


def describe(call: dict[str, Any]) -> str:
    """One line for an ended call, from its snapshot on the bus."""
    wait = f"{call['wait_ms'] / 1000:.1f} s" if isinstance(call.get("wait_ms"), int) else "-"
    head = f"call {call['call_id']} from {call['caller_number']}: "
    if call["outcome"] == "answered":
        ring = f"{call['ring_ms'] / 1000:.1f} s" if isinstance(call.get("ring_ms"), int) else "-"
        return head + f"answered by seat {call['seat']} after ringing {ring} (waited {wait} in all)"
    if call["outcome"] == "abandoned":
        return head + f"the citizen hung up after waiting {wait} (呼损)"
    return head + str(call["outcome"])
