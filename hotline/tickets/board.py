"""The team leader's ticket deadlines board (工单时限): which open tickets are past their deadline (超期: the
ones to put under 督办), due today, due the next working day; per handling unit and per kind of deadline
(dispatch: the hotline's own, 1 working day; handling: the unit's). Pure: the store's rows in, a JSON-ready
view out; the working days come from the shared calendar (holidays and 调休 count).

    window = Window.at(now, calendar)          # the instants that split overdue / today / next working day
    rows = ...                                 # the store's counts per (unit, status, group), and the lists
    view = board(counts, overdue, due_today, window, calendar)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from ..clock import iso_utc
from ..workdays import WorkCalendar
from . import lifecycle
from .model import TicketStatus

GROUPS = ("overdue", "today", "next_working_day", "later")
LIST_LIMIT = 50  # tickets listed per group on the board (the counts are complete)
NO_UNIT = "待派单（热线）"  # accepted or returned: the hotline itself must dispatch it
SUMMARY_CHARS = 30
# The statuses a deadline runs in: the hotline's dispatch deadline, then the unit's handling deadline.
DEADLINE_STATUSES = tuple(s for s in TicketStatus if lifecycle.deadline_kind(s) is not None)


@dataclass(frozen=True)
class Window:
    now: datetime
    today: date
    next_working_day: date
    end_of_today: datetime  # local midnight after today
    end_of_next: datetime  # local midnight after the next working day

    @classmethod
    def at(cls, now: datetime, calendar: WorkCalendar) -> Window:
        today = now.astimezone(calendar.zone).date()
        following = calendar.next_working_day(today)
        return cls(
            now=now, today=today, next_working_day=following,
            end_of_today=datetime.combine(today + timedelta(days=1), time(0), tzinfo=calendar.zone),
            end_of_next=datetime.combine(following + timedelta(days=1), time(0), tzinfo=calendar.zone),
        )  # fmt: skip

    def group(self, deadline_at: datetime) -> str:
        if deadline_at < self.now:
            return "overdue"
        if deadline_at < self.end_of_today:
            return "today"
        return "next_working_day" if deadline_at < self.end_of_next else "later"


@dataclass(frozen=True)
class Count:
    """How many open tickets of one unit, in one status, fall in one group."""

    unit: str | None
    status: str
    group: str
    n: int


@dataclass(frozen=True)
class Item:
    """One listed ticket (no caller's number or name: the board shows the matter, not the citizen)."""

    id: int
    status: str
    category: str | None
    urgency: str
    unit: str | None
    content: str
    deadline_at: datetime
    provisional: bool
    redo_count: int


def working_days_late(calendar: WorkCalendar, deadline_at: datetime, today: date) -> int:
    """Working days gone by since the deadline's day (0: it passed today)."""
    day = deadline_at.astimezone(calendar.zone).date()
    late = 0
    while day < today:
        day += timedelta(days=1)
        late += calendar.is_working_day(day)
    return late


def board(
    counts: Iterable[Count], overdue: Iterable[Item], due_today: Iterable[Item], window: Window, calendar: WorkCalendar
) -> dict[str, Any]:
    totals = dict.fromkeys(GROUPS, 0)
    per_unit: dict[str, dict[str, int]] = {}
    per_kind: dict[str, dict[str, int]] = {}
    supervised = 0
    for c in counts:
        totals[c.group] += c.n
        unit = per_unit.setdefault(c.unit or NO_UNIT, {"open": 0, **dict.fromkeys(GROUPS, 0)})
        unit["open"] += c.n
        unit[c.group] += c.n
        kind = lifecycle.deadline_kind(TicketStatus(c.status)) or "none"
        per_kind.setdefault(kind, dict.fromkeys(GROUPS, 0))[c.group] += c.n
        supervised += c.n if c.status == TicketStatus.SUPERVISED.value else 0
    units = sorted(per_unit.items(), key=lambda kv: (-kv[1]["overdue"], -kv[1]["today"], -kv[1]["open"], kv[0]))
    late = [_item(i, calendar, window) for i in overdue]
    return {
        "now": window.now.isoformat(), "date": window.today.isoformat(),
        "next_working_day": window.next_working_day.isoformat(),
        "counts": {**totals, "open": sum(totals.values()), "supervised": supervised},
        "per_unit": [{"unit": name, **n} for name, n in units], "per_kind": per_kind,
        "lists": {"overdue": late, "today": [_item(i, calendar, window) for i in due_today]},
        "list_limit": LIST_LIMIT,
        "calendar_warnings": [calendar.describe_unknown(y) for y in calendar.unknown_years([window.today])],
    }  # fmt: skip


def _item(item: Item, calendar: WorkCalendar, window: Window) -> dict[str, Any]:
    local = item.deadline_at.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M")
    kind = lifecycle.deadline_kind(TicketStatus(item.status))
    return {
        "id": item.id, "status": item.status, "category": item.category, "urgency": item.urgency,
        "unit": item.unit or NO_UNIT, "content": item.content[:SUMMARY_CHARS], "redo_count": item.redo_count,
        "deadline": {"at": iso_utc(item.deadline_at), "local": local, "provisional": item.provisional, "kind": kind},
        "working_days_late": working_days_late(calendar, item.deadline_at, window.today)
        if item.deadline_at < window.now else None,
    }  # fmt: skip
