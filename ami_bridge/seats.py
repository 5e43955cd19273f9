"""The seat model: each seat's state, as a pure state machine fed by queue events.

States: logged out, ready, ringing, talking, wrap-up, paused (with a reason). A pause asked for
while the seat rings or talks is remembered and takes effect when the call ends.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from . import events as ev
from .constants import CallKind, SeatState
from .snapshots import SeatSnapshot
from .sync import FROM_THE_QUEUE, KINDS, Busy

T = SeatState


class IllegalSeatTransition(Exception):
    def __init__(self, seat: str, state: SeatState, event: object) -> None:
        super().__init__(f"seat {seat}: {type(event).__name__} not allowed in state {state.value}")
        self.seat, self.state, self.event = seat, state, event


@dataclass(frozen=True, slots=True)
class WrapUpEnded:
    """Made by `SeatBook.expire`: the seat's wrap-up time is over."""

    at: datetime
    seat: str


@dataclass(frozen=True, slots=True)
class OwnCallUp:
    """Made by `SeatBook.apply` from a channel event: the seat's phone is up on a call not from the queue (a 回访
    the dialer rang it for, its own call out, another seat): its channel carries HOTLINE_KIND."""

    at: datetime
    seat: str
    leg: ev.Channel
    kind: CallKind


# What sets a seat's count of misses in a row back to 0 (settings: miss_reset)
MISS_RESETS = ("answered", "resumed", "answered_or_resumed")
THREEWAY_CONFERENCE = "tw-"  # the three-way conferences' names: tw-<call id> (extensions.conf [threeway])

# Call-flow transitions: (state, event type) -> next state. "END" means: the call is over, go to
# wrap-up, paused or ready (see _after_call).
CALL_FLOW: dict[tuple[SeatState, type], SeatState | str] = {
    (T.READY, ev.SeatCalled): T.RINGING,
    (T.WRAP_UP, ev.SeatCalled): T.RINGING,  # Asterisk's wrap-up is shorter than ours: it rang anyway
    (T.RINGING, ev.SeatCalled): T.RINGING,
    # the queue chose the seat just before a pause landed (the bridge pauses after a miss while the
    # next caller is being placed): it rings, paused; after the call it is paused again
    (T.PAUSED, ev.SeatCalled): T.RINGING,
    (T.RINGING, ev.SeatConnected): T.TALKING,
    (T.RINGING, ev.SeatMissed): "READY_OR_PAUSED",
    (T.RINGING, ev.ChannelHungUp): "READY_OR_PAUSED",  # the caller gave up while it rang
    (T.TALKING, ev.SeatCompleted): "END",
    (T.TALKING, ev.ChannelHungUp): "END",
    (T.WRAP_UP, WrapUpEnded): "READY_OR_PAUSED",
    # a call not from the queue: the seat is busy on it whatever it was doing, and after it as after any call
    (T.READY, OwnCallUp): T.TALKING,
    (T.WRAP_UP, OwnCallUp): T.TALKING,
    (T.PAUSED, OwnCallUp): T.TALKING,
    (T.TALKING, OwnCallUp): T.TALKING,  # a second call from the same phone (a consult): the first one counts
}


@dataclass
class _Seat:
    snap: SeatSnapshot
    leg_uniqueid: str | None = None  # the seat's channel for the current call


class SeatBook:
    def __init__(
        self, *, wrapup_s: int = 5, seats: set[str] | None = None, miss_reset: str = "answered_or_resumed"
    ) -> None:
        if miss_reset not in MISS_RESETS:
            raise ValueError(f"miss_reset: {miss_reset!r} is not one of {', '.join(MISS_RESETS)}")
        self.wrapup_s = wrapup_s
        self._reset_on_answer = miss_reset in ("answered", "answered_or_resumed")
        self._reset_on_resume = miss_reset in ("resumed", "answered_or_resumed")
        self._seats: dict[str, _Seat] = {}
        self._known = seats  # None: any member name is a seat

    @property
    def reset_events(self) -> frozenset[str]:
        """The queue_log events that end a seat's run of misses (miss_reset): CONNECT (answered), UNPAUSE."""
        return frozenset({"CONNECT"} if self._reset_on_answer else set()) | (
            frozenset({"UNPAUSE"}) if self._reset_on_resume else frozenset()
        )

    def raise_misses(self, seat: str, in_row: int) -> SeatSnapshot | None:
        """The seat missed at least `in_row` calls in a row (found in queue_log after a restart): its count raised
        to that; the changed snapshot, or None when it knew as much already."""
        known = self._seats.get(seat)
        if known is None or known.snap.misses_in_row >= in_row:
            return None
        known.snap = replace(known.snap, misses_in_row=in_row)
        return known.snap

    def get(self, seat: str) -> SeatSnapshot | None:
        s = self._seats.get(seat)
        return s.snap if s else None

    def all(self) -> list[SeatSnapshot]:
        return [s.snap for _, s in sorted(self._seats.items())]

    def restore(self, snaps: list[SeatSnapshot]) -> None:
        """Seed from the database at start; the resync that follows corrects it from Asterisk."""
        for snap in snaps:
            self._seats.setdefault(snap.seat, _Seat(snap))

    def apply(self, event: ev.Event | WrapUpEnded) -> list[SeatSnapshot]:
        """Apply one event; return the seats it changed. Raises IllegalSeatTransition."""
        if isinstance(event, ev.MemberAdded | ev.MemberRemoved | ev.MemberPaused | ev.MemberStatus):
            return self._membership(event)
        if isinstance(event, ev.ChannelStateChanged):
            own = self._own_call(event)
            return self._call_flow(self._seats[own.seat], own) if own is not None else []
        if isinstance(event, ev.ChannelHungUp):
            seat = self._seat_of_leg(event.channel.uniqueid)
        else:
            seat = getattr(event, "seat", None)
        if seat is None or seat not in self._seats:
            return []
        return self._call_flow(self._seats[seat], event)

    def _own_call(self, event: ev.ChannelStateChanged) -> OwnCallUp | None:
        """A logged-in seat's phone answered a call not from the queue (its channel says which kind)."""
        chan = event.channel
        if chan.state != 6 or chan.kind_var not in KINDS:
            return None
        seat = next((n for n, s in self._seats.items() if s.snap.interface == chan.endpoint), None)
        if seat is None or self._seats[seat].leg_uniqueid is not None:
            return None  # not a seat's phone, or the seat is on a call already
        return OwnCallUp(event.at, seat, chan, CallKind(chan.kind_var))

    def joined_conference(self, event: ev.ConferenceJoined) -> list[SeatSnapshot]:
        """A seat's channel entered a three-way conference (tw-<call>): its call is 三方 from now on."""
        seat = self._seat_of_leg(event.channel.uniqueid)
        if seat is None or not event.conference.startswith(THREEWAY_CONFERENCE):
            return []
        snap = self._seats[seat].snap
        if snap.state is not T.TALKING or snap.call_kind is CallKind.THREEWAY:
            return []
        self._seats[seat].snap = replace(snap, call_kind=CallKind.THREEWAY)
        return [self._seats[seat].snap]

    def _seat_of_leg(self, uniqueid: str) -> str | None:
        return next((name for name, s in self._seats.items() if s.leg_uniqueid == uniqueid), None)

    def _call_flow(self, seat: _Seat, event: ev.Event | WrapUpEnded | OwnCallUp) -> list[SeatSnapshot]:
        snap = seat.snap
        nxt = CALL_FLOW.get((snap.state, type(event)))
        if nxt is None:
            if isinstance(event, ev.ChannelHungUp | ev.SeatCompleted):
                return []  # a leg ending, or a late AgentComplete, after the seat's hang-up already ended the call
            raise IllegalSeatTransition(snap.seat, snap.state, event)
        at = event.at
        if nxt == "END":  # wrap-up (整理) after a citizen's call from the queue; a seat's own call has none
            wrap = self.wrapup_s > 0 and (snap.call_kind is None or snap.call_kind in FROM_THE_QUEUE)
            nxt = T.PAUSED if snap.pause_reason else (T.WRAP_UP if wrap else T.READY)
            seat.leg_uniqueid = None
            snap = replace(snap, call_id=None, call_kind=None)
        elif nxt == "READY_OR_PAUSED":
            if isinstance(event, ev.SeatMissed):
                snap = replace(snap, misses_in_row=snap.misses_in_row + 1)
            nxt = T.PAUSED if snap.pause_reason else T.READY
            seat.leg_uniqueid = None
            snap = replace(snap, call_id=None, call_kind=None)
        elif isinstance(event, ev.SeatCalled):
            seat.leg_uniqueid = event.seat_leg.uniqueid
            snap = replace(snap, call_id=event.channel.call_var or event.channel.linkedid, call_kind=CallKind.INBOUND)
        elif isinstance(event, OwnCallUp):
            seat.leg_uniqueid = event.leg.uniqueid
            snap = replace(snap, call_id=event.leg.call_var or event.leg.linkedid, call_kind=event.kind)
        elif isinstance(event, ev.SeatConnected):
            seat.leg_uniqueid = event.seat_leg.uniqueid
            if self._reset_on_answer:
                snap = replace(snap, misses_in_row=0)
        seat.snap = replace(snap, state=T(nxt), since=at if T(nxt) is not snap.state else snap.since)
        return [seat.snap]

    def _membership(
        self, event: ev.MemberAdded | ev.MemberRemoved | ev.MemberPaused | ev.MemberStatus
    ) -> list[SeatSnapshot]:
        m = event.member
        if self._known is not None and m.seat not in self._known:
            return []
        seat = self._seats.get(m.seat)
        if isinstance(event, ev.MemberRemoved):
            if seat is None:
                return []
            seat.snap = SeatSnapshot(m.seat, T.LOGGED_OUT, since=event.at)
            seat.leg_uniqueid = None
            return [seat.snap]
        if seat is None or seat.snap.state is T.LOGGED_OUT:
            state = T.PAUSED if m.paused else T.READY
            seat = self._seats[m.seat] = _Seat(SeatSnapshot(m.seat, state, m.interface, _reason(m), since=event.at))
            return [seat.snap]
        before = seat.snap
        reason = _reason(m) if m.paused else None
        snap = replace(before, interface=m.interface, pause_reason=reason)
        if before.state in (T.READY, T.WRAP_UP) and m.paused:
            snap = replace(snap, state=T.PAUSED, since=event.at)
        elif before.state is T.PAUSED and not m.paused:
            misses = 0 if self._reset_on_resume else before.misses_in_row
            snap = replace(snap, state=T.READY, since=event.at, misses_in_row=misses)
        seat.snap = snap
        return [] if snap == before else [snap]

    def expire(self, now: datetime) -> list[SeatSnapshot]:
        """End wrap-up for seats whose wrap-up time is over."""
        changed: list[SeatSnapshot] = []
        limit = timedelta(seconds=self.wrapup_s)
        for name, seat in self._seats.items():
            if seat.snap.state is T.WRAP_UP and seat.snap.since is not None and now - seat.snap.since >= limit:
                changed += self._call_flow(seat, WrapUpEnded(now, name))
        return changed

    def resync(self, members: list[ev.Member], busy: dict[str, Busy], now: datetime) -> list[SeatSnapshot]:
        """Rebuild from QueueStatus members; `busy`: the seats on a call, from the live channels."""
        changed: list[SeatSnapshot] = []
        present = set()
        for m in members:
            if self._known is not None and m.seat not in self._known:
                continue
            present.add(m.seat)
            old = self._seats.get(m.seat)
            on = busy.get(m.seat)
            if on is not None:
                state, call_id, kind = on.state, on.call_id, on.kind
            else:
                state, call_id, kind = (T.PAUSED if m.paused else T.READY), None, None
                if not m.paused and m.last_call is not None and now - m.last_call < timedelta(seconds=self.wrapup_s):
                    state = T.WRAP_UP  # Asterisk's own wrap-up window is still open (lost after its restart)
            since = old.snap.since if old is not None and old.snap.state is state else now
            if on is not None and on.since is not None and (old is None or old.snap.call_id != call_id):
                since = on.since  # rang / answered while no bridge watched: the dialplan's stamp
            if state is T.WRAP_UP and m.last_call is not None:
                since = m.last_call
            misses = old.snap.misses_in_row if old is not None else 0
            snap = SeatSnapshot(m.seat, state, m.interface, _reason(m), call_id, since, misses, kind)
            if old is None or old.snap != snap:
                changed.append(snap)
            leg = (on.leg if on is not None else None) or (old.leg_uniqueid if old and call_id else None)
            self._seats[m.seat] = _Seat(snap, leg)
        for name, seat in self._seats.items():
            if name not in present and seat.snap.state is not T.LOGGED_OUT:
                seat.snap = SeatSnapshot(name, T.LOGGED_OUT, since=now)
                changed.append(seat.snap)
        return changed


def _reason(m: ev.Member) -> str | None:
    return (m.pause_reason or "其他") if m.paused else None
