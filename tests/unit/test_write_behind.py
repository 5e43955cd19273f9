"""The bridge's write-behind: nothing is lost when a save is cancelled or fails."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from ami_bridge.bridge import Bridge
from ami_bridge.constants import CallState, SeatState
from ami_bridge.snapshots import CallSnapshot, SeatSnapshot
from hotline.bus import InProcessBus

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class SlowStore:
    def __init__(self) -> None:
        self.saved: list[Any] = []
        self.block = asyncio.Event()
        self.fail = False

    async def save_call(self, snap: CallSnapshot) -> None:
        await self.block.wait()
        if self.fail:
            raise OSError("database went away")
        self.saved.append(snap)

    async def save_seat(self, snap: SeatSnapshot, *, logged_in: bool) -> None:
        self.saved.append(snap)


def call(state: CallState) -> CallSnapshot:
    return CallSnapshot("c1", state, "13800138000", None, "12345", T0)


async def test_cancelled_save_keeps_the_snapshot_for_the_final_flush() -> None:
    store = SlowStore()
    bridge = Bridge(client=None, bus=InProcessBus(), store=store)  # type: ignore[arg-type]
    bridge._mark("call:c1", call(CallState.TALKING))
    flushing = asyncio.create_task(bridge._flush())
    await asyncio.sleep(0.01)
    bridge._mark("call:c1", call(CallState.ENDED))  # a newer snapshot while the older one is being saved
    flushing.cancel()
    await asyncio.gather(flushing, return_exceptions=True)
    store.block.set()
    await bridge._flush()
    assert [s.state for s in store.saved] == [CallState.ENDED]


async def test_failed_save_is_retried() -> None:
    store = SlowStore()
    store.fail = True
    store.block.set()
    bridge = Bridge(client=None, bus=InProcessBus(), store=store)  # type: ignore[arg-type]
    bridge._mark("seat:8001", SeatSnapshot("8001", SeatState.READY, since=T0))
    bridge._mark("call:c1", call(CallState.ENDED))
    await bridge._flush()  # the seat is saved, the call fails and stays dirty
    assert bridge._dirty_event.is_set() and "call:c1" in bridge._dirty
    store.fail = False
    await bridge._flush()
    assert [type(s).__name__ for s in store.saved] == ["SeatSnapshot", "CallSnapshot"] and not bridge._dirty


async def test_a_call_is_logged_once_per_change_of_state_or_seat(caplog: pytest.LogCaptureFixture) -> None:
    bridge = Bridge(client=None, bus=InProcessBus())  # type: ignore[arg-type]
    t0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    base = CallSnapshot(call_id="c1", state=CallState.QUEUED, caller_number="13800138000", caller_name=None,
                        dialed="12345", started_at=t0)  # fmt: skip
    caplog.set_level(logging.INFO, logger="ami_bridge.bridge")
    for snap in [base, replace(base, caller_name="张三"), replace(base, state=CallState.RINGING, seat="8001"),
                 replace(base, state=CallState.RINGING, seat="8001", queue="hotline"),
                 replace(base, state=CallState.RINGING, seat="8002")]:  # fmt: skip
        await bridge._publish_call(snap)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("call c1:")]
    assert lines == [
        "call c1: queued seat=None caller=13800138000",
        "call c1: ringing seat=8001 caller=13800138000",
        "call c1: ringing seat=8002 caller=13800138000",
    ]
