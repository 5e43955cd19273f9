"""Rebuild the view from Asterisk's status listings (pure: frames in, snapshots out).

Run after every (re)connect, before any live event is applied: CoreShowChannels gives every live
channel, QueueStatus the seats (members) and the callers waiting (entries).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import events as ev
from .constants import INBOUND_CONTEXTS, CallState, LegRole, SeatState
from .protocol import Frame
from .snapshots import CallSnapshot, LegSnapshot


@dataclass(frozen=True, slots=True)
class Rebuilt:
    calls: list[CallSnapshot]
    members: list[ev.Member]
    busy: dict[str, tuple[SeatState, str | None]]  # seat -> (ringing|talking, call id)


def _duration(text: str) -> timedelta:
    """CoreShowChannel's Duration: HH:MM:SS."""
    try:
        h, m, s = (int(x) for x in text.split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=h, minutes=m, seconds=s)


def _is_citizen(chan: ev.Channel) -> bool:
    return chan.role_var == "citizen" or (chan.context in INBOUND_CONTEXTS and not chan.name.startswith("Local/"))


def rebuild(channel_frames: list[Frame], queue_frames: list[Frame], now: datetime) -> Rebuilt:
    members = [ev.member(f) for f in queue_frames if f.name == "QueueMember"]
    seat_of_interface = {m.interface: m.seat for m in members}
    waiting = {f.get("Uniqueid"): f for f in queue_frames if f.name == "QueueEntry"}
    groups: dict[str, list[tuple[ev.Channel, Frame]]] = defaultdict(list)
    for frame in channel_frames:
        chan = ev.channel(frame)
        groups[chan.linkedid or chan.uniqueid].append((chan, frame))
    calls: list[CallSnapshot] = []
    busy: dict[str, tuple[SeatState, str | None]] = {}
    for group in groups.values():
        citizen = next(((c, f) for c, f in group if _is_citizen(c)), None)
        if citizen is None:
            continue
        snap = _call(citizen, group, seat_of_interface, waiting, now)
        calls.append(snap)
        if snap.seat and snap.state in (CallState.RINGING, CallState.TALKING):
            busy[snap.seat] = (
                SeatState.RINGING if snap.state is CallState.RINGING else SeatState.TALKING,
                snap.call_id,
            )
    return Rebuilt(calls, members, busy)


def _call(
    citizen: tuple[ev.Channel, Frame],
    group: list[tuple[ev.Channel, Frame]],
    seat_of_interface: dict[str, str],
    waiting: dict[str, Frame],
    now: datetime,
) -> CallSnapshot:
    chan, frame = citizen
    started = now - _duration(frame.get("Duration"))
    legs, seat, seat_state, answered = [], None, 0, None
    for c, f in group:
        leg_start = now - _duration(f.get("Duration"))
        role = LegRole.CITIZEN if c is chan else LegRole.OTHER
        if c.endpoint in seat_of_interface:
            role, seat, seat_state = LegRole.SEAT, seat_of_interface[c.endpoint], c.state
            answered = leg_start if c.state == 6 else None
        elif c.name.startswith("Local/"):
            role = LegRole.LOCAL
        legs.append(LegSnapshot(c.uniqueid, c.name, role, leg_start, leg_start if c.state == 6 else None))
    entry = waiting.get(chan.uniqueid)
    queued_at = now - timedelta(seconds=int(entry.get("Wait") or 0)) if entry is not None else None
    if seat is not None and seat_state == 6:
        state = CallState.TALKING
    elif seat is not None and entry is not None:
        state = CallState.RINGING
    elif entry is not None:
        state, seat = CallState.QUEUED, None
    elif chan.context in INBOUND_CONTEXTS:
        state = CallState.ARRIVING
    else:
        state = CallState.AFTER_SEAT
    return CallSnapshot(
        call_id=chan.call_var or chan.linkedid or chan.uniqueid,
        state=state,
        caller_number=chan.caller_number,
        caller_name=chan.caller_name,
        dialed=None,
        started_at=started,
        queue=entry.get("Queue") if entry is not None else None,
        queued_at=queued_at,
        seat=seat,
        ring_started_at=now if state is CallState.RINGING else None,
        answered_at=answered,
        legs=tuple(legs),
    )
