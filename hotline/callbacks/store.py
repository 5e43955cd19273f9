"""Callback tasks and attempts in the database (tables callback_tasks, callback_attempts).

Tasks are created in the same transaction as the ticket's move to 反馈 (add_reply_task), so a reply
never goes without its callback; `source` is unique, so one reply never gets two. A task is claimed
for an attempt with a conditional update (status pending → dialing), so two dialers, or two rounds of
one, never dial one task twice at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.errors import NotFound

from ..clock import Clock, iso_utc, utc_now
from ..db.models import CallbackAttemptRow, CallbackRequestRow, CallbackTaskRow, CallRow, TicketRow, UnitRow
from ..tickets.store import TicketStore
from ..tickets.validate import normalise_phone
from ..workdays import WorkCalendar
from . import schedule as sc
from .schedule import AttemptOutcome, Policy, Task, TaskKind, TaskStatus

log = logging.getLogger(__name__)
OPEN_VALUES = [s.value for s in sc.OPEN]
REACHED_OUTCOMES = ("满意", "基本满意", "不满意")  # the citizen was reached and asked
SATISFACTION_DAYS = 30  # the board's satisfaction rates cover the last 30 days


class TaskNotFound(NotFound, LookupError):
    error = "callback-not-found"

    def __init__(self, task_id: int) -> None:
        self.task_id = task_id
        super().__init__(f"no callback task with id {task_id}", task_id=task_id)


def add_reply_task(
    session: AsyncSession, ticket: TicketRow, event_id: int, now: datetime, calendar: WorkCalendar, policy: Policy
) -> CallbackTaskRow:
    """The callback of a ticket that just got its unit's reply (called inside the ticket's transaction)."""
    due = sc.callback_deadline(calendar, now, policy)
    row = CallbackTaskRow(
        kind=TaskKind.TICKET.value, source=f"reply:{event_id}", ticket_id=ticket.id, number=ticket.caller_number,
        preferred_seat=ticket.seat, status=TaskStatus.PENDING.value, attempts=0, deadline_at=due.at,
        deadline_provisional=due.provisional, next_at=now, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(row)
    if due.provisional:
        unknown = calendar.unknown_years([now, due.at])
        log.warning(
            "ticket %s: 回访 deadline %s is PROVISIONAL (Monday–Friday assumed): %s", ticket.id,
            due.at.astimezone(calendar.zone).strftime("%Y-%m-%d %H:%M"),
            " ".join(calendar.describe_unknown(y) for y in unknown),
        )  # fmt: skip
    return row


def task_of(row: CallbackTaskRow) -> Task:
    return Task(
        id=row.id, kind=TaskKind(row.kind), number=row.number, deadline_at=row.deadline_at, next_at=row.next_at,
        status=TaskStatus(row.status), ticket_id=row.ticket_id, preferred_seat=row.preferred_seat,
        attempts=row.attempts, provisional=row.deadline_provisional, seat=row.seat, survey=row.survey,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class LastCallback:
    """A caller's last 回访 with an outcome (满意, 基本满意, 不满意, 无法联系): the screen pop shows it."""

    ticket_id: int | None  # None: a callback the caller asked for in the IVR, about no ticket
    outcome: str
    comment: str | None
    at: datetime

    def to_json(self) -> dict[str, Any]:  # "result": the name the seat page's pop reads
        return {
            "ticket_id": self.ticket_id, "outcome": self.outcome, "result": self.outcome, "comment": self.comment,
            "at": iso_utc(self.at),
        }  # fmt: skip


LAST_CALLBACK: Select[CallbackTaskRow] = (
    select(CallbackTaskRow)
    .where(CallbackTaskRow.number == bindparam("number"), CallbackTaskRow.done_at.is_not(None))
    .order_by(CallbackTaskRow.done_at.desc())
    .limit(1)
)


class CallbackStore:
    def __init__(self, engine: AsyncEngine, calendar: WorkCalendar, policy: Policy, *, clock: Clock = utc_now) -> None:
        self.engine, self.calendar, self.policy, self.clock = engine, calendar, policy, clock
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    # ------------------------------------------------------------------ reads
    async def last_callback(self, phone: str) -> LastCallback | None:
        """The caller's last 回访 (callback) with an outcome, or None."""
        number = normalise_phone(phone)
        if number is None:
            return None
        async with self._session() as session:
            row = (await session.scalars(LAST_CALLBACK, {"number": number})).first()
        if row is None or row.outcome is None or row.done_at is None:
            return None
        return LastCallback(row.ticket_id, row.outcome, row.comment, row.done_at)

    async def get(self, task_id: int) -> dict[str, Any]:
        views = await self._views(CallbackTaskRow.id == task_id)
        if not views:
            raise TaskNotFound(task_id)
        return views[0]

    async def task(self, task_id: int) -> Task:
        async with self._session() as session:
            row = await session.get(CallbackTaskRow, task_id)
            if row is None:
                raise TaskNotFound(task_id)
            return task_of(row)

    async def for_ticket(self, ticket_id: int) -> list[dict[str, Any]]:
        return await self._views(CallbackTaskRow.ticket_id == ticket_id)

    async def due(self, now: datetime, limit: int = 200) -> list[Task]:
        """Pending tasks whose time has come, earliest deadline first (index status, deadline_at)."""
        query = (
            select(CallbackTaskRow)
            .where(CallbackTaskRow.status == TaskStatus.PENDING.value, CallbackTaskRow.next_at <= now)
            .order_by(CallbackTaskRow.deadline_at, CallbackTaskRow.id)
            .limit(limit)
        )
        async with self._session() as session:
            return [task_of(r) for r in await session.scalars(query)]

    async def busy_tickets(self) -> frozenset[int]:
        """Tickets with an attempt under way or a reached citizen whose outcome is not recorded yet."""
        query = select(CallbackTaskRow.ticket_id).where(
            CallbackTaskRow.status.in_([TaskStatus.DIALING.value, TaskStatus.REACHED.value]),
            CallbackTaskRow.ticket_id.is_not(None),
        )
        async with self._session() as session:
            return frozenset(t for t in await session.scalars(query) if t is not None)

    async def in_flight(self) -> list[CallbackAttemptRow]:
        query = select(CallbackAttemptRow).where(CallbackAttemptRow.ended_at.is_(None))
        async with self._session() as session:
            return list(await session.scalars(query))

    async def attempt(self, attempt_id: str) -> CallbackAttemptRow | None:
        async with self._session() as session:
            return await session.get(CallbackAttemptRow, attempt_id)

    async def open_tasks(self) -> list[dict[str, Any]]:
        query = select(CallbackTaskRow).where(CallbackTaskRow.status.in_(OPEN_VALUES))
        async with self._session() as session:
            return [brief(r) for r in await session.scalars(query.order_by(CallbackTaskRow.deadline_at))]

    async def for_seat(self, seat: str) -> list[dict[str, Any]]:
        """A seat's own open callbacks (its tickets' replies, and any it is dialling), earliest deadline first."""
        query = select(CallbackTaskRow).where(
            CallbackTaskRow.status.in_(OPEN_VALUES),
            (CallbackTaskRow.preferred_seat == seat) | (CallbackTaskRow.seat == seat),
        )
        async with self._session() as session:
            return [brief(r) for r in await session.scalars(query.order_by(CallbackTaskRow.deadline_at))]

    # ------------------------------------------------------------------ writes
    async def claim(self, task: Task, seat: str, near: bool) -> str | None:
        """pending → dialing at `seat`, and the attempt row; None when someone else took the task first."""
        now = self.clock()
        async with self._session.begin() as session:
            result = await session.execute(
                update(CallbackTaskRow)
                .where(CallbackTaskRow.id == task.id, CallbackTaskRow.status == TaskStatus.PENDING.value)
                .values(status=TaskStatus.DIALING.value, seat=seat, updated_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            count = await session.scalar(
                select(func.count()).select_from(CallbackAttemptRow).where(CallbackAttemptRow.task_id == task.id)
            )
            attempt_id = f"cb-{task.id}-{(count or 0) + 1}"
            session.add(
                CallbackAttemptRow(
                    id=attempt_id, task_id=task.id, seat=seat, number=task.number, near_deadline=near, started_at=now
                )
            )
        return attempt_id

    async def mark(self, attempt_id: str, step: str, at: datetime | None = None) -> CallbackAttemptRow | None:
        """The seat answered ('seat') or the citizen answered ('citizen', the task is then reached); `at`: when,
        if not now (read back from Asterisk after a restart)."""
        now = at or self.clock()
        async with self._session.begin() as session:
            row = await session.get(CallbackAttemptRow, attempt_id, with_for_update=True)
            if row is None or row.ended_at is not None:
                return None
            if step == "seat" and row.seat_answered_at is None:
                row.seat_answered_at = now
            if step == "citizen" and row.answered_at is None:
                row.answered_at = now
                task = await session.get(CallbackTaskRow, row.task_id, with_for_update=True)
                if task is not None and task.status == TaskStatus.DIALING.value:
                    task.status, task.updated_at = TaskStatus.REACHED.value, now
            return row

    async def end_attempt(
        self, attempt_id: str, outcome: AttemptOutcome, dial_status: str | None, at: datetime | None = None
    ) -> Task | None:
        """The attempt ended (`at`, if not now: read back from Asterisk after a restart): the task is retried
        later, reached, or 无法联系 after the last try."""
        now = at or self.clock()
        async with self._session.begin() as session:
            row = await session.get(CallbackAttemptRow, attempt_id, with_for_update=True)
            if row is None or row.ended_at is not None:
                return None  # already ended (an event seen twice, or a restart's recovery)
            if row.answered_at is not None:
                outcome = AttemptOutcome.ANSWERED
            row.ended_at, row.outcome, row.dial_status = now, outcome.value, dial_status
            task_row = await session.get(CallbackTaskRow, row.task_id, with_for_update=True)
            assert task_row is not None
            current = task_of(task_row)
            if current.status not in (TaskStatus.DIALING, TaskStatus.REACHED):
                return current  # the outcome was recorded already (the seat was quick)
            after = sc.after_attempt(current, outcome, now, self.calendar, self.policy)
            task_row.status, task_row.attempts, task_row.next_at = after.status.value, after.attempts, after.next_at
            task_row.seat = after.seat if after.status is not TaskStatus.REACHED else row.seat
            task_row.updated_at = now
            if after.status is TaskStatus.UNREACHABLE:
                task_row.outcome, task_row.done_at, task_row.done_by = "无法联系", now, "dialer"
            return after

    async def record(self, task_id: int, outcome: str, comment: str | None, by: str) -> Task:
        """The seat's outcome (满意, 基本满意, 不满意): the task is done."""
        async with self._session.begin() as session:
            return await record_in(session, task_id, outcome, comment, by, self.clock())

    async def not_reached(self, task_id: int, by: str, why: str | None) -> Task:
        """The seat heard voicemail, a refusal or the wrong person: a counted try, retried later (or 无法联系)."""
        now = self.clock()
        async with self._session.begin() as session:
            row = await session.get(CallbackTaskRow, task_id, with_for_update=True)
            if row is None:
                raise TaskNotFound(task_id)
            after = sc.not_the_citizen(task_of(row), now, self.calendar, self.policy)
            row.status, row.attempts, row.next_at, row.seat = after.status.value, after.attempts, after.next_at, None
            row.comment, row.updated_at = why, now
            if after.status is TaskStatus.UNREACHABLE:
                row.outcome, row.done_at, row.done_by = "无法联系", now, by
            return after

    async def mark_survey(self, task_id: int, survey: bool) -> Task:
        """The centre marks a ticket's pending callback for the automated survey (IVR), or unmarks it."""
        async with self._session.begin() as session:
            row = await session.get(CallbackTaskRow, task_id, with_for_update=True)
            if row is None:
                raise TaskNotFound(task_id)
            task = task_of(row)
            if task.kind is not TaskKind.TICKET or task.status is not TaskStatus.PENDING:
                raise sc.IllegalTaskTransition(task.id, task.status, "be marked for the survey callback")
            row.survey, row.updated_at = survey, self.clock()
            return task_of(row)

    async def survey_fallback(self, attempt_id: str, outcome: AttemptOutcome, why: str) -> Task | None:
        """The automated survey got no answer: the attempt ends (history keeps `why`), the task goes back
        to a seat callback now, unmarked, its tries not counted. None when the attempt had ended already."""
        now = self.clock()
        async with self._session.begin() as session:
            row = await session.get(CallbackAttemptRow, attempt_id, with_for_update=True)
            if row is None or row.ended_at is not None:
                return None
            row.ended_at, row.outcome, row.dial_status = now, outcome.value, why[:16]
            task_row = await session.get(CallbackTaskRow, row.task_id, with_for_update=True)
            assert task_row is not None
            if task_row.status in (TaskStatus.DIALING.value, TaskStatus.REACHED.value):
                task_row.status, task_row.seat, task_row.next_at = TaskStatus.PENDING.value, None, now
            task_row.survey, task_row.updated_at = False, now
            return task_of(task_row)

    async def import_requests(self) -> int:
        """The IVR's pending call-back requests become tasks (due the same working day, any seat)."""
        now = self.clock()
        async with self._session.begin() as session:
            requests = list(
                await session.scalars(
                    select(CallbackRequestRow).where(CallbackRequestRow.status == "pending").with_for_update()
                )
            )
            for req in requests:
                due = self._same_working_day(req.created_at)
                session.add(
                    CallbackTaskRow(
                        kind=TaskKind.REQUEST.value, source=f"request:{req.id}", number=req.number,
                        status=TaskStatus.PENDING.value, attempts=0, deadline_at=due, next_at=now,
                        deadline_provisional=not self.calendar.knows(due.year), created_at=now, updated_at=now,
                    )
                )  # fmt: skip
                req.status = "scheduled"
            return len(requests)

    async def import_missed(self, since: datetime, min_wait_ms: int) -> int:
        """Calls lost (呼损: hung up while queued or while a seat rang, after at least `min_wait_ms`) since
        `since` become tasks due the same working day, any seat; never for a withheld or invalid number,
        nor for one that got through on a later call."""
        now = self.clock()
        query = select(CallRow).where(
            CallRow.outcome == "abandoned", CallRow.ended_at >= since, CallRow.wait_ms >= min_wait_ms
        )
        made = 0
        async with self._session.begin() as session:
            for call in await session.scalars(query.order_by(CallRow.ended_at)):
                number = normalise_phone(call.caller_number or "")
                source = f"missed:{call.call_id}"
                if number is None or call.ended_at is None:
                    continue
                if await session.scalar(select(CallbackTaskRow.id).where(CallbackTaskRow.source == source)):
                    continue
                if await _got_through(session, call.caller_number or "", call.ended_at):
                    continue
                due = self._same_working_day(call.ended_at)
                session.add(
                    CallbackTaskRow(
                        kind=TaskKind.MISSED.value, source=source, number=number, status=TaskStatus.PENDING.value,
                        attempts=0, deadline_at=due, next_at=now, created_at=call.ended_at, updated_at=now,
                        deadline_provisional=not self.calendar.knows(due.year),
                    )
                )  # fmt: skip
                made += 1
        return made

    async def settle_missed(self) -> int:
        """Pending 呼损 tasks whose number got through on a later call are done (已接通): not called."""
        now = self.clock()
        query = select(CallbackTaskRow).where(
            CallbackTaskRow.kind == TaskKind.MISSED.value, CallbackTaskRow.status == TaskStatus.PENDING.value
        )
        settled = 0
        async with self._session.begin() as session:
            for row in await session.scalars(query.with_for_update()):
                if await _got_through(session, row.number, row.created_at):
                    row.status, row.outcome, row.done_at, row.done_by = TaskStatus.DONE.value, "已接通", now, "dialer"
                    row.updated_at = now
                    settled += 1
        return settled

    def _same_working_day(self, at: datetime) -> datetime:
        local = at.astimezone(self.calendar.zone)
        day = local.date()
        if not self.calendar.is_working_day(day) or local.time() >= self.calendar.day_end:
            day = self.calendar.next_working_day(day)
        return datetime.combine(day, self.calendar.day_end, tzinfo=self.calendar.zone)

    async def satisfaction(self, since: datetime) -> dict[str, Any]:
        """回访 satisfaction since `since`: (满意 + 基本满意) / reached, per unit and per category."""
        query = (
            select(CallbackTaskRow.outcome, TicketRow.category, UnitRow.name)
            .join(TicketRow, TicketRow.id == CallbackTaskRow.ticket_id)
            .outerjoin(UnitRow, UnitRow.id == TicketRow.unit_id)
            .where(CallbackTaskRow.done_at >= since, CallbackTaskRow.outcome.in_(REACHED_OUTCOMES))
        )
        async with self._session() as session:
            rows = (await session.execute(query)).all()
        return {
            "since": iso_utc(since), "all": _rate([r[0] for r in rows]),
            "per_unit": _rates((r[2] or "-", r[0]) for r in rows),
            "per_category": _rates((r[1] or "-", r[0]) for r in rows),
        }  # fmt: skip

    # ------------------------------------------------------------------ views
    async def _views(self, where: ColumnElement[bool]) -> list[dict[str, Any]]:
        """Tasks with their attempts, read in ONE statement: a task and its history always come from the same
        snapshot (two SELECTs could see an attempt ended but its task not yet moved, read committed or SQLite)."""
        query = (
            select(CallbackTaskRow, CallbackAttemptRow)
            .outerjoin(CallbackAttemptRow, CallbackAttemptRow.task_id == CallbackTaskRow.id)
            .where(where)
            .order_by(CallbackTaskRow.id, CallbackAttemptRow.started_at, CallbackAttemptRow.id)
        )
        views: dict[int, dict[str, Any]] = {}
        async with self._session() as session:
            for task, attempt in await session.execute(query):
                view = views.setdefault(task.id, {**brief(task), "history": []})
                if attempt is not None:
                    view["history"].append(_attempt(attempt))
        return list(views.values())

    async def leader_view(self, now: datetime) -> dict[str, Any]:
        """Open callbacks overdue, due today, due tomorrow (working days), near their deadline; per seat."""
        zone = self.calendar.zone
        today = now.astimezone(zone).date()
        tomorrow = self.calendar.next_working_day(today)
        tasks = await self.open_tasks()
        groups: dict[str, list[dict[str, Any]]] = {"overdue": [], "today": [], "tomorrow": [], "later": []}
        per_seat: dict[str, dict[str, int]] = {}
        for item in tasks:
            at = datetime.fromisoformat(item["deadline"]["at"])
            day = at.astimezone(zone).date()
            group = "overdue" if at < now else "today" if day <= today else "tomorrow" if day <= tomorrow else "later"
            item["near_deadline"] = at - now <= self.policy.near_deadline
            groups[group].append(item)
            counts = per_seat.setdefault(item["preferred_seat"] or "-", {g: 0 for g in groups})
            counts[group] += 1
        provisional = [t for t in tasks if t["deadline"]["provisional"]]
        years = sorted({int(t["deadline"]["at"][:4]) for t in provisional})
        warnings = [self.calendar.describe_unknown(y) for y in years]
        satisfaction = await self.satisfaction(now - timedelta(days=SATISFACTION_DAYS))
        return {
            "satisfaction": satisfaction,
            "now": now.isoformat(), "today": today.isoformat(), "next_working_day": tomorrow.isoformat(),
            "counts": {g: len(v) for g, v in groups.items()}, **groups, "per_seat": per_seat,
            "raised": [t for t in tasks if t.get("near_deadline")], "calendar_warnings": warnings,
        }  # fmt: skip


async def _got_through(session: AsyncSession, number: str, after: datetime) -> bool:
    """A later call from `number` was answered (the calls table keeps the number as the carrier gave it)."""
    query = select(CallRow.call_id).where(
        CallRow.caller_number == number, CallRow.answered_at.is_not(None), CallRow.answered_at > after
    )
    return (await session.scalar(query.limit(1))) is not None


def _rate(outcomes: list[str | None]) -> dict[str, Any]:
    reached = len(outcomes)
    satisfied = sum(1 for o in outcomes if o in ("满意", "基本满意"))
    return {"reached": reached, "satisfied": satisfied, "rate": round(satisfied / reached, 4) if reached else None}


def _rates(pairs: Iterable[tuple[str, str | None]]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[str | None]] = {}
    for key, outcome in pairs:
        groups.setdefault(key, []).append(outcome)
    return {key: _rate(outcomes) for key, outcomes in sorted(groups.items())}


def brief(row: CallbackTaskRow) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "ticket_id": row.ticket_id, "number": row.number,
        "preferred_seat": row.preferred_seat, "status": row.status, "attempts": row.attempts,
        "deadline": {"at": iso_utc(row.deadline_at), "provisional": row.deadline_provisional},
        "next_at": iso_utc(row.next_at), "seat": row.seat, "survey": row.survey, "outcome": row.outcome,
        "comment": row.comment, "done_by": row.done_by, "done_at": iso_utc(row.done_at),
        "created_at": iso_utc(row.created_at),
    }  # fmt: skip


def _attempt(a: CallbackAttemptRow) -> dict[str, Any]:
    return {
        "id": a.id, "seat": a.seat, "number": a.number, "near_deadline": a.near_deadline,
        "started_at": iso_utc(a.started_at), "seat_answered_at": iso_utc(a.seat_answered_at),
        "answered_at": iso_utc(a.answered_at), "ended_at": iso_utc(a.ended_at), "outcome": a.outcome,
        "dial_status": a.dial_status,
    }  # fmt: skip


async def for_ticket(session: AsyncSession, ticket_id: int, call_ids: list[str]) -> list[dict[str, Any]]:
    """The ticket's part of its case file: its 回访 tasks, one per unit reply."""
    rows = await session.scalars(
        select(CallbackTaskRow).where(CallbackTaskRow.ticket_id == ticket_id).order_by(CallbackTaskRow.id)
    )
    return [brief(c) for c in rows]


async def record_in(session: AsyncSession, task_id: int, outcome: str, comment: str | None, by: str,
                    now: datetime) -> Task:  # fmt: skip
    """The seat's outcome written in the caller's transaction (with the ticket's move: one unit of work)."""
    row = await session.get(CallbackTaskRow, task_id, with_for_update=True)
    if row is None:
        raise TaskNotFound(task_id)
    after = sc.recorded(task_of(row))
    row.status, row.seat, row.outcome, row.comment = after.status.value, None, outcome, comment
    row.done_by, row.done_at, row.updated_at = by, now, now
    return after


def join_case_file(tickets: TicketStore, policy: Policy) -> None:
    """The ticket's view shows its 回访 tasks, and a unit's reply (反馈) makes one, inside the reply's own
    transaction: the reply and its 回访 are saved together or not at all."""

    def on_reply(session: AsyncSession, row: TicketRow, event_id: int, now: datetime) -> None:
        add_reply_task(session, row, event_id, now, tickets.calendar, policy)

    tickets.parts["callbacks"] = for_ticket
    tickets.on_reply.append(on_reply)
