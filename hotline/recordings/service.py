"""Recording beside the bridge: every answered call's file catalogued when the call ends, checked, sampled
for QA every night, purged when its retention ends.

Asterisk records (extensions.conf [record-call]: MixMonitor on the citizen's channel) into
<root>/<date>/<call id>.raw; when the bridge publishes the call as ended and answered, the file is found by
the call's date (the day of the answer, or the day before or after) and id, turned by sox into a stereo file in
the configured format (HOTLINE_RECORDING_FORMAT: Ogg Vorbis, FLAC or WAV), measured off the event loop (sox,
sha256) and its catalogue row written with the checker's verdict. Callbacks (回访) too:
[dialer-record] records the citizen's leg under the attempt id; when the dialer publishes an attempt as ended
after the citizen answered, it is catalogued from the attempt's row (callback_attempts).

A call that ended while the service was down never gets that message: the sweep (hotline/recordings/sweep.py)
catalogues such files at start, every night before the check, and by hand (`hotline qa sweep`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import subprocess
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ami_bridge.client import AmiError
from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.snapshots import CallSnapshot
from hotline.topics import TOPIC_CALL, TOPIC_DIALER, TOPIC_RECORDING, CallChange

from .. import tasks
from . import files
from .checker import RecStatus, Talk, recheck, talk_of, unknown_call, verdict
from .formats import DEFAULT, Format
from .paths import parse_relative, relative_path, resolve
from .retention import Retention
from .sampling import Plan, Reason, Rule, sample_day
from .store import RecordingStore
from .sweep import (
    DEFAULT_DAYS,
    OUTBOUND_QUEUE,
    Leave,
    channel_ids,
    channel_made_at,
    left_alone,
    outbound_of,
    sweep_days,
)

if TYPE_CHECKING:
    from ami_bridge.bridge import Bridge
    from hotline.bus import Bus, Subscription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingConfig:
    root: Path
    zone: ZoneInfo
    settle_s: float
    tolerance_s: float
    retention: Retention
    rule: Rule
    nightly_at: time
    sweep_days: int = DEFAULT_DAYS  # how many days back the sweep looks for files with no catalogue row
    sweep: bool = True  # sweep at start and in the nightly run (`hotline qa sweep` by hand either way)
    format: Format = DEFAULT  # what a .raw becomes (HOTLINE_RECORDING_FORMAT); files made in another stay so


CATCH_UP_WINDOW = timedelta(days=1)  # how far back the start looks for talks the process before left uncatalogued


class RecordingService:
    CHECK_DAYS = 7  # the nightly check measures the last week's files again (`hotline qa check`: all of them)

    def __init__(self, bridge: Bridge | None, bus: Bus, store: RecordingStore, config: RecordingConfig) -> None:
        self.bridge, self.bus, self.store, self.config = bridge, bus, store, config
        self._sub: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._busy: dict[str, tuple[asyncio.Lock, int]] = {}  # call id -> its lock, how many hold or wait for it
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)  # what "today" is (tests move it)

    @property
    def root(self) -> Path:
        return self.config.root

    async def start(self, *, nightly: bool = True) -> None:
        self._sub = self.bus.subscribe(TOPIC_CALL, TOPIC_DIALER)
        await self._sub.__aenter__()
        self._tasks = [asyncio.create_task(self._listen(self._sub), name="recordings-listen")]
        if self.config.sweep and self.bridge is not None:  # in the background: the start does not wait
            self._tasks.append(asyncio.create_task(self._sweep_at_start(self.bridge), name="recordings-sweep"))
        self._tasks.append(asyncio.create_task(self._catch_up_at_start(self.clock()), name="recordings-catch-up"))
        if nightly:
            self._tasks.append(asyncio.create_task(self._nightly(), name="recordings-nightly"))

    async def close(self) -> None:
        await tasks.stop([*self._tasks, *self._pending])
        self._tasks = []
        if self._sub is not None:
            await self._sub.__aexit__(None, None, None)
            self._sub = None

    async def _listen(self, sub: Subscription) -> None:
        async for _topic, message in sub:
            if isinstance(message, CallChange):
                talk, name = self._talk_of_call(message.call), message.call.call_id
            else:
                talk, name = self._talk_of_callback(message), str(message.get("attempt_id", ""))
            if talk is None:
                continue
            task = asyncio.create_task(self._after_settle(talk), name=f"recording-{name}")
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    @staticmethod
    def _talk_of_call(call: CallSnapshot) -> Callable[[], Awaitable[Talk | None]] | None:
        if call.state is not CallState.ENDED or call.answered_at is None:  # answered: ended as answered, or cut
            return None

        async def talk() -> Talk:
            return talk_of(call)

        return talk

    def _talk_of_callback(self, message: dict[str, Any]) -> Callable[[], Awaitable[Talk | None]] | None:
        """A callback attempt (回访) that ended after the citizen answered."""
        if message.get("state") != "ended" or message.get("outcome") != CallOutcome.ANSWERED.value:
            return None
        attempt_id = message.get("attempt_id")
        return functools.partial(self.store.callback_talk, attempt_id) if isinstance(attempt_id, str) else None

    async def _after_settle(self, talk: Callable[[], Awaitable[Talk | None]]) -> None:
        await asyncio.sleep(self.config.settle_s)  # MixMonitor closes the file just after the hang-up
        facts = None
        try:
            facts = await talk()
            if facts is not None:
                await self.catalogue_talk(facts)
        except Exception:
            log.exception("call %s: recording not catalogued", facts.call_id if facts else "?")

    # ------------------------------------------------------------------ catalogue and check
    def _day(self, at: datetime) -> date:
        return at.astimezone(self.config.zone).date()

    def today(self) -> date:
        """The hotline's today (its time zone, not UTC: from 00:00 to 08:00 Beijing time they differ, and the
        night shift's calls are on the local day)."""
        return self._day(self.clock())

    async def catalogue(self, call: CallSnapshot) -> dict[str, Any]:
        """Measure the call's file and write its catalogue row with the checker's verdict."""
        return await self.catalogue_talk(talk_of(call))

    async def catalogue_callback(self, attempt_id: str) -> dict[str, Any] | None:
        """The same for a callback attempt (回访); None when the citizen never answered it."""
        talk = await self.store.callback_talk(attempt_id)
        return None if talk is None else await self.catalogue_talk(talk)

    async def catalogue_talk(self, talk: Talk, *, rel: str | None = None) -> dict[str, Any]:
        """Find, finalise and measure the file named by the talk's id; write its row with the checker's verdict.
        The file is looked for around the answer's day and today (the dialer's clock may be a test's)."""
        async with self._one_at_a_time(talk.call_id):
            return await self._catalogue(talk, rel)

    @contextlib.asynccontextmanager
    async def _one_at_a_time(self, call_id: str) -> AsyncIterator[None]:
        """One catalogue write per call id at once: the call's end and the sweep may meet on a file, and two
        sox runs on one .raw would race."""
        lock, users = self._busy.get(call_id, (asyncio.Lock(), 0))
        self._busy[call_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._busy[call_id]
            if users == 1:
                del self._busy[call_id]
            else:
                self._busy[call_id] = (lock, users - 1)

    async def _catalogue(self, talk: Talk, rel: str | None, *, known: bool = True) -> dict[str, Any]:
        call_id = talk.call_id
        answered = talk.answered_at or datetime.now(UTC)
        if rel is None:
            rel = await asyncio.to_thread(files.find, self.root, call_id, self._day(answered), self.config.format)
        if rel is None and self._day(answered) != (today := self.today()):
            rel = await asyncio.to_thread(files.find, self.root, call_id, today, self.config.format)
        rel = rel or relative_path(self._day(answered), call_id, self.config.format)
        day, _ = parse_relative(rel)
        try:
            await asyncio.to_thread(files.finalise, self.root, rel)
        except (OSError, subprocess.SubprocessError) as exc:
            log.error("call %s: the raw recording could not be turned into %s: %s", call_id, rel, exc)
        measured = await asyncio.to_thread(files.measure, resolve(self.root, rel))
        expected = talk.expected_s
        if known:
            result = verdict(measured.facts, expected, self.config.tolerance_s)
        else:
            result = unknown_call(measured.facts, call_id)
        tickets = await self.store.tickets_of(call_id)
        values = {
            "call_id": call_id, "seat": talk.seat, "caller_number": talk.caller_number,
            "ticket_id": tickets[0] if tickets else None, "queue": talk.queue, "day": day.isoformat(),
            "started_at": answered, "call_s": round(expected or 0.0, 3), "duration_s": measured.facts.duration_s,
            "size": measured.facts.size if measured.facts.exists else None, "sha256": measured.sha256, "path": rel,
            "status": result.status.value, "status_reason": result.reason, "checked_at": datetime.now(UTC),
            "keep_until": self.config.retention.keep_until(day).isoformat(),
        }  # fmt: skip
        await self.store.save(values)
        if result.status.flagged:
            log.warning("call %s: recording %s FLAGGED %s: %s", call_id, rel, result.status, result.reason)
        else:
            log.info("call %s: recording %s catalogued (%s)", call_id, rel, result.reason)
        row = await self.store.get(call_id)
        assert row is not None
        await self.bus.publish(TOPIC_RECORDING, row)
        return row

    # ------------------------------------------------------------------ the sweep
    async def sweep(self, live: Collection[str], *, days: int | None = None, now: datetime | None = None
                    ) -> dict[str, int]:  # fmt: skip
        """Catalogue the recordings of the last `days` days (default: the setting) that have no row: calls
        that ended while the service was down. `live`: the ids live in Asterisk now (their files are left
        alone, as are files written to in the last minute). A file whose id the database does not know gets a
        row flagged unknown-call. Returns how many files were swept and left, by why."""
        now = now or datetime.now(UTC)
        found: list[files.OnDisk] = []
        for day in sweep_days(self._day(now), self.config.sweep_days if days is None else days):
            found += await asyncio.to_thread(files.on_disk, self.root, day, self.config.format)
        catalogued = await self.store.catalogued(f.call_id for f in found)
        counts: Counter[str] = Counter()
        for item in found:
            why = left_alone(item, now, catalogued, live)
            if why is not None:
                counts[why.value] += 1
                if why is not Leave.CATALOGUED:
                    log.info("call %s: recording %s left for a later sweep (%s: Asterisk may still be writing it)",
                             item.call_id, item.rel, why.value)  # fmt: skip
                continue
            try:
                swept = await self._sweep_one(item)
            except Exception:
                log.exception("call %s: recording %s not swept", item.call_id, item.rel)
                counts["error"] += 1
                continue
            counts[swept] += 1
        log.info("recordings sweep of %d files: %s", len(found), dict(counts))
        return dict(counts)

    async def _sweep_one(self, item: files.OnDisk) -> str:
        async with self._one_at_a_time(item.call_id):
            if await self.store.get(item.call_id) is not None:
                return Leave.CATALOGUED.value  # its end came in meanwhile
            known = await self.store.swept_talk(item.call_id)
            if known is None and (out := outbound_of(item.call_id)) is not None:
                at = channel_made_at(item.call_id) or item.modified
                known = Talk(item.call_id, out[0], None, OUTBOUND_QUEUE, at, None), "the seat's own call out"
            if known is None:
                at = channel_made_at(item.call_id) or item.modified
                row = await self._catalogue(Talk(item.call_id, None, None, None, at, None), item.rel, known=False)
                log.warning("call %s: swept: recording %s has no call in the database: catalogued as %s",
                            item.call_id, item.rel, row["status"])  # fmt: skip
                return "unknown"
            talk, source = known
            row = await self._catalogue(talk, item.rel)
            log.info("call %s: swept: recording %s catalogued from %s (seat %s, %s)", item.call_id, item.rel, source,
                     talk.seat or "-", row["status"])  # fmt: skip
            return "swept"

    async def live_ids(self) -> set[str] | None:
        """The ids a recording may be named by that are live now: the bridge's live calls (ids and legs) and
        every channel Asterisk has (CoreShowChannels). None when that cannot be known (no bridge, or its AMI
        link is down or not resynced yet)."""
        bridge = self.bridge
        if bridge is None or not bridge.resynced.is_set():
            return None
        ids = set()
        for call in bridge.calls.active():
            ids.add(call.call_id)
            ids.update(leg.uniqueid for leg in call.legs)
        try:
            ids |= channel_ids(await bridge.client.action_list("CoreShowChannels"))
        except AmiError as exc:
            log.warning("recordings sweep: cannot list Asterisk's channels (%s)", exc)
            return None
        return ids

    async def sweep_live(self) -> dict[str, int] | None:
        """The sweep, with what is live asked of the bridge and Asterisk; None (logged) when that is unknown."""
        live = await self.live_ids()
        if live is None:
            log.warning("recordings sweep skipped: which calls are live is unknown (AMI link down); the nightly "
                        "run sweeps again, or run `hotline qa sweep`")  # fmt: skip
            return None
        return await self.sweep(live)

    async def catch_up(self, started: datetime) -> int:
        """Talks that ended in the last day before this process started and were never catalogued (the process
        before died in the settle pause between a call's end and its catalogue): catalogued now. Calls ending from
        `started` on are the live path's (a call ended while no process ran comes from the first resync, live)."""
        await asyncio.sleep(self.config.settle_s)
        talks = await self.store.not_catalogued(started - CATCH_UP_WINDOW, started)
        for talk in talks:
            try:
                await self.catalogue_talk(talk)
            except Exception:
                log.exception("call %s: recording not catalogued (catching up at start)", talk.call_id)
        if talks:
            log.info("recordings: %d talks of before the start catalogued now (the process before died first)",
                     len(talks))  # fmt: skip
        return len(talks)

    async def _catch_up_at_start(self, started: datetime) -> None:
        try:
            await self.catch_up(started)
        except Exception:
            log.exception("recordings: catching up at start failed; the nightly sweep finds the files")

    async def _sweep_at_start(self, bridge: Bridge) -> None:
        """Files of calls that ended while the service was down, once the bridge knows what is live."""
        await bridge.resynced.wait()
        try:
            await self.sweep_live()
        except Exception:
            log.exception("recordings sweep at start failed; the nightly run sweeps again")

    async def check(self, since: date | None = None) -> dict[str, int]:
        """Measure kept recordings again (of days from `since`, else all); a file gone, emptied or cut short is
        flagged (logged)."""
        counts: dict[str, int] = {}
        for row in await self.store.kept(since=since):
            with contextlib.suppress(OSError, subprocess.SubprocessError):  # a .raw left when we were down
                await asyncio.to_thread(files.finalise, self.root, row["path"])
            measured = await asyncio.to_thread(files.measure, resolve(self.root, row["path"]))
            fresh = verdict(measured.facts, row["call_s"], self.config.tolerance_s)
            result = recheck(RecStatus(row["status"]), row["status_reason"] or "", fresh)
            counts[result.status.value] = counts.get(result.status.value, 0) + 1
            if result.status.value != row["status"] or measured.sha256 != row["sha256"]:
                if result.status.flagged:
                    log.warning("call %s: recording %s FLAGGED %s: %s", row["call_id"], row["path"], result.status,
                                result.reason)  # fmt: skip
                extra = {"size": measured.facts.size if measured.facts.exists else None,
                         "duration_s": measured.facts.duration_s}  # fmt: skip
                await self.store.set_status(row["call_id"], result.status, result.reason, if_at=row["path"], **extra)
        return counts

    # ------------------------------------------------------------------ sampling and retention
    async def sample(self, day: date) -> tuple[Plan, int]:
        """Sample `day` for QA. Run again for the same day, it adds only mandatory calls that are new (a ticket
        filed or a call flagged since): a seat's random share is drawn once, and a call is never sampled twice."""
        today = await self.store.samples(day=day.isoformat(), limit=100_000)
        drawn = {s["seat"] for s in today if Reason.RANDOM.value in s["reasons"]}
        others = await self.store.sampled_ids() - {s["call_id"] for s in today}
        plan = sample_day(day, await self.store.candidates(day), self.config.rule, others)
        plan.picks = [p for p in plan.picks if not (p.reasons == (Reason.RANDOM,) and p.seat in drawn)]
        added = await self.store.add_samples(day, plan.picks)
        log.info("QA sampling %s: %d calls picked, %d new", day, len(plan.picks), added)
        return plan, added

    async def purge(self, today: date) -> int:
        """Delete the files whose retention ended (complaint tickets kept longer; unscored samples kept)."""
        retention = self.config.retention
        oldest_kept = today - timedelta(days=min(retention.ordinary_days, retention.complaint_days))
        rows = await self.store.kept(before=oldest_kept)  # nothing younger can be due
        categories = await self.store.categories([r["call_id"] for r in rows])
        purged = 0
        for row in rows:
            under_review = (await self.store.sample(row["call_id"])) is not None and (
                await self.store.score(row["call_id"])
            ) is None
            day = date.fromisoformat(row["day"])
            if not self.config.retention.due(day, categories[row["call_id"]], today, under_review=under_review):
                continue
            existed = await asyncio.to_thread(files.delete, self.root, row["path"])
            reason = "retention ended (file deleted)" if existed else "retention ended (file was already gone)"
            if not await self.store.set_status(row["call_id"], RecStatus.PURGED, reason, if_at=row["path"],
                                               purged_at=datetime.now(UTC)):  # fmt: skip
                log.info("call %s: recording moved from %s meanwhile (recompressed): purged on the next run",
                         row["call_id"], row["path"])  # fmt: skip
                continue
            if strays := await asyncio.to_thread(files.delete_strays, self.root, row["path"]):
                log.warning("call %s: %d copy(ies) of the recording in another format deleted with it (a recompress "
                            "cut short)", row["call_id"], strays)  # fmt: skip
            log.info("call %s: recording %s purged (retention ended)", row["call_id"], row["path"])
            purged += 1
        return purged

    async def nightly_run(self, now: datetime) -> None:
        today = self._day(now)
        try:
            if self.config.sweep:
                await self.sweep_live()  # files of calls that ended while the service was down: checked next
        except Exception:
            log.exception("nightly recordings sweep failed; checking the catalogued files")
        counts = await self.check(since=today - timedelta(days=self.CHECK_DAYS))
        log.info("nightly recordings check: %s", counts)
        await self.sample(today - timedelta(days=1))
        await self.purge(today)

    def _next_run(self, now: datetime) -> datetime:
        local = now.astimezone(self.config.zone)
        at = datetime.combine(local.date(), self.config.nightly_at, self.config.zone)
        return at if at > local else at + timedelta(days=1)

    async def _nightly(self) -> None:
        while True:
            now = datetime.now(UTC)
            await asyncio.sleep(max(1.0, (self._next_run(now) - now).total_seconds()))
            try:
                await self.nightly_run(datetime.now(UTC))
            except Exception:
                log.exception("nightly recordings run failed; next one tomorrow")
