"""The ticket lifecycle as a table: every legal move, every illegal one, and each move's condition."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.tickets import deadlines, lifecycle
from hotline.tickets.lifecycle import TRANSITIONS, IllegalTicketTransition, TicketNotEditable
from hotline.tickets.model import Category, Ticket, TicketStatus, Transition, Urgency
from hotline.tickets.validate import InvalidInput
from hotline.workdays import WorkCalendar

S = TicketStatus
SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


NOW = at("2026-11-25 10:00")


def a_ticket(**changes: object) -> Ticket:
    ticket = Ticket(
        id=7, status=S.ACCEPTED, category=Category.COMPLAINT, urgency=Urgency.NORMAL, convenience=False,
        created_at=NOW,
    )  # fmt: skip
    return replace(ticket, **changes)  # type: ignore[arg-type]


def go(ticket: Ticket, to: TicketStatus, now: datetime = NOW, unit_id: int | None = None) -> Ticket:
    return lifecycle.apply(ticket, Transition(to, "8001", unit_id), now, CAL)


def test_the_whole_way_from_accepted_to_closed() -> None:
    t = go(a_ticket(), S.DISPATCHED, unit_id=3)
    assert (t.status, t.unit_id, t.dispatched_at) == (S.DISPATCHED, 3, NOW)
    assert t.deadline_at == at("2026-12-09 18:00")  # 投诉举报: 10 working days
    for step in (S.SIGNED, S.HANDLING, S.REPLIED, S.CALLED_BACK):
        t = go(t, step, NOW)
        assert t.status is step and t.closed_at is None and t.is_open
    t = go(t, S.CLOSED, at("2026-12-01 09:00"))
    assert t.status is S.CLOSED and t.closed_at == at("2026-12-01 09:00") and not t.is_open


def _ready_for(frm: TicketStatus, to: TicketStatus) -> Ticket:
    """A ticket in `frm` that meets the condition of the move to `to` (the table test checks the table)."""
    category = Category.CONSULTATION if to is S.DIRECT else Category.COMPLAINT
    return a_ticket(status=frm, category=category, unit_id=2, dispatched_at=NOW, redo_count=1, deadline_at=NOW)


PAIRS = [(frm, to) for frm in TicketStatus for to in TicketStatus]


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{f}->{t}" for f, t in PAIRS])
def test_every_pair_follows_the_table(frm: TicketStatus, to: TicketStatus) -> None:
    ticket = _ready_for(frm, to)
    if to in TRANSITIONS[frm]:
        assert go(ticket, to, unit_id=3).status is to
    else:
        with pytest.raises(IllegalTicketTransition) as err:
            go(ticket, to, unit_id=3)
        assert f"{frm} → {to} is not allowed" in str(err.value)
        assert (err.value.from_status, err.value.to_status) == (frm, to)


@pytest.mark.parametrize(
    ("frm", "to", "says"),
    [
        (S.CLOSED, S.DISPATCHED, "nothing (the ticket is closed)"),
        (S.ACCEPTED, S.SIGNED, "From 受理 now: 派单"),
        (S.DISPATCHED, S.CLOSED, "From 派单 now: 签收, 退回"),
        (S.OUT_OF_SCOPE, S.ACCEPTED, "the ticket is closed"),
        (S.REPLIED, S.CLOSED, "From 反馈 now: 回访, 重办"),
    ],
)
def test_illegal_moves_name_both_statuses_and_what_is_allowed(frm: TicketStatus, to: TicketStatus, says: str) -> None:
    with pytest.raises(IllegalTicketTransition, match=re.escape(says)) as err:
        go(a_ticket(status=frm, dispatched_at=NOW, unit_id=2), to, unit_id=3)
    assert str(err.value).startswith(f"ticket 7: {frm} → {to} is not allowed")


def test_a_unit_may_return_a_dispatch_within_one_working_day_only() -> None:
    dispatched = go(a_ticket(), S.DISPATCHED, at("2026-09-30 10:00"), unit_id=3)
    # 1–7 October are holidays: returnable until the end of Thursday 8 October
    returned = go(dispatched, S.RETURNED, at("2026-10-08 17:59"))
    assert returned.status is S.RETURNED and returned.unit_id == 3
    assert returned.deadline_at == at("2026-10-09 18:00")  # the hotline re-dispatches within 1 working day
    with pytest.raises(IllegalTicketTransition, match="could be returned until 2026-10-08 18:00"):
        go(dispatched, S.RETURNED, at("2026-10-08 18:01"))
    assert lifecycle.allowed(dispatched, at("2026-10-09 09:00"), CAL) == [S.SIGNED]  # 督办 not yet: not late


def test_a_returned_ticket_goes_to_another_unit_and_gets_a_new_deadline() -> None:
    returned = go(go(a_ticket(), S.DISPATCHED, unit_id=3), S.RETURNED)
    with pytest.raises(IllegalTicketTransition, match="unit 3 returned this ticket"):
        go(returned, S.DISPATCHED, unit_id=3)
    later = at("2026-11-26 09:00")
    moved = lifecycle.apply(returned, Transition(lifecycle.parse_status("改派"), "8002", 4), later, CAL)
    assert (moved.status, moved.unit_id, moved.dispatched_at) == (S.DISPATCHED, 4, later)
    assert moved.deadline_at == deadlines.handling_deadline(CAL, later, Category.COMPLAINT, Urgency.NORMAL, False).at


def test_dispatch_needs_a_unit() -> None:
    with pytest.raises(InvalidInput, match="unit_id: 派单 needs the handling unit"):
        go(a_ticket(), S.DISPATCHED)


@pytest.mark.parametrize("category", list(Category))
def test_only_consultation_and_praise_are_closed_on_the_call(category: Category) -> None:
    ticket = a_ticket(category=category)
    if category in (Category.CONSULTATION, Category.PRAISE):
        done = go(ticket, S.DIRECT)
        assert done.status is S.DIRECT and done.closed_at == NOW and done.deadline_at is None
    else:
        with pytest.raises(IllegalTicketTransition, match=f"only 咨询 and 表扬 .* this is {category}"):
            go(ticket, S.DIRECT)


def test_supervision_is_for_late_or_repeatedly_unsatisfied_tickets() -> None:
    dispatched = go(a_ticket(category=Category.CONSULTATION), S.DISPATCHED, unit_id=3)  # due in 2 working days
    with pytest.raises(IllegalTicketTransition, match="督办 is for a late ticket"):
        go(dispatched, S.SUPERVISED, at("2026-11-27 17:00"))
    late = go(dispatched, S.SUPERVISED, at("2026-11-27 18:01"))
    assert late.status is S.SUPERVISED and late.deadline_at == at("2026-12-01 18:00")  # a new time limit

    replied = go(go(dispatched, S.SIGNED), S.REPLIED)
    with pytest.raises(IllegalTicketTransition, match="first one is 重办"):
        go(replied, S.SUPERVISED)
    redo = go(replied, S.REDO)
    assert redo.redo_count == 1 and redo.deadline_at == at("2026-11-27 18:00")
    again = go(go(redo, S.REPLIED), S.SUPERVISED)
    assert again.status is S.SUPERVISED and again.redo_count == 2


def test_emergencies_are_due_at_once() -> None:
    t = go(a_ticket(urgency=Urgency.EMERGENCY), S.DISPATCHED, unit_id=3)
    assert t.deadline_at == NOW
    assert deadlines.dispatch_deadline(CAL, NOW, Urgency.EMERGENCY).at == NOW


@pytest.mark.parametrize(
    ("category", "urgency", "convenience", "days"),
    [
        (Category.CONSULTATION, Urgency.NORMAL, False, 2),
        (Category.HELP, Urgency.URGENT, False, 3),
        (Category.SUGGESTION, Urgency.NORMAL, False, 5),
        (Category.COMPLAINT, Urgency.NORMAL, False, 10),
        (Category.COMPLAINT, Urgency.NORMAL, True, 3),  # on the convenience-service list
        (Category.HELP, Urgency.NORMAL, True, 3),  # the list only shortens complaints
        (Category.COMPLAINT, Urgency.EMERGENCY, False, 0),
    ],
)
def test_handling_days(category: Category, urgency: Urgency, convenience: bool, days: int) -> None:
    assert deadlines.handling_days(category, urgency, convenience) == days


def test_status_names_and_aliases() -> None:
    assert lifecycle.parse_status("派单") is S.DISPATCHED
    assert lifecycle.parse_status("改派") is S.DISPATCHED
    with pytest.raises(InvalidInput, match="to: 'dispatched' is not a ticket status; one of 受理, 派单"):
        lifecycle.parse_status("dispatched")


def test_what_can_be_edited_follows_the_status() -> None:
    lifecycle.check_edit(a_ticket(), ["category", "content", "urgency"])
    lifecycle.check_edit(a_ticket(status=S.HANDLING), ["address", "caller_name"])
    with pytest.raises(TicketNotEditable, match="ticket 7 is 办理: category, content can no longer be changed"):
        lifecycle.check_edit(a_ticket(status=S.HANDLING), ["content", "category", "address"])
    with pytest.raises(TicketNotEditable, match="nothing \\(the ticket is closed\\)"):
        lifecycle.check_edit(a_ticket(status=S.CLOSED), ["address"])


def test_allowed_moves_take_the_conditions_into_account() -> None:
    assert lifecycle.allowed(a_ticket(), NOW, CAL) == [S.DISPATCHED]  # a complaint is never 直办
    assert lifecycle.allowed(a_ticket(category=Category.PRAISE), NOW, CAL) == [S.DISPATCHED, S.DIRECT]
    assert lifecycle.allowed(a_ticket(status=S.CLOSED), NOW, CAL) == []
