"""The ticket lifecycle (工单流程) as one table, pure: no clock, no I/O.

    受理 → 派单 → 签收 → 办理 → 反馈 → 回访 → 办结
     │      │      │                │
     │      └──────┴→ 退回 → 派单 (改派, to another unit): within 1 working day of the dispatch
     │                            反馈 → 重办 (the citizen unsatisfied at the callback) → 办理 / 反馈
     └→ 直办 (咨询/表扬 answered on the call)       late, or unsatisfied again → 督办 → 办理 / 反馈

`apply` returns the ticket after the transition, with its new deadline; a transition that the table
does not allow, or whose condition does not hold, raises IllegalTicketTransition naming both
statuses, why, and what is allowed instead.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from ..errors import Conflict, IllegalTransition
from ..workdays import WorkCalendar
from . import deadlines
from .model import WITH_UNIT, Category, Ticket, TicketStatus, Transition
from .validate import InvalidInput

S = TicketStatus

TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.ACCEPTED: frozenset({S.DISPATCHED, S.DIRECT}),
    S.DISPATCHED: frozenset({S.SIGNED, S.RETURNED, S.SUPERVISED}),
    S.SIGNED: frozenset({S.HANDLING, S.REPLIED, S.RETURNED, S.SUPERVISED}),
    S.HANDLING: frozenset({S.REPLIED, S.SUPERVISED}),
    S.RETURNED: frozenset({S.DISPATCHED}),
    S.REPLIED: frozenset({S.CALLED_BACK, S.REDO, S.SUPERVISED}),
    S.REDO: frozenset({S.HANDLING, S.REPLIED, S.SUPERVISED}),
    S.SUPERVISED: frozenset({S.HANDLING, S.REPLIED}),
    S.CALLED_BACK: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.DIRECT: frozenset(),
    S.OUT_OF_SCOPE: frozenset(),
}
ALIASES = {"改派": S.DISPATCHED}  # a dispatch after a 退回 is what people call 改派
DIRECT_CATEGORIES = (Category.CONSULTATION, Category.PRAISE)
ORDER = list(TicketStatus)


class IllegalTicketTransition(IllegalTransition):
    """The lifecycle does not allow this move now: names both statuses, why, and what is allowed."""

    def __init__(self, ticket: Ticket, to: TicketStatus, why: str, allowed: list[TicketStatus]) -> None:
        self.ticket_id, self.from_status, self.to_status, self.why = ticket.id, ticket.status, to, why
        self.allowed = allowed
        choices = ", ".join(allowed) if allowed else "nothing (the ticket is closed)"
        super().__init__(
            f"ticket {ticket.id}: {ticket.status} → {to} is not allowed: {why}. From {ticket.status} now: {choices}",
            ticket_id=ticket.id, from_status=ticket.status, to_status=to, allowed=list(allowed),
        )  # fmt: skip


def parse_status(value: object, field: str = "to") -> TicketStatus:
    if isinstance(value, str):
        if value in ALIASES:
            return ALIASES[value]
        try:
            return TicketStatus(value)
        except ValueError:
            pass
    raise InvalidInput.one(field, f"{value!r} is not a ticket status; one of {', '.join(ORDER)} (or 改派)")


def allowed(ticket: Ticket, now: datetime, calendar: WorkCalendar) -> list[TicketStatus]:
    """The statuses the ticket may move to now (the table, and each move's condition)."""
    return [to for to in ORDER if to in TRANSITIONS[ticket.status] and _refusal(ticket, to, now, calendar) is None]


def _refusal(ticket: Ticket, to: TicketStatus, now: datetime, calendar: WorkCalendar) -> str | None:
    """Why the table's move is refused by its condition, or None."""
    if to is S.RETURNED and ticket.dispatched_at is not None:
        until = deadlines.return_deadline(calendar, ticket.dispatched_at).at
        if now > until:
            local = until.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M")
            return (
                f"a unit may return a wrong dispatch only within {deadlines.RETURN_WITHIN_DAYS} working day; "
                f"this one could be returned until {local}"
            )
    if to is S.DIRECT and ticket.category not in DIRECT_CATEGORIES:
        return f"only 咨询 and 表扬 answered on the call are closed directly (直办); this is {ticket.category}"
    if to is S.SUPERVISED:
        late = ticket.deadline_at is not None and now > ticket.deadline_at
        if ticket.status is S.REPLIED and ticket.redo_count < 1:
            return "督办 after a reply needs a second unsatisfied callback; the first one is 重办"
        if ticket.status is not S.REPLIED and not late and ticket.redo_count < 1:
            due = ticket.deadline_at.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M") if ticket.deadline_at else "-"
            return (
                f"督办 is for a late ticket or a repeatedly unsatisfied one; this one is due {due} and was never 重办"
            )
    return None


def apply(ticket: Ticket, move: Transition, now: datetime, calendar: WorkCalendar) -> Ticket:
    """The ticket after `move` at `now`; raises IllegalTicketTransition or InvalidInput."""
    to = move.to
    if to not in TRANSITIONS[ticket.status]:
        why = "the ticket is closed" if not ticket.is_open else "the lifecycle has no such step"
        raise IllegalTicketTransition(ticket, to, why, allowed(ticket, now, calendar))
    refusal = _refusal(ticket, to, now, calendar)
    if refusal is not None:
        raise IllegalTicketTransition(ticket, to, refusal, allowed(ticket, now, calendar))
    if to is S.DISPATCHED:
        return _dispatch(ticket, move, now, calendar)
    if to is S.RETURNED:
        due = deadlines.dispatch_deadline(calendar, now, ticket.urgency)  # the hotline re-dispatches (改派)
        return replace(ticket, status=to, deadline_at=due.at, deadline_provisional=due.provisional)
    if to in (S.REDO, S.SUPERVISED):
        unsatisfied = ticket.status is S.REPLIED  # a callback that found the citizen unsatisfied
        due = deadlines.handling_deadline(calendar, now, ticket.category, ticket.urgency, ticket.convenience)
        return replace(
            ticket, status=to, redo_count=ticket.redo_count + unsatisfied,
            deadline_at=due.at, deadline_provisional=due.provisional,
        )  # fmt: skip
    if to is S.DIRECT:
        return replace(ticket, status=to, closed_at=now, deadline_at=None, deadline_provisional=False)
    if to is S.CLOSED:
        return replace(ticket, status=to, closed_at=now)
    return replace(ticket, status=to)  # 签收, 办理, 反馈, 回访: the deadline stands


def _dispatch(ticket: Ticket, move: Transition, now: datetime, calendar: WorkCalendar) -> Ticket:
    if move.unit_id is None:
        raise InvalidInput.one("unit_id", f"{move.to} needs the handling unit (承办单位): give unit_id")
    if ticket.status is S.RETURNED and move.unit_id == ticket.unit_id:
        raise IllegalTicketTransition(
            ticket, move.to, f"unit {move.unit_id} returned this ticket; 改派 sends it to another unit",
            allowed(ticket, now, calendar),
        )  # fmt: skip
    due = deadlines.handling_deadline(calendar, now, ticket.category, ticket.urgency, ticket.convenience)
    return replace(
        ticket, status=S.DISPATCHED, unit_id=move.unit_id, dispatched_at=now,
        deadline_at=due.at, deadline_provisional=due.provisional,
    )  # fmt: skip


def deadline_kind(status: TicketStatus) -> str | None:
    """Which deadline a ticket in `status` runs against: the hotline's dispatch, or the unit's handling."""
    if status in (S.ACCEPTED, S.RETURNED):
        return "dispatch"
    if status in WITH_UNIT:
        return "handling"
    return None


DETAILS = frozenset({"caller_name", "district", "street", "address"})
EVERYTHING = DETAILS | {"caller_number", "content", "category", "urgency", "convenience"}


class TicketNotEditable(Conflict):
    """A field the ticket's status no longer lets anyone change (the unit already works from it)."""

    error = "not-editable"

    def __init__(self, ticket: Ticket, fields: list[str]) -> None:
        self.ticket_id, self.status, self.fields = ticket.id, ticket.status, fields
        self.editable = sorted(editable(ticket.status))
        can = ", ".join(self.editable) if self.editable else "nothing (the ticket is closed)"
        super().__init__(
            f"ticket {ticket.id} is {ticket.status}: {', '.join(fields)} can no longer be changed; editable now: {can}",
            fields=fields,
            editable=self.editable,
        )


def editable(status: TicketStatus) -> frozenset[str]:
    """What may still be edited: everything until a unit has it; then only the caller's details."""
    if status in (S.ACCEPTED, S.RETURNED):
        return EVERYTHING
    if TRANSITIONS.get(status):
        return DETAILS
    return frozenset()


def check_edit(ticket: Ticket, fields: list[str]) -> None:
    refused = sorted(f for f in fields if f not in editable(ticket.status))
    if refused:
        raise TicketNotEditable(ticket, refused)
