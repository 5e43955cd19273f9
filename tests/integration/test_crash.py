"""Nothing lost in a crash (issue 25): the service killed hard in the middle of a call, then started again, keeps
the record the fault-free run would have made.

The service runs as its own process (`hotline run --no-asterisk`) with the test-only switch
HOTLINE_FAULT_EXIT_AFTER, which makes it exit at once (as a SIGKILL would) right after the Nth AMI event of a type
was applied, before the write-behind saved it. A second AMI connection records every event of the call; the same
pure call machine fed with them is the fault-free record (the reference), so the two can be compared field by
field, and the restarted service's /api/floor counts (today's totals and each seat's) with the counts the same
pure tally makes of the reference. Tolerance, stated once: times the restarted service takes from the dialplan's
stamps (HOTLINE_QUEUED, HOTLINE_RANG, HOTLINE_ANSWERED: ms) rather than from the AMI events' Timestamps may differ
by STAMP_MS.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ami_bridge import events as ev
from ami_bridge.bridge import FAULT_EXIT_CODE
from ami_bridge.calls import CallBook
from ami_bridge.client import AmiActionError, AmiClient
from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.protocol import Frame
from ami_bridge.seat_control import SeatControl
from ami_bridge.snapshots import CallSnapshot, MissSnapshot
from ami_bridge.topics import TOPIC_CALL
from hotline.db.engine import make_engine
from hotline.db.store import Store
from hotline.demo import phones
from hotline.floor.stats import tally
from hotline.service import Service
from hotline.settings import Settings
from hotline.survey.store import SurveyStore
from tests.helpers import realparts
from tests.helpers.polling import wait_for

pytestmark = pytest.mark.asterisk

STAMP_MS = 50  # dialplan stamp vs the AMI event's Timestamp of the same moment
CUT_MS = 500  # Asterisk killed -> the bridge sees its link drop (the kernel closes the socket at once)
SEAT = "8006"


async def record_frames(ami: AmiClient, into: list[Frame], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                item = await ami.stream.get()
                if isinstance(item, Frame):
                    into.append(item)


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
            call_id = await _call_id(svc.store, caller)
            yield svc, call_id, await _stored_ended(svc.store, call_id)

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
            await asyncio.sleep(0.1)
    proc.kill()
    out = (await proc.communicate())[0].decode(errors="replace")
    raise AssertionError(f"the service did not come up:\n{out[-3000:]}")


KILLS = {
    # kill point: (what the seat does, when the citizen hangs up, what the restarted service finds)
    "SeatCalled:1": ("answers after 3 s", 9000),  # the seat's phone starts to ring: the answer comes after the restart
    "SeatConnected:1": ("answers after 1.5 s", 9000),  # the answer applied, never saved
    "SeatCompleted:1": ("answers after 1.5 s", 4000),  # the seat left: the call ends while no service runs
    "CallerJoinedQueue:1": ("is paused", 12000),  # told no seat is free, the citizen waits, gives up (呼损) meanwhile
}


@pytest.mark.parametrize("kill", list(KILLS))
async def test_killed_at_any_point_the_call_is_recorded_as_without_the_kill(
    kill: str, asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    seat_does, hold_ms = KILLS[kill]
    run = FaultRun.start(settings, ami, tmp_path, kill)
    port, env, control, frames, stop = run.port, run.env, run.control, run.frames, run.stop
    proc = await start_process(env, f"http://127.0.0.1:{port}")
    seat = None
    if seat_does == "is paused":
        await control.login(SEAT, paused_reason="小休")
    else:
        await control.login(SEAT)
        seat = await realparts.seat_phone(SEAT, 3000 if "3 s" in seat_does else 1500, tmp_path)
    caller = f"139001392{list(KILLS).index(kill)}5"
    citizen = await realparts.citizen_call(caller, hold_ms, tmp_path)
    try:
        assert await asyncio.wait_for(proc.wait(), 20) == FAULT_EXIT_CODE, kill
        async with run.again(settings, citizen, caller) as (svc, call_id, ended):
            assert await _end_kept(ami, call_id) is None, "the call's end was left in Asterisk's database"
            want = reference(frames, caller)  # every event of the call is in: it ended
            await _floor_counts_as(svc, [want], [])
        await run.done()
        assert want.state is CallState.ENDED, want
        _same_record(ended, want)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            proc.kill()
        await realparts.hang_up_all(ami)
        await control.logout(SEAT)
        if seat is not None:
            await seat.stop()
        await citizen.stop()


async def _call_id(store: Store, caller: str) -> str:
    for _ in range(100):
        calls = await store.recent_calls(5, caller_number=caller)
        if calls:
            return calls[0].call_id
        await asyncio.sleep(0.1)
    raise AssertionError(f"no call from {caller} in the record")


async def _end_kept(ami: AmiClient, call_id: str) -> str | None:
    """The call's end as the dialplan keeps it for a bridge that was down (None once the bridge cleared it)."""
    for _ in range(20):
        try:
            frames = await ami.action_list("DBGet", {"Family": "hotline-ended", "Key": call_id})
        except AmiActionError:
            return None
        await asyncio.sleep(0.1)
    return frames[0].get("Val") if frames else None


async def _stored_ended(store: Store, call_id: str) -> CallSnapshot:
    for _ in range(100):
        call = await store.get_call(call_id)
        if call is not None and call.state is CallState.ENDED:
            return call
        await asyncio.sleep(0.1)
    raise AssertionError(f"call {call_id} was not stored as ended: {await store.get_call(call_id)}")


COUNTS = ("offered", "answered", "lost", "lost_queued", "lost_ringing", "within_two_rings", "within_service_level",
          "misses", "waiting", "unknown")  # fmt: skip


async def _floor_counts_as(svc: Service, calls: list[CallSnapshot], misses: list[MissSnapshot]) -> None:
    """The restarted service's /api/floor (today, every seat) counts what the fault-free record counts."""
    want = tally(calls, misses, svc.floor.tracker.targets)
    expected = {"total": want.total.to_json(), **{seat: f.to_json() for seat, f in want.seats.items()}}
    expected = {k: {n: v[n] for n in COUNTS} for k, v in expected.items()}
    got: dict[str, Any] = {}
    for _ in range(30):  # the floor follows the bus
        today = svc.floor.view()["today"]
        got = {"total": today["total"], **{seat: today["seats"].get(seat, {}) for seat in want.seats}}
        got = {k: {n: v.get(n) for n in COUNTS} for k, v in got.items()}
        if got == expected:
            return
        await asyncio.sleep(0.1)
    assert got == expected


def _same_record(got: CallSnapshot, want: CallSnapshot) -> None:
    """Field by field; the times with STAMP_MS where the record may come from the dialplan's stamps, started_at
    within a second where it is marked estimated (Asterisk gives only seconds)."""
    exact = ("call_id", "state", "outcome", "caller_number", "queue", "seat", "misses")
    assert {f: getattr(got, f) for f in exact} == {f: getattr(want, f) for f in exact}
    for name in ("queued_at", "ring_started_at", "answered_at", "ended_at"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None), (name, a, b)
        assert a is None or abs(a - b) <= timedelta(milliseconds=STAMP_MS), (name, a, b)
    for name in ("ring_ms", "wait_ms"):
        a, b = getattr(got, name), getattr(want, name)
        assert (a is None) == (b is None) and (a is None or abs(a - b) <= STAMP_MS), (name, a, b)
    started_tolerance = timedelta(seconds=1) if "started_at" in got.estimated else timedelta(0)
    assert abs(got.started_at - want.started_at) <= started_tolerance, (got.started_at, want.started_at)
    assert set(got.estimated) <= {"started_at"}, got.estimated


@pytest.mark.parametrize("state", ["talking", "queued"])
async def test_asterisk_killed_mid_call_the_call_ends_cut(
    state: str, service: Any, asterisk: Any, tmp_path: Path
) -> None:
    """Asterisk SIGKILLed while a seat talks, or while the call waits in the queue: no hangup handler runs and no
    Hangup reaches the bridge. When Asterisk is back, the call ends `cut`, at the moment the link dropped (named as
    estimated). A talking call stays answered: the floor's 接通 keeps it. A waiting one is no longer waiting and is
    counted apart (unknown), never as lost (呼损): nobody knows whether the citizen would have waited. Tolerance: the
    end is the link's loss, within CUT_MS of the kill."""
    seat, caller = "8005", f"1390013908{5 if state == 'talking' else 6}"
    await service.seats.login(seat, paused_reason=None if state == "talking" else "小休")
    phone = await realparts.seat_phone(seat, 500, tmp_path)
    before = service.client.connections
    try:
        async with service.bus.subscribe(TOPIC_CALL) as sub:
            citizen = await realparts.citizen_call(caller, 60000, tmp_path)
            live = await wait_for(sub, lambda m: m["caller_number"] == caller and m["state"] == state)
        call_id = live["call_id"]
        answered = service.bridge.calls.get(call_id).answered_at
        await asyncio.sleep(0.3)  # the floor follows the bus: a talking call counts as answered, a queued one waits
        today = service.floor.view()["today"]["total"]
        assert today["answered" if state == "talking" else "waiting"] >= 1, today
        killed_at = datetime.now(UTC)
        await asyncio.to_thread(asterisk.kill)
        await asyncio.to_thread(asterisk.start)  # as after a crash: Asterisk restores its logged-in seats
        for _ in range(200):
            if service.client.connections > before and service.bridge.resynced.is_set():
                break
            await asyncio.sleep(0.1)
        call = service.bridge.calls.get(call_id)
        assert call is not None and (call.state, call.outcome) == (CallState.ENDED, CallOutcome.CUT), call
        assert call.answered_at == answered and call.ended_at is not None and "ended_at" in call.estimated, call
        assert timedelta(0) <= call.ended_at - killed_at <= timedelta(milliseconds=CUT_MS), (call.ended_at, killed_at)
        stored = await _stored_ended(service.store, call_id)
        assert (stored.outcome, stored.answered_at, stored.ended_at) == (call.outcome, answered, call.ended_at)
        await asyncio.sleep(0.3)  # the floor follows the bus
        now = service.floor.view()["today"]["total"]
        if state == "talking":  # kept as answered, and its recording (what Asterisk wrote until it died) catalogued
            assert (now["answered"], now["unknown"]) == (today["answered"], today["unknown"]), (today, now)
            rec = None
            for _ in range(100):
                if (rec := await service.recordings.store.get(call_id)) is not None:
                    break
                await asyncio.sleep(0.1)
            assert rec is not None and rec["path"].split("/")[-1].startswith(call_id), rec
        else:  # no longer waiting, counted apart, not lost
            moved = (now["waiting"], now["unknown"], now["lost"], now["offered"])
            assert moved == (today["waiting"] - 1, today["unknown"] + 1, today["lost"], today["offered"]), (today, now)
    finally:
        await phone.stop()
        with contextlib.suppress(Exception):
            await citizen.stop()
        with contextlib.suppress(Exception):
            await service.seats.logout(seat)


async def test_the_keeper_replaces_a_service_process_that_died_and_the_record_is_whole(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """`hotline run` keeps the service: its process exits hard (the test-only switch) right after the seat answered,
    before the write-behind saved it; the keeper forks the next one at once from the code it loaded, which resyncs
    and ends the call as the fault-free record has it. SIGTERM to the keeper stops the service and the keeper."""
    kill = "SeatConnected:1"
    run = FaultRun.start(settings, ami, tmp_path, kill)
    db, port, env, control, frames, stop = run.db, run.port, run.env, run.control, run.frames, run.stop
    proc = await start_process(env, f"http://127.0.0.1:{port}", keeper=True)
    await control.login(SEAT)
    seat = await realparts.seat_phone(SEAT, 1500, tmp_path)
    caller = "13900139295"
    citizen = await realparts.citizen_call(caller, 6000, tmp_path)
    try:
        assert await citizen.wait(30) == 0
        local = settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{db}"})
        store = await Store.open(local.effective_database_url)
        try:
            ended = await _stored_ended(store, await _call_id(store, caller))
        finally:
            await store.close()
        await run.done()
        _same_record(ended, reference(frames, caller))
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        out = (await proc.communicate())[0].decode(errors="replace")
        assert f"exited with status {FAULT_EXIT_CODE}" in out and "starting another now" in out, out[-3000:]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            proc.kill()
        await realparts.hang_up_all(ami)
        await control.logout(SEAT)
        await seat.stop()
        await citizen.stop()


async def test_killed_right_after_a_miss_the_miss_and_the_call_are_recorded(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """Seat 8005 lets the call ring out (未接), the service exits hard right after it applied the miss, before the
    write-behind saved the miss or the call's count; 8006 answers meanwhile. The restarted service finds the miss
    in Asterisk's queue_log: seat_misses has it (at the log's whole second: tolerance 1 s, stated once here) and
    the call has misses=1 and seat 8006, as the fault-free record has them."""
    kill, caller = "SeatMissed:1", "13900139315"
    run = FaultRun.start(settings, ami, tmp_path, kill)
    port, env, control, frames, stop = run.port, run.env, run.control, run.frames, run.stop
    proc = await start_process(env, f"http://127.0.0.1:{port}")
    await control.login("8005")
    await control.login("8006", paused_reason="小休")  # so that 8005 rings first
    slow = await realparts.seat_phone("8005", 15000, tmp_path)
    quick = await realparts.seat_phone("8006", 1000, tmp_path)
    citizen = await realparts.citizen_call(caller, 16000, tmp_path)  # rings out at 8005 (10 s), then talks to 8006
    try:
        for _ in range(100):  # 8005 rings: then 8006 may take the call after the miss
            if any(f.name == "AgentCalled" and f.get("MemberName") == "8005" for f in frames):
                break
            await asyncio.sleep(0.1)
        await control.resume("8006")
        assert await asyncio.wait_for(proc.wait(), 30) == FAULT_EXIT_CODE, kill
        async with run.again(settings, citizen, caller) as (svc, call_id, ended):
            want = reference(frames, caller)
            await _floor_counts_as(svc, [want], [MissSnapshot("8005", call_id, want.started_at, None, False, 1)])
            await svc.bridge.close()  # flush the write-behind
            misses = [m for m in await svc.store.misses_between(ended.started_at, ended.ended_at or ended.started_at)
                      if m.call_id == call_id]  # fmt: skip
        await run.done()
        assert (want.seat, want.misses) == ("8006", 1), want
        _same_record(ended, want)
        missed_at = next(ev.decode(f).at for f in frames if f.name == "AgentRingNoAnswer")  # type: ignore[union-attr]
        assert [(m.seat, m.call_id) for m in misses] == [("8005", call_id)], misses
        assert abs(misses[0].at - missed_at) <= timedelta(seconds=1), (misses[0].at, missed_at)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            proc.kill()
        await realparts.hang_up_all(ami)
        for seat in ("8005", "8006"):
            await control.logout(seat)
        await slow.stop()
        await quick.stop()
        await citizen.stop()


async def test_killed_as_the_survey_begins_the_survey_is_asked_again_and_recorded(
    asterisk: Any, settings: Settings, ami: AmiClient, tmp_path: Path
) -> None:
    """The seat hangs up and the survey begins; the service process exits hard right then (SeatCompleted), under
    `hotline run`'s keeper. The survey's AGI finds nobody or is cut; [survey-again] asks once more a second later,
    the keeper's next process answers, and the citizen's key is recorded with the seat that took the call."""
    run = FaultRun.start(settings, ami, tmp_path, "SeatCompleted:1")
    run.env["HOTLINE_SURVEY"] = "true"
    proc = await start_process(run.env, f"http://127.0.0.1:{run.port}", keeper=True)
    await run.control.login("8007")
    seat = await phones.hanging_up_seat_phone("8007", 300, 1000, tmp_path)
    caller = "13900139335"
    citizen = await phones.citizen_ivr_call(caller, [(9000, "2")], tmp_path, sip_port=realparts.SIP_PORT, index=13,
                                            hold_ms=30000)  # fmt: skip
    try:
        assert await citizen.wait(40) == 0
        surveys = SurveyStore(make_engine(f"sqlite:///{run.db}"))
        store = await Store.open(f"sqlite:///{run.db}", migrate=False)
        try:
            call_id = await _call_id(store, caller)
            result = None
            for _ in range(50):
                if (result := await surveys.get(call_id)) is not None:
                    break
                await asyncio.sleep(0.1)
        finally:
            await store.close()
            await surveys.engine.dispose()
        assert result is not None and (result.level, result.reason, result.seat) == (2, "answered", "8007"), result
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        out = (await proc.communicate())[0].decode(errors="replace")
        assert f"exited with status {FAULT_EXIT_CODE}" in out, out[-3000:]
    finally:
        await run.done()
        with contextlib.suppress(Exception):
            proc.kill()
        await realparts.hang_up_all(ami)
        await run.control.logout("8007")
        await seat.stop()
        await citizen.stop()
