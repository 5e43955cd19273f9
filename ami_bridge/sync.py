"""Rebuild the view from Asterisk's status listings (pure: frames in, snapshots out).

Run after every (re)connect, before any live event is applied: CoreShowChannels gives every live
channel, QueueStatus the seats (members) and the callers waiting (entries).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from . import events as ev
from .constants import INBOUND_CONTEXTS, CallKind, CallState, LegRole, SeatState
from .protocol import Frame
from .snapshots import CallSnapshot, LegSnapshot


@dataclass(frozen=True, slots=True)
class Busy:
    """A seat on a call, as the live channels show it."""

    state: SeatState  # ringing or talking
    call_id: str | None
    kind: CallKind
    leg: str | None = None  # the seat's channel (Uniqueid)
    since: datetime | None = None  # its phone began to ring / it answered, as the dialplan stamped it


@dataclass(frozen=True, slots=True)
class Rebuilt:
    calls: list[CallSnapshot]
    members: list[ev.Member]
    busy: dict[str, Busy]  # seat -> the call it is on


def _duration(text: str) -> timedelta:
    """CoreShowChannel's Duration: HH:MM:SS."""
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=h, minutes=m, seconds=s)


def stamp(text: str | None) -> datetime | None:
    """A dialplan time stamp (HOTLINE_QUEUED…: Unix time with ms) as a UTC time; None when absent or garbled."""
    try:
        return datetime.fromtimestamp(float(text), UTC) if text else None
    except (ValueError, OverflowError, OSError):
        return None


ENDED_FAMILY = "hotline-ended"  # Asterisk's database: <family>/<call id> = end/queued/rang/answered/seat/start/caller


@dataclass(frozen=True, slots=True)
class EndStamp:
    """What the citizen's hangup handler kept of a call in Asterisk's database (extensions.conf
    [hangup-handlers]): when it ended and, as the dialplan stamped them, when it entered the queue, when the
    answering seat's phone began to ring, when that seat answered, which seat, when the call began and who called
    (the last two make a record of a call no bridge saw at all)."""

    at: datetime
    queued_at: datetime | None = None
    rang_at: datetime | None = None
    answered_at: datetime | None = None
    seat: str | None = None
    started_at: datetime | None = None
    caller: str | None = None

    @classmethod
    def parse(cls, text: str) -> EndStamp | None:
        parts = [*text.split("/"), "", "", "", "", "", ""][:7]
        at = stamp(parts[0])
        if at is None:
            return None
        return cls(at, stamp(parts[1]), stamp(parts[2]), stamp(parts[3]), parts[4] or None, stamp(parts[5]),
                   parts[6] or None)  # fmt: skip

    def unseen_call(self, call_id: str, queue: str | None) -> CallSnapshot | None:
        """The call as it began, for one that began and ended while no bridge ran (None without its start)."""
        if self.started_at is None:
            return None
        return CallSnapshot(call_id, CallState.ARRIVING, self.caller, None, None, self.started_at,
                            queue=queue if self.queued_at else None)  # fmt: skip


def end_stamps(frames: list[Frame]) -> dict[str, EndStamp]:
    """DBGetTree of ENDED_FAMILY (Key /hotline-ended/<call id>) → call id → its end; garbled entries skipped."""
    out = {}
    for frame in frames:
        call_id = frame.get("Key").rpartition("/")[2]
        if call_id and (end := EndStamp.parse(frame.get("Val"))) is not None:
            out[call_id] = end
    return out


def _is_citizen(chan: ev.Channel) -> bool:
    return chan.role_var == "citizen" or (chan.context in INBOUND_CONTEXTS and not chan.name.startswith("Local/"))


def rebuild(channel_frames: list[Frame], queue_frames: list[Frame], now: datetime, queue: str | None = None) -> Rebuilt:
    """`queue`: the queue QueueStatus was asked about (a call talking to a seat has left its entries)."""
    members = [ev.member(f) for f in queue_frames if f.name == "QueueMember"]
    seat_of_interface = {m.interface: m.seat for m in members}
    waiting = {f.get("Uniqueid"): f for f in queue_frames if f.name == "QueueEntry"}
    groups: dict[str, list[tuple[ev.Channel, Frame]]] = defaultdict(list)
    for frame in channel_frames:
        chan = ev.channel(frame)
        groups[chan.linkedid or chan.uniqueid].append((chan, frame))
    calls: list[CallSnapshot] = []
    busy: dict[str, Busy] = {}
    for group in groups.values():
        citizen = next(((c, f) for c, f in group if _is_citizen(c)), None)
        if citizen is None:
            continue
        snap = _call(citizen, group, seat_of_interface, waiting, now, queue)
        calls.append(snap)
        if snap.seat and snap.state in (CallState.RINGING, CallState.TALKING):
            state = SeatState.RINGING if snap.state is CallState.RINGING else SeatState.TALKING
            kind, leg = _inbound_seat(group, snap.seat, seat_of_interface)
            since = snap.ring_started_at if state is SeatState.RINGING else snap.answered_at
            stamped = not {"ring_started_at", "answered_at"} & set(snap.estimated)
            busy[snap.seat] = Busy(state, snap.call_id, kind, leg, since if stamped else None)
    for group in groups.values():  # the seats' own calls (回访, 外呼, 内线): their channel says which kind
        for chan, _ in group:
            seat = seat_of_interface.get(chan.endpoint)
            if seat and seat not in busy and chan.state == 6 and chan.kind_var in KINDS:
                busy[seat] = Busy(
                    SeatState.TALKING, chan.call_var or chan.linkedid, CallKind(chan.kind_var), chan.uniqueid
                )
    return Rebuilt(calls, members, busy)


KINDS = frozenset(k.value for k in CallKind)
FROM_THE_QUEUE = frozenset({CallKind.INBOUND, CallKind.THREEWAY})  # the kinds of a citizen's call (wrap-up after)


def _inbound_seat(
    group: list[tuple[ev.Channel, Frame]], seat: str, seat_of_interface: dict[str, str]
) -> tuple[CallKind, str | None]:
    """The kind of a citizen's call at its seat, and the seat's channel (Uniqueid, as the live SeatCalled gives it,
    so a later three-way join or hang-up of that channel is the seat's): 三方 when that channel went into the
    three-way dialplan (it set HOTLINE_KIND), else 来电."""
    mine = [c for c, _ in group if seat_of_interface.get(c.endpoint) == seat]
    kind = CallKind.THREEWAY if any(c.kind_var == CallKind.THREEWAY for c in mine) else CallKind.INBOUND
    return kind, (mine[0].uniqueid if mine else None)


@dataclass
class _Seat:
    """The seat's leg of a rebuilt call: who, its channel state, its time stamps."""

    seat: str | None = None
    state: int = 0
    rang: datetime | None = None
    answered: datetime | None = None
    answer_stamped: bool = False


def _legs(
    chan: ev.Channel, group: list[tuple[ev.Channel, Frame]], seat_of_interface: dict[str, str], now: datetime
) -> tuple[list[LegSnapshot], _Seat]:
    legs, seat = [], _Seat()
    for c, f in group:
        leg_start = now - _duration(f.get("Duration"))
        role = LegRole.CITIZEN if c is chan else LegRole.OTHER
        if c.endpoint in seat_of_interface:
            role = LegRole.SEAT
            answered = (stamp(c.answered_var) or leg_start) if c.state == 6 else None
            seat = _Seat(
                seat_of_interface[c.endpoint], c.state, stamp(c.rang_var), answered, c.answered_var is not None
            )
        elif c.name.startswith("Local/"):
            role = LegRole.LOCAL
        legs.append(LegSnapshot(c.uniqueid, c.name, role, leg_start, leg_start if c.state == 6 else None))
    return legs, seat


def _state(chan: ev.Channel, seat: _Seat, queued: bool) -> CallState:
    if seat.seat is not None and seat.state == 6:
        return CallState.TALKING
    if seat.seat is not None and queued:
        return CallState.RINGING
    if queued:
        return CallState.QUEUED
    if chan.context in INBOUND_CONTEXTS or chan.queued_var is None:
        return CallState.ARRIVING  # not in the queue yet: the IVR, or the no-seat-free prompt before it ([queue])
    return CallState.AFTER_SEAT  # it was queued (HOTLINE_QUEUED) and is no longer: after its seat (the survey)


def _call(
    citizen: tuple[ev.Channel, Frame],
    group: list[tuple[ev.Channel, Frame]],
    seat_of_interface: dict[str, str],
    waiting: dict[str, Frame],
    now: datetime,
    queue: str | None,
) -> CallSnapshot:
    """One call as Asterisk lists it, its times from the dialplan's stamps where they exist; what only the
    whole-second durations or the moment of the resync can give is named in `estimated`."""
    chan, frame = citizen
    estimated: set[str] = set()
    started_at = stamp(chan.started_var)
    if started_at is None:  # a call from before the stamp: Asterisk gives whole seconds
        started_at = now - _duration(frame.get("Duration"))
        estimated.add("started_at")
    legs, seat = _legs(chan, group, seat_of_interface, now)
    entry = waiting.get(chan.uniqueid)
    queued_at = stamp(chan.queued_var)
    if queued_at is None and entry is not None:
        queued_at = now - timedelta(seconds=int(entry.get("Wait") or 0))
        estimated.add("queued_at")
    state = _state(chan, seat, entry is not None)
    if state is CallState.AFTER_SEAT and chan.seat_var:  # its seat left: the citizen's channel has its stamps now
        seat = _Seat(chan.seat_var, 6, stamp(chan.rang_var), stamp(chan.answered_var), chan.answered_var is not None)
    answered = seat.answered if state in (CallState.TALKING, CallState.AFTER_SEAT) else None
    if answered is not None and not seat.answer_stamped:
        estimated.add("answered_at")
    ring_started = seat.rang if state in (CallState.RINGING, CallState.TALKING, CallState.AFTER_SEAT) else None
    if state is CallState.RINGING and ring_started is None:
        ring_started = now
        estimated.add("ring_started_at")
    measured = answered is not None and not estimated & {"queued_at", "answered_at"}
    return CallSnapshot(
        call_id=chan.call_var or chan.linkedid or chan.uniqueid,
        state=state,
        caller_number=chan.caller_number,
        caller_name=chan.caller_name,
        dialed=None,
        started_at=started_at,
        queue=entry.get("Queue") if entry is not None else (queue if queued_at is not None else None),
        queued_at=queued_at,
        seat=None if state is CallState.QUEUED else seat.seat,
        ring_started_at=ring_started,
        answered_at=answered,
        ring_ms=ms_between(ring_started, answered) if measured else None,
        wait_ms=ms_between(queued_at, answered) if measured else None,
        legs=tuple(legs),
        estimated=tuple(sorted(estimated)),
    )


def ms_between(start: datetime | None, end: datetime | None) -> int | None:
    """Whole milliseconds from start to end (never negative); None when either is unknown."""
    return None if start is None or end is None else max(0, round((end - start).total_seconds() * 1000))
