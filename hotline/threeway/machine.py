"""Three-way calls (三方通话) with a handling unit: one attempt as a pure state machine.

    requested → ringing → consulting (the unit answered; the seat talks to it alone) → joined
    (caller, seat and unit in the call's conference) → seat_left (caller and unit go on) → ended

Failures end an attempt in its own state, with the caller back with the seat: no_answer, busy,
failed (the trunk or the number), cancelled (by the seat, before the unit joined). Events in, a new
frozen attempt out; no I/O. An event the table does not allow raises IllegalThreewayEvent, a command
the state does not allow raises ThreewayRefused (with a stable id for the API).

How the telephony runs (asterisk-conf/extensions.conf [threeway]): the citizen waits in a ConfBridge
named after the call (hold music while alone), the seat's channel Dials the unit (the seat hears the
ringing), and the seat and the unit enter the conference on join. Why a conference and not attended
transfer with atxferthreeway: see the comment above [threeway].
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hotline.errors import HotlineError, IllegalTransition, Kind


class TwState(StrEnum):
    REQUESTED = "requested"  # the bridge asked Asterisk; the unit's phone is not ringing yet
    RINGING = "ringing"
    CONSULTING = "consulting"  # the unit answered; seat and unit talk, the caller hears hold music
    JOINED = "joined"  # all three in the conference
    SEAT_LEFT = "seat_left"  # caller and unit go on without the seat
    ENDED = "ended"  # after a join or a consult: see outcome
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TwEvent(StrEnum):
    RINGING = "ringing"  # the unit's phone rings (180)
    ANSWERED = "answered"  # the unit picked up
    JOINED = "joined"  # the unit entered the conference
    SEAT_LEFT = "seat_left"  # the seat left the conference while the unit is in it
    UNIT_LEFT = "unit_left"  # the unit hung up (after answering)
    CITIZEN_LEFT = "citizen_left"  # the caller hung up
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TwCommand(StrEnum):
    JOIN = "join"
    LEAVE = "leave"
    CANCEL = "cancel"


class IllegalThreewayEvent(IllegalTransition):
    def __init__(self, attempt_id: str, state: TwState, event: TwEvent) -> None:
        super().__init__(
            f"three-way {attempt_id}: {event.value} not allowed in state {state.value}", attempt_id=attempt_id
        )
        self.attempt_id, self.state, self.event = attempt_id, state, event


class ThreewayRefused(HotlineError):
    """A request or command that cannot be done now; `error` is a stable id for the API."""

    def __init__(self, kind: Kind, error: str, message: str) -> None:
        super().__init__(message, error=error, kind=kind)


S, E = TwState, TwEvent
FAILURES = {E.NO_ANSWER: S.NO_ANSWER, E.BUSY: S.BUSY, E.FAILED: S.FAILED, E.CANCELLED: S.CANCELLED}
_BEFORE_ANSWER = {(s, e): nxt for s in (S.REQUESTED, S.RINGING) for e, nxt in FAILURES.items()}
# (state, event) -> next state; anything else is illegal.
TRANSITIONS: dict[tuple[TwState, TwEvent], TwState] = {
    **_BEFORE_ANSWER,
    (S.REQUESTED, E.RINGING): S.RINGING,
    (S.RINGING, E.RINGING): S.RINGING,
    (S.REQUESTED, E.ANSWERED): S.CONSULTING,
    (S.RINGING, E.ANSWERED): S.CONSULTING,
    (S.REQUESTED, E.CITIZEN_LEFT): S.CANCELLED,
    (S.RINGING, E.CITIZEN_LEFT): S.CANCELLED,
    (S.CONSULTING, E.JOINED): S.JOINED,
    # Without a consult, Dial's G() sends the unit straight into the conference, and Asterisk may report its
    # ConfbridgeJoin before its Newstate Up (seen in CI): joining implies the answer.
    (S.REQUESTED, E.JOINED): S.JOINED,
    (S.RINGING, E.JOINED): S.JOINED,
    (S.CONSULTING, E.CANCELLED): S.CANCELLED,
    (S.CONSULTING, E.UNIT_LEFT): S.ENDED,
    (S.CONSULTING, E.CITIZEN_LEFT): S.ENDED,
    (S.JOINED, E.SEAT_LEFT): S.SEAT_LEFT,
    (S.JOINED, E.UNIT_LEFT): S.ENDED,
    (S.JOINED, E.CITIZEN_LEFT): S.ENDED,
    (S.SEAT_LEFT, E.UNIT_LEFT): S.ENDED,
    (S.SEAT_LEFT, E.CITIZEN_LEFT): S.ENDED,
}
# Events that change nothing in a state (duplicates Asterisk sends as a consequence of an earlier one).
IGNORED: frozenset[tuple[TwState, TwEvent]] = frozenset(
    {(s, E.CITIZEN_LEFT) for s in (S.ENDED, S.NO_ANSWER, S.BUSY, S.FAILED, S.CANCELLED)}
    | {(s, E.UNIT_LEFT) for s in (S.ENDED, S.CANCELLED)}
    | {
        (S.CONSULTING, E.RINGING),
        (S.JOINED, E.RINGING),
        (S.JOINED, E.ANSWERED),  # the late Newstate Up of a unit that already joined
        (S.SEAT_LEFT, E.ANSWERED),
        (S.JOINED, E.JOINED),
        (S.CANCELLED, E.CANCELLED),
        (S.ENDED, E.SEAT_LEFT),
        (S.SEAT_LEFT, E.SEAT_LEFT),
    }
)
COMMANDS: dict[TwCommand, frozenset[TwState]] = {
    TwCommand.JOIN: frozenset({S.CONSULTING}),
    TwCommand.LEAVE: frozenset({S.JOINED}),
    TwCommand.CANCEL: frozenset({S.REQUESTED, S.RINGING, S.CONSULTING}),
}
LIVE = frozenset({S.REQUESTED, S.RINGING, S.CONSULTING, S.JOINED, S.SEAT_LEFT})
# Asterisk's DIALSTATUS after the seat's Dial to the unit -> the event.
DIALSTATUS = {
    "NOANSWER": E.NO_ANSWER,
    "BUSY": E.BUSY,
    "CHANUNAVAIL": E.FAILED,
    "CONGESTION": E.FAILED,
    "INVALIDARGS": E.FAILED,
    "CANCEL": E.CANCELLED,
    "ANSWER": E.UNIT_LEFT,  # Dial returned after an answer: the unit hung up during the consult
}


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt_id: str
    call_id: str
    seat: str
    number: str
    consult: bool
    requested_at: datetime
    unit_id: int | None = None
    unit_name: str | None = None
    ticket_id: int | None = None
    state: TwState = S.REQUESTED
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    joined_at: datetime | None = None
    seat_left_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None  # the state of a failure, or completed / unit_left / citizen_left

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        out["live"] = self.live
        return out


def apply(attempt: Attempt, event: TwEvent, at: datetime) -> Attempt:
    """The attempt after `event`; unchanged for an ignored duplicate. Raises IllegalThreewayEvent."""
    if (attempt.state, event) in IGNORED:
        return attempt
    nxt = TRANSITIONS.get((attempt.state, event))
    if nxt is None:
        raise IllegalThreewayEvent(attempt.attempt_id, attempt.state, event)
    a = replace(attempt, state=nxt)
    if event is E.RINGING and a.ringing_at is None:
        a = replace(a, ringing_at=at)
    elif event is E.ANSWERED:
        a = replace(a, answered_at=at)
    elif event is E.JOINED:
        a = replace(a, joined_at=at, answered_at=a.answered_at or at)
    elif event is E.SEAT_LEFT:
        a = replace(a, seat_left_at=at)
    if nxt not in LIVE:
        outcome = nxt.value
        if nxt is S.ENDED:
            outcome = "completed" if a.joined_at is not None else event.value
        a = replace(a, ended_at=at, outcome=outcome)
    return a


def check_command(attempt: Attempt | None, command: TwCommand) -> Attempt:
    """The attempt a seat's command applies to; ThreewayRefused when there is none or its state forbids it."""
    if attempt is None or not attempt.live:
        raise ThreewayRefused(Kind.CONFLICT, "no-threeway", f"there is no three-way call to {command.value}")
    if attempt.state not in COMMANDS[command]:
        allowed = ", ".join(sorted(s.value for s in COMMANDS[command]))
        state = attempt.state.value
        raise ThreewayRefused(
            Kind.CONFLICT, "threeway-state", f"cannot {command.value} a three-way call that is {state} (only {allowed})"
        )
    return attempt
