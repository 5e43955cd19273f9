"""The bridge: AMI stream -> typed events -> call and seat models -> bus and database.

One task consumes the AMI stream in order. On every LinkUp it first rebuilds the view from
Asterisk (CoreShowChannels, QueueStatus) and only then applies the events that queued up behind.
Snapshots go to the bus at once and to the database through a write-behind task, so a slow
database never stalls the AMI reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from . import events as ev
from .calls import AsteriskRun, CallBook, IllegalTransition, finish
from .client import AmiActionError, AmiClient, AmiDisconnected, AmiError, LinkDown, LinkUp
from .constants import CallState, SeatState
from .ports import Publisher, SnapshotSink
from .protocol import Frame
from .queuelog import LoggedMiss, last_events, read_misses
from .ring_rule import REJECT_MARGIN_MS, PauseSeat, RingRule
from .seat_control import SeatControl
from .seats import IllegalSeatTransition, SeatBook
from .snapshots import CallSnapshot, MissSnapshot, SeatSnapshot
from .sync import ENDED_FAMILY, EndStamp, end_stamps, rebuild
from .topics import TOPIC_BRIDGE, TOPIC_CALL, TOPIC_MISS, TOPIC_SEAT, CallChange, LinkChange, MissChange

E = TypeVar("E")
log = logging.getLogger(__name__)
UNFINISHED_LOOKBACK = timedelta(days=7)  # how far back the first resync looks for calls left unfinished
MISS_LOOKBACK = timedelta(hours=1)  # how far back a new process's first resync reads queue_log for misses
QUEUE_LOG_SLACK = timedelta(seconds=2)  # queue_log's whole seconds against the record's milliseconds
FAULT_EXIT_CODE = 137  # what a shell reports for a SIGKILLed process


@dataclass
class BridgeStats:
    events: int = 0
    illegal: int = 0
    resyncs: int = 0
    last_resync_s: float | None = None  # seconds the last resync took
    linked_at: datetime | None = None
    resynced_at: datetime | None = None
    lag_ms: list[float] = field(default_factory=list)  # Asterisk timestamp -> applied, last 1000
    saved: int = 0  # snapshots the write-behind saved
    save_failures: int = 0  # flushes the database refused (the snapshots stay pending and are retried)
    pending: int = 0  # snapshots waiting for the database now (grows while it is down)
    save_error: str | None = None  # why the last flush failed (the database is away); None once one succeeds


class Bridge:
    def __init__(
        self,
        client: AmiClient,
        bus: Publisher,
        store: SnapshotSink | None = None,
        *,
        queue: str = "hotline",
        wrapup_s: int = 5,
        rule: RingRule | None = None,
        miss_reset: str = "answered_or_resumed",
        control: SeatControl | None = None,
        exit_after: tuple[str, int] | None = None,
        queue_log: Path | None = None,
    ) -> None:
        self.client, self.bus, self.store, self.queue = client, bus, store, queue
        self.calls = CallBook()
        self.seats = SeatBook(wrapup_s=wrapup_s, miss_reset=miss_reset)
        self.rule = rule or RingRule()
        self.control = control  # None: misses are counted, no seat is paused
        self.stats = BridgeStats()
        self.resynced = asyncio.Event()
        self.queue_log = queue_log  # Asterisk's queue_log, where it is readable here: misses the record lacks
        self.asterisk = AsteriskRun()  # when the linked Asterisk started, when the link was last lost
        self._lost_at: datetime | None = None
        self._late_runs: dict[str, int] = {}  # seat -> misses in a row found in queue_log, applied after the seats
        self._dirty: dict[str, CallSnapshot | SeatSnapshot | MissSnapshot] = {}
        self._told: dict[str, tuple[str, str | None]] = {}  # call id → (state, seat) last logged at INFO
        self._dirty_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Fault injection (tests only, HOTLINE_FAULT_EXIT_AFTER): the process exits hard, as a SIGKILL would end
        # it, right after the Nth event of this type was applied and published, before the write-behind saves it
        # (a notice, e.g. ConferenceJoined or CallbackProgress: right after the features were handed it).
        self._exit_after, self._exit_count = exit_after, 0
        self._forgetting: set[asyncio.Task[None]] = set()  # DBDel of call ends the record has (see _forget_ends)
        # The features' handlers by event type, called in order before the models (cheap, non-blocking: e.g.
        # hotline/threeway puts the event on its own queue). See `subscribe`.
        self._subscribers: dict[type, list[Callable[[Any], None]]] = {}

    async def start(self) -> None:
        if self.store is not None:
            await self._load_seats()
        self._tasks = [
            asyncio.create_task(self._consume(), name="bridge-consume"),
            asyncio.create_task(self._persist(), name="bridge-persist"),
            asyncio.create_task(self._tick(), name="bridge-tick"),
        ]

    async def close(self) -> None:
        owned = [*self._tasks, *self._forgetting]  # a DBDel cut short: the next start's resync clears that key
        for task in owned:
            task.cancel()
        for task in owned:
            with contextlib.suppress(asyncio.CancelledError, AmiError):
                await task
        await self._flush()

    async def _load_seats(self) -> None:
        assert self.store is not None
        self.seats.restore(await self.store.seats())

    # ------------------------------------------------------------------ the stream
    async def _consume(self) -> None:
        while True:
            item = await self.client.stream.get()
            try:
                if isinstance(item, LinkUp):
                    await self._on_link_up(item)
                elif isinstance(item, LinkDown):
                    self.resynced.clear()
                    self._lost_at = self._lost_at or datetime.now(UTC)
                    await self.bus.publish(TOPIC_BRIDGE, LinkChange("down", reason=item.reason))
                else:
                    await self._on_frame(item)
            except AmiError as exc:
                log.warning("bridge: %s (the link will resync when it is back)", exc)
            except Exception:
                log.exception("bridge: unexpected error on %r; resyncing", getattr(item, "name", item))
                await self._resync_soon()

    async def _on_link_up(self, item: LinkUp) -> None:
        self.stats.linked_at = datetime.now(UTC)
        self.asterisk = AsteriskRun.at_login(self.stats.linked_at, item.uptime_s, self._lost_at)
        while True:
            try:
                await self.resync()
                break
            except AmiDisconnected:
                raise  # the next LinkUp resyncs
            except AmiError as exc:  # e.g. a module still loading: the link is up, so try again
                log.warning("bridge: resync failed (%s); trying again in 1 s", exc)
                await asyncio.sleep(1)
        await self.bus.publish(TOPIC_BRIDGE, LinkChange("up", version=item.version, connection=item.connection))

    async def resync(self) -> None:
        """Rebuild calls and seats from Asterisk, then let queued live events apply on top."""
        started = time.monotonic()
        channels = await self.client.action_list("CoreShowChannels")
        queue = await self.client.action_list("QueueStatus", {"Queue": self.queue})
        now = datetime.now(UTC)
        view = rebuild(channels, queue, now, self.queue)
        live = {c.call_id for c in view.calls}
        ended = await self._end_stamps()
        stored: dict[str, CallSnapshot] = {}
        missed: dict[str, int] = {}
        if self.store is not None:
            unfinished = await self._unfinished(live, now) if self.stats.resyncs == 0 else []
            unfinished += await self._unseen(ended, live | {c.call_id for c in unfinished})
            # queue_log only when events may have been missed (a start, a lost link), not at a resync after a refusal
            if self.stats.resyncs == 0 or self._lost_at is not None:
                missed = await self._recover_misses(now, [*view.calls, *unfinished, *self.calls.active()])
            await self._finish_unfinished(unfinished, ended, missed)
            unknown = [c.call_id for c in view.calls if self.calls.get(c.call_id) is None]
            stored = await self._stored(unknown)
        for call in self.calls.resync(view.calls, now, stored, ended, self.asterisk):
            await self._publish_call(call)
        for call_id, misses in missed.items():
            if (raised := self.calls.at_least_misses(call_id, misses)) is not None:
                await self._publish_call(raised)
        self._forget_ends([key for key, end in ended.items() if key not in live])
        for seat in self.seats.resync(view.members, view.busy, now):
            await self._publish_seat(seat)
        await self._apply_late_runs()
        self._lost_at = None
        self.stats.resyncs += 1
        self.stats.last_resync_s = time.monotonic() - started
        self.stats.resynced_at = now
        self.resynced.set()
        log.info(
            "bridge resynced in %.0f ms: %d live calls, %d seats logged in",
            self.stats.last_resync_s * 1000,
            len(view.calls),
            len(view.members),
        )

    async def _stored(self, call_ids: list[str]) -> dict[str, CallSnapshot]:
        """The record of calls this process does not know (it was restarted): merged, not overwritten. A
        database that does not answer leaves the rebuilt view as it is (estimates named as such)."""
        assert self.store is not None
        try:
            return await self.store.calls(call_ids)
        except Exception as exc:  # the resync must not wait for the database
            log.error("bridge: cannot read the record of %d live calls (%s): their times stay estimates",
                      len(call_ids), exc)  # fmt: skip
            return {}

    async def _end_stamps(self) -> dict[str, EndStamp]:
        """Every call end the dialplan kept in Asterisk's database and the bridge has not cleared yet."""
        try:
            return end_stamps(await self.client.action_list("DBGetTree", {"Family": ENDED_FAMILY}))
        except AmiActionError:  # none kept
            return {}

    def _forget_ends(self, call_ids: list[str]) -> None:
        """Clear these calls' ends from Asterisk's database, in the background (the record has them now). With
        the link down they stay: the next resync reads them, then clears them."""
        if not call_ids or not self.client or not self.client.connected.is_set():
            return
        for call_id in call_ids:
            task = asyncio.create_task(self._forget_end(call_id), name=f"forget-end {call_id}")
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)

    async def _forget_end(self, call_id: str) -> None:
        with contextlib.suppress(AmiError):  # gone already, or the link is down: the next resync clears it
            await self.client.action("DBDel", {"Family": ENDED_FAMILY, "Key": call_id})

    async def _recover_misses(self, now: datetime, calls: list[CallSnapshot]) -> dict[str, int]:
        """Misses of `calls` (live now, or left unfinished) that Asterisk's queue_log has and the record lacks:
        they happened while no bridge followed, or were in the write-behind when the service was killed. Recorded
        now, at the log's whole second. Returns, for the calls they belong to, how many misses each has in all."""
        ids = {c.call_id for c in calls}
        if self.queue_log is None or self.store is None or not ids:
            return {}
        since = max(min(c.started_at for c in calls), now - MISS_LOOKBACK) - QUEUE_LOG_SLACK
        found_in_log = await asyncio.to_thread(read_misses, self.queue_log, since)
        logged = [m for m in found_in_log if m.queue == self.queue and m.uniqueid in ids]
        if not logged:
            return {}
        try:
            known = await self.store.misses_between(logged[0].at - QUEUE_LOG_SLACK, now + QUEUE_LOG_SLACK)
        except Exception as exc:  # the database is away: the next resync looks again
            log.error("bridge: cannot read the recorded misses (%s): queue_log not checked", exc)
            return {}
        kept = {(m.seat, m.call_id, m.at) for m in known}  # a miss flushed but still in the write-behind: once
        known += [
            m for m in self._dirty.values() if isinstance(m, MissSnapshot) and (m.seat, m.call_id, m.at) not in kept
        ]
        found = [m for m in (self._logged_miss(lm) for lm in logged if not _kept(lm, known)) if m is not None]
        for miss in found:
            await self.bus.publish(TOPIC_MISS, MissChange(miss, pausing=False))
            self._mark(f"miss:{miss.seat}:{miss.at.isoformat()}", miss)
        if found:
            log.warning("bridge: %d misses from Asterisk's queue_log that the record lacked (seats %s)", len(found),
                        ", ".join(sorted({m.seat for m in found})))  # fmt: skip
        self._late_runs = await self._runs_of_misses(found, [*known, *found], since)
        mine = {m.call_id for m in found}
        return {call: n for call, n in Counter(m.call_id for m in [*known, *found]).items() if call in mine}

    async def _runs_of_misses(
        self, found: list[MissSnapshot], misses: list[MissSnapshot], since: datetime
    ) -> dict[str, int]:
        """For seats with misses found in queue_log: how many calls each missed since it last answered or resumed
        (as miss_reset says), as far as the log's span shows it."""
        assert self.queue_log is not None
        seats = {m.seat for m in found}
        reset = await asyncio.to_thread(last_events, self.queue_log, since, self.seats.reset_events)
        runs = {}
        for seat in seats:
            after = reset.get(seat)
            runs[seat] = sum(1 for m in misses if m.seat == seat and (after is None or m.at >= after))
        return runs

    async def _apply_late_runs(self) -> None:
        """After the seats are rebuilt: a run of misses found in queue_log counts as if seen live, and the two-ring
        rule pauses a ready seat whose run reached its limit (Asterisk does not: autopause is off)."""
        runs, self._late_runs = self._late_runs, {}
        for seat, in_row in sorted(runs.items()):
            snap = self.seats.raise_misses(seat, in_row)
            if snap is None:
                continue
            await self._publish_seat(snap)
            log.warning("seat %s: %d calls missed in a row, found in queue_log after a restart", seat, in_row)
            if snap.state is SeatState.READY and in_row >= self.rule.misses_to_pause and self.control is not None:
                await self._pause(PauseSeat(seat, self.rule.reason, in_row, snap.call_id or ""))

    def _logged_miss(self, logged: LoggedMiss) -> MissSnapshot | None:
        seat = self.seats.get(logged.seat)
        ring = logged.ring_ms
        rejected = ring is not None and ring < self.rule.ring_limit_ms - REJECT_MARGIN_MS
        return MissSnapshot(logged.seat, logged.uniqueid, logged.at, ring, rejected, seat.misses_in_row if seat else 0)

    async def _unfinished(self, live: set[str], now: datetime) -> list[CallSnapshot]:
        """Calls the database holds as live that are not live in Asterisk: they ended while no bridge ran."""
        assert self.store is not None
        try:
            return await self.store.unfinished(live, now - UNFINISHED_LOOKBACK)
        except Exception as exc:  # the database is away: they are finished at the next start
            log.error("bridge: cannot read the calls left unfinished (%s)", exc)
            return []

    async def _unseen(self, ended: dict[str, EndStamp], known: set[str]) -> list[CallSnapshot]:
        """Calls that began and ended while no bridge ran (their end kept by Asterisk after the newest call of the
        record, no record of them): as they began, to be finished from that end like any call left unfinished."""
        assert self.store is not None
        candidates = [k for k in ended if k not in known and self.calls.get(k) is None]
        if not candidates:
            return []
        try:
            # only ends after the newest call the record has: an end older than that is no gap of this record (a
            # new database beside an Asterisk that served another one; a record with no call yet takes none)
            latest = await self.store.latest_start()
            candidates = [k for k in candidates if latest is not None and ended[k].at > latest]
            recorded = await self.store.calls(candidates) if candidates else {}
        except Exception as exc:  # the database is away: the ends stay kept for the next resync
            log.error("bridge: cannot check %d calls that ended while no bridge ran (%s)", len(candidates), exc)
            return []
        unseen = [c for k in candidates if k not in recorded and (c := ended[k].unseen_call(k, self.queue))]
        for call in unseen:
            log.warning("call %s: began and ended while no bridge ran (caller %s): recorded from Asterisk's stamps",
                        call.call_id, call.caller_number)  # fmt: skip
        return unseen

    async def _finish_unfinished(
        self, unfinished: list[CallSnapshot], ended: dict[str, EndStamp], missed: dict[str, int]
    ) -> None:
        """Calls that ended while no bridge ran (a restart of the bridge mid-call): ended as their hangup handler
        recorded it, or, without that record, at an unknown time (estimated) and answered only if the answer was
        seen, so that no count waits on them for ever; with the misses Asterisk's queue_log kept."""
        for call in unfinished:
            cut = self.asterisk.cut_at(call)
            done = finish(call, ended.get(call.call_id), cut, cut=cut is not None)
            done = replace(done, misses=max(done.misses, missed.get(call.call_id, 0)))
            how = "its end kept by Asterisk" if call.call_id in ended else "Asterisk stopped" if cut else "end unknown"
            log.warning("call %s: ended while the bridge was down (%s): %s", call.call_id, how,
                        done.outcome.value if done.outcome else "?")  # fmt: skip
            await self._publish_call(done)

    async def _resync_soon(self) -> None:
        if self.client.connected.is_set():
            with contextlib.suppress(AmiError):
                await self.resync()

    def subscribe(self, kinds: tuple[type[Any], ...], handler: Callable[[E], None]) -> Callable[[], None]:
        """`handler` gets every event of these types (model events and notices, decoded once here), in the
        order Asterisk sent them, before the models apply it; it must not block. `kinds` are the types of the
        handler's argument (a union beside it, e.g. hotline/threeway/service.py HEARD). Returns the unsubscribe."""
        for kind in kinds:
            self._subscribers.setdefault(kind, []).append(handler)

        def unsubscribe() -> None:
            for kind in kinds:
                with contextlib.suppress(ValueError):
                    self._subscribers[kind].remove(handler)

        return unsubscribe

    def _tell(self, event: object) -> None:
        for handler in self._subscribers.get(type(event), ()):
            handler(event)

    async def _notice(self, notice: ev.Notice | None, event: ev.Event | None) -> None:
        """Subscribers hear the notice and the event; a seat taking its call into a three-way conference is 三方."""
        if self._subscribers:
            if notice is not None:
                self._tell(notice)
            if event is not None:
                self._tell(event)
        if isinstance(notice, ev.ConferenceJoined):
            for seat in self.seats.joined_conference(notice):
                await self._publish_seat(seat)
        if notice is not None and self._exit_after is not None and type(notice).__name__ == self._exit_after[0]:
            self._fault_exit()  # the features were handed the notice (they act on it on their own queues)

    async def _on_frame(self, frame: Frame) -> None:
        received = time.time()  # when the bridge took the frame: screen pops measure their delay from it
        event = ev.decode(frame)
        await self._notice(ev.decode_notice(frame), event)
        if event is None:
            return
        self.stats.events += 1
        seat_before = self.seats.get(event.seat) if isinstance(event, ev.SeatMissed) else None
        try:
            calls = self.calls.apply(event)
            seats = self.seats.apply(event)
        except (IllegalTransition, IllegalSeatTransition) as exc:
            self.stats.illegal += 1
            log.warning("%s; resyncing from Asterisk", exc)
            await self._resync_soon()
            return
        for call in calls:
            await self._publish_call(call, received)
        for seat in seats:
            await self._publish_seat(seat)
        if isinstance(event, ev.SeatMissed):
            await self._on_missed(event, seat_before)
        self._applied(event, frame, calls)

    def _applied(self, event: ev.Event, frame: Frame, calls: list[CallSnapshot]) -> None:
        """After an event was applied and published: a call's end the dialplan kept is cleared (this process
        saw the end); the lag figure; the fault-injection switch."""
        self._forget_ends([c.call_id for c in calls if c.state is CallState.ENDED])
        if frame.timestamp is not None:
            lag = (datetime.now(UTC) - frame.timestamp).total_seconds() * 1000
            self.stats.lag_ms = [*self.stats.lag_ms[-999:], lag]
        if self._exit_after is not None and type(event).__name__ == self._exit_after[0]:
            self._fault_exit()

    def _fault_exit(self) -> None:
        assert self._exit_after is not None
        self._exit_count += 1
        if self._exit_count == self._exit_after[1]:
            log.critical("fault injection: exiting hard after %s #%d (HOTLINE_FAULT_EXIT_AFTER)", *self._exit_after)
            logging.shutdown()
            os._exit(FAULT_EXIT_CODE)

    async def _publish_call(self, call: CallSnapshot, received: float | None = None) -> None:
        """On the bus: the snapshot, plus "received" (epoch seconds) when an AMI event caused it."""
        told = (call.state.value, call.seat)
        if self._told.get(call.call_id) != told:  # a line per change of state or seat, not per snapshot
            log.info("call %s: %s seat=%s caller=%s", call.call_id, call.state.value, call.seat, call.caller_number)
        self._told[call.call_id] = told
        if len(self._told) > 20_000:  # bounded: forget the oldest half (ended long ago, mostly)
            for key in list(self._told)[:10_000]:
                del self._told[key]
        await self.bus.publish(TOPIC_CALL, CallChange(call, received))
        self._mark(f"call:{call.call_id}", call)

    async def _publish_seat(self, seat: SeatSnapshot) -> None:
        log.info("seat %s: %s %s call=%s", seat.seat, seat.state.value, seat.pause_reason or "", seat.call_id)
        await self.bus.publish(TOPIC_SEAT, seat)
        self._mark(f"seat:{seat.seat}", seat)

    async def _on_missed(self, event: ev.SeatMissed, before: SeatSnapshot | None) -> None:
        miss, pause = self.rule.on_missed(event, before, self.seats.get(event.seat))
        if miss is None:
            return
        log.info(
            "call %s: seat %s missed it (%s after %s ms; %d in a row)",
            miss.call_id, miss.seat, "rejected" if miss.rejected else "rang out", miss.ring_ms, miss.misses_in_row,
        )  # fmt: skip
        await self.bus.publish(TOPIC_MISS, MissChange(miss, pausing=pause is not None))
        self._mark(f"miss:{miss.seat}:{miss.at.isoformat()}", miss)
        if pause is not None and self.control is not None:
            await self._pause(pause)

    async def _pause(self, pause: PauseSeat) -> None:
        try:
            await self.control.pause(pause.seat, pause.reason)  # type: ignore[union-attr]
        except AmiError as exc:
            log.error("call %s: could not pause seat %s after %d misses: %s", pause.call_id, pause.seat,
                      pause.misses_in_row, exc)  # fmt: skip

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            for seat in self.seats.expire(datetime.now(UTC)):
                await self._publish_seat(seat)

    # ------------------------------------------------------------------ write-behind
    def _mark(self, key: str, snap: CallSnapshot | SeatSnapshot | MissSnapshot) -> None:
        if self.store is not None:
            self._dirty[key] = snap
            self.stats.pending = len(self._dirty)
            self._dirty_event.set()

    async def _persist(self) -> None:
        while True:
            await self._dirty_event.wait()
            await self._flush()

    async def _flush(self) -> None:
        """Save every dirty snapshot, all in one transaction. A snapshot leaves the dirty set only once saved
        (and not changed meanwhile), so a cancel or an error in the middle loses nothing. When the batch
        fails, each snapshot is tried alone: one that the database refuses stays dirty (and is logged), the
        others are saved."""
        if self.store is None:
            return
        self._dirty_event.clear()
        batch = list(self._dirty.items())
        try:
            await self._save([snap for _, snap in batch])
        except Exception as exc:
            self.stats.save_failures += 1
            self.stats.save_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning("could not save %d changes in one go (%s); saving them one by one", len(batch), exc)
            failed = 0
            for key, snap in batch:
                try:
                    await self._save([snap])
                except Exception:
                    log.exception("could not save %s; kept for the next try", key)
                    failed += 1
                    continue
                self._saved(key, snap)
            if failed:
                await asyncio.sleep(1)
                self._dirty_event.set()
            else:
                self.stats.save_error = None
            return
        self.stats.save_error = None
        for key, snap in batch:
            self._saved(key, snap)

    async def _save(self, snaps: list[CallSnapshot | SeatSnapshot | MissSnapshot]) -> None:
        assert self.store is not None
        await self.store.save(
            calls=[s for s in snaps if isinstance(s, CallSnapshot)],
            seats=[(s, s.state is not SeatState.LOGGED_OUT) for s in snaps if isinstance(s, SeatSnapshot)],
            misses=[s for s in snaps if isinstance(s, MissSnapshot)],
        )

    def _saved(self, key: str, snap: CallSnapshot | SeatSnapshot | MissSnapshot) -> None:
        self.stats.saved += 1
        if self._dirty.get(key) is snap:
            del self._dirty[key]
        self.stats.pending = len(self._dirty)


def _kept(logged: LoggedMiss, known: list[MissSnapshot]) -> bool:
    """The record has this miss: the same seat and call, within the log's whole second."""
    return any(k.seat == logged.seat and k.call_id == logged.uniqueid and abs(k.at - logged.at) <= QUEUE_LOG_SLACK
               for k in known)  # fmt: skip
