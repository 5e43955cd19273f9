"""The call model: one citizen's call across all its legs, as a pure state machine.

Events in, snapshots of the calls they changed out; no I/O. A call is keyed by the Linkedid of the
citizen's leg when first seen (equal to HOTLINE_CALL set by the dialplan). Legs are found by
Uniqueid, then Linkedid, then HOTLINE_CALL; when a bridge makes a leg take another call's Linkedid,
the two calls merge and the older id stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from . import events as ev
from .constants import INBOUND_CONTEXTS, CallOutcome, CallState, LegRole
from .snapshots import CallSnapshot, LegSnapshot
from .sync import EndStamp, ms_between


class IllegalTransition(Exception):
    """An event that the call's state does not allow (events lost or out of order: resync)."""

    def __init__(self, call_id: str, state: CallState, event: object) -> None:
        super().__init__(f"call {call_id}: {type(event).__name__} not allowed in state {state.value}")
        self.call_id, self.state, self.event = call_id, state, event


S = CallState
# (state, event type) -> next state. Events not listed for a state are illegal in it.
TRANSITIONS: dict[tuple[CallState, type], CallState] = {
    (S.ARRIVING, ev.CallerJoinedQueue): S.QUEUED,
    # a resync's QueueStatus already listed the caller, and its join event, sent before, is applied after it
    (S.QUEUED, ev.CallerJoinedQueue): S.QUEUED,
    (S.QUEUED, ev.SeatCalled): S.RINGING,
    (S.RINGING, ev.SeatCalled): S.RINGING,  # strategies that ring several seats
    (S.RINGING, ev.SeatMissed): S.QUEUED,
    (S.RINGING, ev.SeatConnected): S.TALKING,
    (S.QUEUED, ev.CallerAbandoned): S.QUEUED,
    (S.RINGING, ev.CallerAbandoned): S.RINGING,
    (S.TALKING, ev.SeatCompleted): S.AFTER_SEAT,
    (S.AFTER_SEAT, ev.SeatCompleted): S.AFTER_SEAT,  # a resync saw the seat's leg gone before AgentComplete came
}
QUEUE_EVENTS = (
    ev.CallerJoinedQueue,
    ev.SeatCalled,
    ev.SeatMissed,
    ev.SeatConnected,
    ev.CallerAbandoned,
    ev.SeatCompleted,
)


@dataclass
class _Call:
    snap: CallSnapshot
    legs: dict[str, LegSnapshot] = field(default_factory=dict)
    citizen_uniqueid: str = ""
    abandoned: bool = False

    def freeze(self) -> CallSnapshot:
        self.snap = replace(self.snap, legs=tuple(self.legs.values()))
        return self.snap


class CallBook:
    def __init__(self, *, keep_ended: int = 500) -> None:
        self._calls: dict[str, _Call] = {}
        self._by_uniqueid: dict[str, str] = {}
        self._by_linkedid: dict[str, str] = {}
        self._ended: list[str] = []
        self._keep_ended = keep_ended

    # ------------------------------------------------------------------ queries
    def at_least_misses(self, call_id: str, misses: int) -> CallSnapshot | None:
        """The call with at least `misses` (misses found after the fact: Asterisk's queue_log); None if unknown
        here or already counted."""
        call = self._calls.get(call_id)
        if call is None or call.snap.misses >= misses:
            return None
        call.snap = replace(call.snap, misses=misses)
        return call.freeze()

    def get(self, call_id: str) -> CallSnapshot | None:
        call = self._calls.get(call_id)
        return call.snap if call else None

    def active(self) -> list[CallSnapshot]:
        return [c.snap for c in self._calls.values() if c.snap.state is not S.ENDED]

    def find(self, channel: ev.Channel) -> str | None:
        for key, index in (
            (channel.uniqueid, self._by_uniqueid),
            (channel.linkedid, self._by_linkedid),
            (channel.call_var, self._by_linkedid),
        ):
            if key and key in index:
                return index[key]
        return None

    # ------------------------------------------------------------------ events
    def apply(self, event: ev.Event) -> list[CallSnapshot]:
        """Apply one event; return the snapshots of calls it changed. Raises IllegalTransition."""
        chan = getattr(event, "channel", None)
        if not isinstance(chan, ev.Channel):
            return []
        call_id = self.find(chan)
        if call_id is None:
            if not self._starts_call(chan):
                return []
            call_id = self._open(chan, event.at)
        call = self._calls[call_id]
        if call.snap.state is S.ENDED:
            return []  # late events of an ended call
        self._merge_if_relinked(call, chan)
        call = self._calls[self.find(chan) or call_id]
        self._track_leg(call, chan, event)
        if chan.ivr_var and chan.uniqueid == call.citizen_uniqueid and chan.ivr_var != call.snap.ivr:
            call.snap = replace(call.snap, ivr=chan.ivr_var)
        if isinstance(event, QUEUE_EVENTS):
            self._queue_event(call, event)
        if isinstance(event, ev.ChannelHungUp) and chan.uniqueid == call.citizen_uniqueid:
            self._end(call, event.at)
        return [call.freeze()]

    @staticmethod
    def _starts_call(chan: ev.Channel) -> bool:
        return chan.role_var == "citizen" or (chan.context in INBOUND_CONTEXTS and not chan.name.startswith("Local/"))

    def _open(self, chan: ev.Channel, at: datetime) -> str:
        call_id = chan.call_var or chan.linkedid or chan.uniqueid
        snap = CallSnapshot(
            call_id=call_id,
            state=S.ARRIVING,
            caller_number=chan.caller_number,
            caller_name=chan.caller_name,
            dialed=chan.exten or None,
            started_at=at,
        )
        self._calls[call_id] = _Call(snap, citizen_uniqueid=chan.uniqueid)
        self._by_linkedid[chan.linkedid or call_id] = call_id
        self._by_linkedid[call_id] = call_id
        return call_id

    def _merge_if_relinked(self, call: _Call, chan: ev.Channel) -> None:
        other_id = self._by_linkedid.get(chan.linkedid)
        if other_id is None:
            self._by_linkedid[chan.linkedid] = call.snap.call_id
            return
        if other_id == call.snap.call_id or other_id not in self._calls:
            return
        keep, gone = sorted((call, self._calls[other_id]), key=lambda c: c.snap.started_at)
        keep.legs.update(gone.legs)
        for uid in gone.legs:
            self._by_uniqueid[uid] = keep.snap.call_id
        for key, value in list(self._by_linkedid.items()):
            if value == gone.snap.call_id:
                self._by_linkedid[key] = keep.snap.call_id
        del self._calls[gone.snap.call_id]

    def _track_leg(self, call: _Call, chan: ev.Channel, event: ev.Event) -> None:
        leg = call.legs.get(chan.uniqueid)
        if leg is None:
            role = self._role(call, chan)
            leg = LegSnapshot(chan.uniqueid, chan.name, role, event.at)
            self._by_uniqueid[chan.uniqueid] = call.snap.call_id
        if chan.state == 6 and leg.answered_at is None:
            leg = replace(leg, answered_at=event.at)
        if isinstance(event, ev.ChannelHungUp):
            leg = replace(leg, ended_at=event.at, hangup_cause=event.cause)
        call.legs[chan.uniqueid] = leg
        seat_leg = getattr(event, "seat_leg", None)
        if isinstance(seat_leg, ev.Channel) and seat_leg.uniqueid:
            known = call.legs.get(seat_leg.uniqueid)
            call.legs[seat_leg.uniqueid] = (
                replace(known, role=LegRole.SEAT)
                if known
                else LegSnapshot(seat_leg.uniqueid, seat_leg.name, LegRole.SEAT, event.at)
            )
            self._by_uniqueid[seat_leg.uniqueid] = call.snap.call_id

    @staticmethod
    def _role(call: _Call, chan: ev.Channel) -> LegRole:
        if chan.uniqueid == call.citizen_uniqueid:
            return LegRole.CITIZEN
        if chan.role_var in {r.value for r in LegRole} and chan.role_var != "citizen":
            return LegRole(chan.role_var)
        return LegRole.LOCAL if chan.name.startswith("Local/") else LegRole.OTHER

    def _queue_event(self, call: _Call, event: ev.Event) -> None:
        state = call.snap.state
        nxt = TRANSITIONS.get((state, type(event)))
        if nxt is None:
            raise IllegalTransition(call.snap.call_id, state, event)
        snap, at = call.snap, event.at
        if isinstance(event, ev.CallerJoinedQueue):
            snap = replace(snap, queue=event.queue, queued_at=at)
        elif isinstance(event, ev.SeatCalled):
            snap = replace(snap, seat=event.seat, ring_started_at=at)
        elif isinstance(event, ev.SeatMissed):
            snap = replace(snap, seat=None, ring_started_at=None, misses=snap.misses + 1)
        elif isinstance(event, ev.SeatConnected):
            snap = replace(
                snap,
                seat=event.seat,
                answered_at=at,
                ring_ms=ms_between(snap.ring_started_at, at),
                wait_ms=ms_between(snap.queued_at, at),
            )
        elif isinstance(event, ev.CallerAbandoned):
            call.abandoned = True
            snap = replace(snap, wait_ms=ms_between(snap.queued_at, at))
        call.snap = replace(snap, state=nxt)

    def _end(self, call: _Call, at: datetime) -> None:
        snap = call.snap
        if snap.answered_at is not None:
            outcome = CallOutcome.ANSWERED
        elif snap.queued_at is not None:
            outcome = CallOutcome.ABANDONED
        else:
            outcome = CallOutcome.UNQUEUED
        wait = snap.wait_ms if snap.wait_ms is not None or snap.queued_at is None else ms_between(snap.queued_at, at)
        call.snap = replace(snap, state=S.ENDED, ended_at=at, outcome=outcome, wait_ms=wait)
        self._ended.append(snap.call_id)
        self._forget_old()

    def _forget_old(self) -> None:
        while len(self._ended) > self._keep_ended:
            gone = self._calls.pop(self._ended.pop(0), None)
            if gone is None:
                continue
            for uid in gone.legs:
                self._by_uniqueid.pop(uid, None)
            for key in [k for k, v in self._by_linkedid.items() if v == gone.snap.call_id]:
                del self._by_linkedid[key]

    # ------------------------------------------------------------------ resync
    def resync(
        self,
        snapshot: list[CallSnapshot],
        now: datetime,
        stored: Mapping[str, CallSnapshot] | None = None,
        ended: Mapping[str, EndStamp] | None = None,
        run: AsteriskRun | None = None,
    ) -> list[CallSnapshot]:
        """Replace the live view with what Asterisk reports (see sync.py); return changed calls. Each call is
        merged with what was known of it: this process's view, else `stored` (the record kept before a restart).

        Calls known here but gone from Asterisk ended while the link was down: they end as their hangup handler
        recorded it (`ended`); without that record, cut off when Asterisk stopped under them (`run`), else now,
        the end marked as estimated (see `finish`).
        """
        changed: list[CallSnapshot] = []
        seen = {s.call_id for s in snapshot}
        for call in list(self._calls.values()):
            if call.snap.state is not S.ENDED and call.snap.call_id not in seen:
                cut = (run or AsteriskRun()).cut_at(call.snap)
                call.snap = finish(call.freeze(), (ended or {}).get(call.snap.call_id), cut or now, cut=cut is not None)
                self._ended.append(call.snap.call_id)
                self._forget_old()
                changed.append(call.snap)
        for snap in snapshot:
            known = self._calls.get(snap.call_id)
            before = known.snap if known is not None else (stored or {}).get(snap.call_id)
            if before is not None:
                snap = _keep_history(before, snap)
            call = _Call(
                snap,
                {leg.uniqueid: leg for leg in snap.legs},
                citizen_uniqueid=next((leg.uniqueid for leg in snap.legs if leg.role is LegRole.CITIZEN), ""),
            )
            self._calls[snap.call_id] = call
            self._by_linkedid[snap.call_id] = snap.call_id
            for leg in snap.legs:
                self._by_uniqueid[leg.uniqueid] = snap.call_id
            changed.append(call.freeze())
        return changed


def _keep_history(old: CallSnapshot, new: CallSnapshot) -> CallSnapshot:
    """Merge what was known of a call (measured live, in this process or before a restart: the store's record)
    with what Asterisk says now (rebuilt at a resync). Asterisk wins on liveness, state and who is on the call;
    a measured time wins over an estimate (the record's first, then the dialplan's stamps); an estimate stays
    only where nothing better is known, and stays named in `estimated`."""
    times: dict[str, datetime | None] = {}
    estimated: set[str] = set()
    for name in ("started_at", "queued_at", "ring_started_at", "answered_at"):
        choices = [(old, name not in old.estimated), (new, name not in new.estimated)]
        if name == "ring_started_at" and old.seat != new.seat:
            choices = choices[1:]  # another seat rings now: its ring is the one that counts
        value, measured = next(((getattr(s, name), m) for s, m in choices if getattr(s, name) and m), (None, False))
        if value is None:  # only estimates (or nothing)
            value = next((getattr(s, name) for s, _ in choices if getattr(s, name)), None)
        times[name] = value
        if value is not None and not measured:
            estimated.add(name)
    legs = {leg.uniqueid: leg for leg in new.legs}
    for leg in old.legs:
        if (now := legs.get(leg.uniqueid)) is not None:  # the live leg's measured start and answer
            legs[leg.uniqueid] = replace(now, started_at=leg.started_at, answered_at=leg.answered_at or now.answered_at)
    return replace(
        new,
        **times,  # type: ignore[arg-type]
        dialed=old.dialed or new.dialed,
        queue=old.queue or new.queue,
        ring_ms=_first(old.ring_ms, new.ring_ms, _measured_ms(times, estimated, "ring_started_at")),
        wait_ms=_first(old.wait_ms, new.wait_ms, _measured_ms(times, estimated, "queued_at")),
        misses=max(old.misses, new.misses),  # Asterisk's listings do not tell: a miss seen live stays counted
        caller_name=new.caller_name or old.caller_name,
        ivr=new.ivr or old.ivr,
        legs=tuple(legs.values()),
        estimated=tuple(sorted(estimated)),
    )


def _first(*values: int | None) -> int | None:
    return next((v for v in values if v is not None), None)


def _measured_ms(times: Mapping[str, datetime | None], estimated: set[str], since: str) -> int | None:
    """Milliseconds from `since` to the answer, when both were measured (ring or wait of a merged call)."""
    start, answered = times[since], times["answered_at"]
    if since in estimated or "answered_at" in estimated or start is None or answered is None:
        return None
    return ms_between(start, answered)


@dataclass(frozen=True, slots=True)
class AsteriskRun:
    """What the bridge knows of Asterisk's life: when the Asterisk it is linked to started (from its uptime at
    login, a second early: the uptime is in whole seconds) and when this process last lost the link."""

    started_at: datetime | None = None
    lost_at: datetime | None = None

    @classmethod
    def at_login(cls, linked_at: datetime, uptime_s: int | None, lost_at: datetime | None) -> AsteriskRun:
        started = None if uptime_s is None else linked_at - timedelta(seconds=uptime_s + 1)
        return cls(started, lost_at)

    def cut_at(self, call: CallSnapshot) -> datetime | None:
        """When Asterisk stopped under `call` (an estimate), or None if the Asterisk linked now ran before the call
        began: then the call was not cut by a restart. The time the link was lost if this process saw it go within
        the call's life, else the new Asterisk's start (it stopped before that)."""
        if self.started_at is None or call.started_at >= self.started_at:
            return None
        if self.lost_at is not None and call.started_at <= self.lost_at <= self.started_at + timedelta(seconds=1):
            return self.lost_at
        return self.started_at


def finish(call: CallSnapshot, end: EndStamp | None, fallback: datetime | None, *, cut: bool = False) -> CallSnapshot:
    """A call that ended while no bridge followed it. With its hangup handler's record (`end`): ended exactly,
    and what happened meanwhile (queued, rung, answered, by whom) from the dialplan's stamps. Without it: ended at
    `fallback` (None: not known), that end named as estimated; the outcome `cut` when Asterisk stopped under the
    call (no hangup handler ran), else answered only if the answer was seen, else unknown (it may have been
    answered while nobody looked). A cut call keeps its answer: it counts as answered, and as cut."""
    if end is None:
        if cut:
            outcome = CallOutcome.CUT
        else:
            outcome = CallOutcome.ANSWERED if call.answered_at is not None else CallOutcome.UNKNOWN
        estimated = tuple(sorted({*call.estimated, "ended_at"}))
        return replace(call, state=S.ENDED, ended_at=fallback, outcome=outcome, estimated=estimated)
    answered = call.answered_at or end.answered_at
    queued = call.queued_at or end.queued_at
    seat, ring_started = call.seat, call.ring_started_at
    if call.answered_at is None and end.answered_at is not None:  # answered meanwhile: that seat's ring counts
        seat, ring_started = end.seat or call.seat, end.rang_at or call.ring_started_at
    measured = {name for name, value in (("queued_at", end.queued_at), ("answered_at", end.answered_at),
                                         ("ring_started_at", end.rang_at)) if value is not None}  # fmt: skip
    if answered is not None:
        outcome = CallOutcome.ANSWERED
        wait = _first(call.wait_ms, ms_between(queued, answered) if queued else None)
        ring = _first(call.ring_ms, ms_between(ring_started, answered) if ring_started else None)
    else:
        outcome = CallOutcome.ABANDONED if queued is not None else CallOutcome.UNQUEUED
        wait, ring = _first(call.wait_ms, ms_between(queued, end.at) if queued else None), None
    return replace(
        call, state=S.ENDED, ended_at=end.at, outcome=outcome, seat=seat, queued_at=queued, answered_at=answered,
        ring_started_at=ring_started, wait_ms=wait, ring_ms=ring,
        estimated=tuple(sorted(set(call.estimated) - measured)),
    )  # fmt: skip
