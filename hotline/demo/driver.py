"""`hotline run --demo`: seats log in, sipp phones ring and answer, citizens call 12345.

Seat 8001 answers after 1.5 s, 8002 after 3 s, and 8003 lets it ring past two rings (12 s), so a
newcomer sees answered calls, a miss and the call moving on to the next seat. Every call is
printed as it ends, from the bus, as the bridge saw it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path

from ami_bridge.constants import TOPIC_CALL
from ami_bridge.seat_control import SeatControl

from ..bus import Bus
from . import phones

log = logging.getLogger(__name__)

DEMO_SEATS = {"8001": 1500, "8002": 3000, "8003": 12000}  # seat -> ms its phone rings before answering


class Demo:
    def __init__(self, seats: SeatControl, bus: Bus, *, sip_port: int, work_dir: Path, interval_s: float = 6) -> None:
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
            hold_ms = random.randint(4000, 9000)
            phone = await phones.citizen_call(
                number, 12000 + hold_ms, self.work_dir, sip_port=self.sip_port, index=index % 50
            )
            self._phones.append(phone)
            self._phones = [p for p in self._phones if p.process.returncode is None]
            index += 1
            await asyncio.sleep(self.interval_s)

    async def _report(self) -> None:
        async with self.bus.subscribe(TOPIC_CALL) as sub:
            async for _, call in sub:
                if call["state"] != "ended":
                    continue
                ring = f"{call['ring_ms'] / 1000:.1f} s" if call.get("ring_ms") is not None else "-"
                print(
                    f"call {call['call_id']} from {call['caller_number']}: {call['outcome']}"
                    f"{' by seat ' + call['seat'] if call.get('seat') else ''}, rang {ring}"
                )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for phone in self._phones:
            await phone.stop()
