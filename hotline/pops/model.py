"""The screen pop (弹屏) as pure data: no I/O, no clock (the caller passes `now`).

A pop belongs to one call at one seat. It opens when the call rings at the seat (or is found talking
there), and goes ringing -> answered -> ended. A call that rings seat A, is missed, then rings seat B
ends A's pop (missed) and opens a new one at B. Every change is a whole new Pop with `rev` + 1, so a
page keeps, per call, the highest rev it has seen.

    s = step(current_pop_of_the_call, call_snapshot, now)
    s.update       # the call's pop, changed (publish it), or None
    s.open_seat    # a seat where a new pop must open (fetch the caller's history, then open_pop(...))
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.snapshots import CallSnapshot

Ticket = dict[str, Any]

# Ticket statuses that count as closed when a history item does not say "open" itself.
CLOSED_STATUSES = frozenset(
    {"closed", "done", "resolved", "cancelled", "canceled", "archived", "办结", "已办结", "已关闭", "已撤销", "已归档"}
)
IVR_SEPARATOR = "/"


class PopState(StrEnum):
    RINGING = "ringing"  # the seat's phone rings
    ANSWERED = "answered"  # the seat took the call
    ENDED = "ended"  # over for this seat: see EndReason


class EndReason(StrEnum):
    MISSED = "missed"  # it rang here and moved on (rang out, rejected, or taken elsewhere)
    ABANDONED = "abandoned"  # the citizen hung up while it rang here
    HUNG_UP = "hung_up"  # the call with this seat is over, after talking
    UNKNOWN = "unknown"  # the call ended while the bridge was away from Asterisk


@dataclass(frozen=True, slots=True)
class Pop:
    call_id: str
    seat: str
    state: PopState
    rev: int  # 1 when opened, +1 on every change
    caller_number: str | None
    caller_name: str | None
    dialed: str | None
    queue: str | None
    ivr: tuple[str, ...]  # the IVR choices the caller made, in order
    call_started_at: datetime
    queued_at: datetime | None
    rang_at: datetime | None  # this seat's phone started ringing (AgentCalled)
    waited_ms: int | None  # in the queue: join -> this ring, then join -> answer
    history: tuple[Ticket, ...]  # the caller's previous tickets, open ones first
    history_error: str | None  # why the history is missing (the pop went out without it)
    last_callback: Ticket | None  # the last 回访 (callback) result for this number
    draft: Ticket  # a new ticket bound to this call, not saved yet
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    received: float | None = None  # when the bridge took the AgentCalled (epoch seconds): delay measurements

    @property
    def open_tickets(self) -> int:
        return sum(1 for t in self.history if t.get("open"))

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id, "seat": self.seat, "state": self.state.value, "rev": self.rev,
            "caller_number": self.caller_number, "caller_name": self.caller_name, "dialed": self.dialed,
            "queue": self.queue, "ivr": list(self.ivr), "call_started_at": self.call_started_at.isoformat(),
            "queued_at": _iso(self.queued_at), "rang_at": _iso(self.rang_at), "waited_ms": self.waited_ms,
            "history": list(self.history), "open_tickets": self.open_tickets, "history_error": self.history_error,
            "last_callback": self.last_callback, "draft": self.draft, "answered_at": _iso(self.answered_at),
            "ended_at": _iso(self.ended_at), "end_reason": None if self.end_reason is None else self.end_reason.value,
            "received": self.received,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    update: Pop | None = None  # the call's pop, changed
    open_seat: str | None = None  # open a new pop at this seat


def step(pop: Pop | None, call: CallSnapshot, now: datetime) -> Step:
    """What a new snapshot of a call does to its pops. `pop` is the call's latest pop (at any seat)."""
    update = advance(pop, call, now) if pop is not None else None
    latest = update or pop
    seat = call.seat if call.state in (CallState.RINGING, CallState.TALKING) else None
    if seat and (latest is None or latest.seat != seat or latest.state is PopState.ENDED):
        return Step(update, seat)
    return Step(update, None)


def advance(pop: Pop, call: CallSnapshot, now: datetime) -> Pop | None:
    """The pop after this snapshot of its call, or None when the pop does not change."""
    if pop.state is PopState.ENDED:
        return None
    if call.state is CallState.ENDED:
        if pop.state is PopState.ANSWERED:
            reason = EndReason.HUNG_UP
        else:
            reason = EndReason.UNKNOWN if call.outcome is CallOutcome.UNKNOWN else EndReason.ABANDONED
        return _end(pop, call, reason, call.ended_at or now)
    if call.seat != pop.seat or call.state in (CallState.ARRIVING, CallState.QUEUED):
        reason = EndReason.MISSED if pop.state is PopState.RINGING else EndReason.HUNG_UP
        return _end(pop, call, reason, now)
    if call.state is CallState.AFTER_SEAT:
        return _end(pop, call, EndReason.HUNG_UP, now)
    if call.state is CallState.TALKING and pop.state is PopState.RINGING:
        return replace(
            pop, state=PopState.ANSWERED, rev=pop.rev + 1, answered_at=call.answered_at or now,
            waited_ms=waited_ms(call), ivr=ivr_choices(call) or pop.ivr,
        )  # fmt: skip
    return None


def _end(pop: Pop, call: CallSnapshot, reason: EndReason, at: datetime) -> Pop:
    answered = pop.answered_at or (call.answered_at if call.seat == pop.seat else None)
    if reason is EndReason.HUNG_UP and answered is None:  # the answer was never seen here: it was answered all the same
        answered = at
    waited = waited_ms(call) if answered is not None and call.seat == pop.seat else pop.waited_ms
    return replace(
        pop, state=PopState.ENDED, rev=pop.rev + 1, end_reason=reason, ended_at=at, answered_at=answered,
        waited_ms=waited,
    )  # fmt: skip


def open_pop(
    call: CallSnapshot,
    seat: str,
    history: list[Ticket],
    last_callback: Ticket | None,
    *,
    history_error: str | None = None,
    received: float | None = None,
) -> Pop:
    """A new pop for `call` ringing (or already talking) at `seat`."""
    talking = call.state is CallState.TALKING and call.seat == seat
    return Pop(
        call_id=call.call_id, seat=seat, state=PopState.ANSWERED if talking else PopState.RINGING, rev=1,
        caller_number=call.caller_number, caller_name=call.caller_name, dialed=call.dialed, queue=call.queue,
        ivr=ivr_choices(call), call_started_at=call.started_at, queued_at=call.queued_at,
        rang_at=call.ring_started_at, waited_ms=waited_ms(call), history=order_history(history),
        history_error=history_error, last_callback=None if last_callback is None else plain(last_callback),
        draft=draft_ticket(call, seat), answered_at=call.answered_at if talking else None, received=received,
    )  # fmt: skip


def waited_ms(call: CallSnapshot) -> int | None:
    """How long the caller waited in the queue: until the answer once answered, else until this ring."""
    if call.wait_ms is not None:
        return call.wait_ms
    if call.queued_at is None:
        return None
    end = call.ring_started_at or call.answered_at or call.ended_at
    return None if end is None else max(0, round((end - call.queued_at).total_seconds() * 1000))


def ivr_choices(call: CallSnapshot) -> tuple[str, ...]:
    """HOTLINE_IVR ("2 咨询/1 社保") as the list of choices, in order."""
    if not call.ivr:
        return ()
    return tuple(c.strip() for c in call.ivr.split(IVR_SEPARATOR) if c.strip())


def draft_ticket(call: CallSnapshot, seat: str) -> Ticket:
    """The new ticket this call would open: bound to the call, nothing decided yet."""
    return {
        "call_id": call.call_id, "caller_number": call.caller_number, "seat": seat, "category": None,
        "unit": None, "summary": "", "status": "draft", "ivr": list(ivr_choices(call)),
    }  # fmt: skip


def is_open(ticket: Ticket) -> bool:
    """A ticket's own "open" flag when it has one, else judged by its status."""
    flag = ticket.get("open")
    if isinstance(flag, bool):
        return flag
    return str(ticket.get("status") or "").strip().lower() not in CLOSED_STATUSES


def order_history(tickets: list[Ticket]) -> tuple[Ticket, ...]:
    """Open tickets first, each group in the order given (the store's, newest first); JSON-ready."""
    marked = [{**plain(t), "open": is_open(t)} for t in tickets]
    return tuple(sorted(marked, key=lambda t: not t["open"]))


def plain(value: Any) -> Any:
    """`value` with dates, decimals and UUIDs as strings, so it goes on the bus and the websocket as JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
