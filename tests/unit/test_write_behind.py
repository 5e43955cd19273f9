"""The bridge's write-behind: nothing is lost when a save is cancelled or fails."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
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
    """Store.save's contract: a batch is saved whole or not at all. Calls wait for `block`; calls are refused
    while `fail` is set, or one call id when `refuse` names it."""

    def __init__(self) -> None:
        self.saved: list[Any] = []
        self.batches: list[int] = []
        self.block = asyncio.Event()
        self.fail = False
        self.refuse: str | None = None

    async def save(
        self,
        calls: Sequence[CallSnapshot] = (),
        seats: Sequence[tuple[SeatSnapshot, bool]] = (),
        misses: Sequence[Any] = (),
    ) -> None:
        if calls:
            await self.block.wait()
            if self.fail or any(c.call_id == self.refuse for c in calls):
                raise OSError("database went away")
        self.saved.extend([*calls, *(s for s, _ in seats), *misses])
        self.batches.append(len(calls) + len(seats) + len(misses))


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
    await bridge._flush()  # the batch fails; one by one, the seat is saved, the call fails and stays dirty
    assert bridge._dirty_event.is_set() and list(bridge._dirty) == ["call:c1"]
    assert bridge.stats.save_error == "OSError: database went away"  # what /health says of the database
    store.fail = False
    await bridge._flush()
    assert [type(s).__name__ for s in store.saved] == ["SeatSnapshot", "CallSnapshot"] and not bridge._dirty
    assert bridge.stats.save_error is None


async def test_one_flush_is_one_batch_and_a_refused_snapshot_does_not_hold_the_others() -> None:
    store = SlowStore()
    store.block.set()
    bridge = Bridge(client=None, bus=InProcessBus(), store=store)  # type: ignore[arg-type]
    for n in range(50):
        bridge._mark(f"call:c{n}", replace(call(CallState.ENDED), call_id=f"c{n}"))
    bridge._mark("seat:8001", SeatSnapshot("8001", SeatState.READY, since=T0))
    await bridge._flush()
    assert store.batches == [51] and not bridge._dirty  # one transaction for the whole flush
    store.refuse = "c7"
    for n in range(10):
        bridge._mark(f"call:c{n}", replace(call(CallState.ENDED), call_id=f"c{n}", caller_name="张三"))
    await bridge._flush()
    assert list(bridge._dirty) == ["call:c7"] and bridge._dirty_event.is_set()
    assert len(store.saved) == 51 + 9
    stats = bridge.stats  # what /metrics says: one refused flush, one change still waiting
    assert (stats.saved, stats.save_failures, stats.pending) == (51 + 9, 1, 1)


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
