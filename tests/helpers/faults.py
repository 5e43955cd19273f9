"""Fault injection (issue 25): a `hotline` service process that exits hard at a chosen event, a recorder of every
AMI event beside it, and the fault-free record made from those events by the same pure call machine the bridge
runs, to compare the restarted service's record with, field by field.

The switch: HOTLINE_FAULT_EXIT_AFTER=<event type>:<n> makes the service process exit at once (as a SIGKILL would)
right after the nth AMI event of that type was applied, before the write-behind saved it. Tolerance, stated once:
times the restarted service takes from the dialplan's stamps (HOTLINE_QUEUED, HOTLINE_RANG, HOTLINE_ANSWERED: ms)
rather than from the AMI events' Timestamps may differ by STAMP_MS.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from ami_bridge import events as ev
from ami_bridge.calls import CallBook
from ami_bridge.client import AmiActionError, AmiClient
from ami_bridge.constants import CallState
from ami_bridge.protocol import Frame
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot
from hotline.db.store import Store
from hotline.service import Service
from hotline.settings import Settings
from tests.helpers import realparts

STAMP_MS = 50  # dialplan stamp vs the AMI event's Timestamp of the same moment


async def record_frames(ami: AmiClient, into: list[Frame], stop: asyncio.Event) -> None:
    """Every frame of the connection into `into` until `stop` (polled: a timeout around Queue.get can lose the
    recorder to a cancellation that lands as the get returns)."""
    while True:
        while not ami.stream.empty():
            item = ami.stream.get_nowait()
            if isinstance(item, Frame):
                into.append(item)
        if stop.is_set():
            return
        await asyncio.sleep(0.02)


def reference(frames: list[Frame], caller: str) -> CallSnapshot:
    """The fault-free record: the events of the call through the same call machine the bridge runs."""
    book = CallBook()
    for frame in frames:
        event = ev.decode(frame)
        if event is not None:
            book.apply(event)
    calls = [c for c in book._calls.values() if c.snap.caller_number == caller]
    assert len(calls) == 1, [c.snap for c in calls]
    return calls[0].snap


@dataclass
class FaultRun:
    """A service process with the fault switch set at `kill`, on its own SQLite file and port, beside a recorder of
    every AMI event (what the reference is made from)."""

    db: Path
    port: int
    env: dict[str, str]
    control: SeatControl
    frames: list[Frame]
    stop: asyncio.Event
    recorder: asyncio.Task[None]

    @classmethod
    def start(cls, settings: Settings, ami: AmiClient, tmp_path: Path, kill: str) -> FaultRun:
        db, port = tmp_path / "hotline.db", settings.http_port + 1
        env = realparts.test_env(settings.state_dir, ivr="false", survey="false", http_port=str(port),
                                 fault_exit_after=kill)  # fmt: skip
        env["DATABASE_URL"] = f"sqlite:///{db}"
        frames: list[Frame] = []
        stop = asyncio.Event()
        recorder = asyncio.create_task(record_frames(ami, frames, stop))
        return cls(db, port, env, SeatControl(ami, settings.queue, settings.pause_reasons), frames, stop, recorder)

    def local(self, settings: Settings) -> Settings:
        """The settings of the service started again in the test, on the same database."""
        return settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{self.db}", "http_port": self.port,
                                           "ivr": False, "survey": False})  # fmt: skip

    @contextlib.asynccontextmanager
    async def again(
        self, settings: Settings, citizen: Any, caller: str
    ) -> AsyncIterator[tuple[Service, str, CallSnapshot]]:
        """The service started again on the same database, once the citizen hung up: it, the call's id, the call
        as it stored it, ended."""
        async with Service(self.local(settings)) as svc:
            await asyncio.wait_for(svc.bridge.resynced.wait(), 15)
            assert await citizen.wait(30) == 0
            call_id = await call_id_of(svc.store, caller)
            yield svc, call_id, await stored_ended(svc.store, call_id)

    async def done(self) -> None:
        self.stop.set()
        await self.recorder


async def start_process(env: dict[str, str], url: str, *, keeper: bool = False) -> asyncio.subprocess.Process:
    exe = str(Path(sys.executable).with_name("hotline"))
    args = ["run", "--no-asterisk"] + ([] if keeper else ["--no-keeper"])
    proc = await asyncio.create_subprocess_exec(
        exe, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{url}/health") as resp:
                    if resp.status == 200:
                        return proc
            if proc.returncode is not None:
                break
            await asyncio.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    out = (await proc.communicate())[0].decode(errors="replace")
    raise AssertionError(f"the service did not come up:\n{out[-3000:]}")


async def call_id_of(store: Store, caller: str) -> str:
    for _ in range(100):
        calls = await store.recent_calls(5, caller_number=caller)
        if calls:
            return calls[0].call_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"no call from {caller} in the record")


async def end_kept(ami: AmiClient, call_id: str) -> str | None:
    """The call's end as the dialplan keeps it for a bridge that was down (None once the bridge cleared it)."""
    for _ in range(20):
        try:
            frames = await ami.action_list("DBGet", {"Family": "hotline-ended", "Key": call_id})
        except AmiActionError:
            return None
        await asyncio.sleep(0.1)
    return frames[0].get("Val") if frames else None


async def stored_ended(store: Store, call_id: str) -> CallSnapshot:
    for _ in range(100):
        call = await store.get_call(call_id)
        if call is not None and call.state is CallState.ENDED:
            return call
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} was not stored as ended: {await store.get_call(call_id)}")


COUNTS = ("offered", "answered", "lost", "lost_queued", "lost_ringing", "within_two_rings", "within_service_level",
          "misses", "waiting", "unknown")  # fmt: skip


def same_record(got: CallSnapshot, want: CallSnapshot) -> None:
    """Field by field; the times with STAMP_MS where the record may come from the dialplan's stamps (HOTLINE_STARTED
    too: nothing is estimated any more for a call that began under this dialplan)."""
    exact = ("call_id", "state", "outcome", "caller_number", "queue", "seat", "misses")
    assert {f: getattr(got, f) for f in exact} == {f: getattr(want, f) for f in exact}
    for name in ("started_at", "queued_at", "ring_started_at", "answered_at", "ended_at"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), (name, a, b)
        assert a is None or abs(a - b) <= timedelta(milliseconds=STAMP_MS), (name, a, b)
    for name in ("ring_ms", "wait_ms"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None) and (a is None or abs(a - b) <= STAMP_MS), (name, a, b)
    assert got.estimated == (), got.estimated
