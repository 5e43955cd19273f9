"""Tickets (工单) in the database, on the same engine as hotline.db.store.Store.

    tickets = TicketStore(store.engine, calendar)
    case = await tickets.create(validate.new_ticket(body))      # a CaseFile; case.to_json() is the API's view
    await tickets.transition(case.id, Transition(TicketStatus.DISPATCHED, by="8001", unit_id=3))
    await tickets.history("13800138000")          # the screen pop, at every ring

Every write is one transaction: the ticket, the calls it came from and its events are all saved,
or, when anything is refused, nothing is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..clock import Clock, utc_now
from ..db.engine import read_snapshot
from ..db.models import (
    CallRow,
    TicketCallRow,
    TicketEventRow,
    TicketRow,
    UnitRow,
)
from ..errors import Conflict, NotFound
from ..workdays import WorkCalendar
from . import board, deadlines, lifecycle
from .model import (
    CaseFile,
    Category,
    Deadline,
    HistoryItem,
    NewTicket,
    Ticket,
    TicketEvent,
    TicketStatus,
    Transition,
    Urgency,
)
from .unitstore import UnitDirectory, unit_from_row
from .validate import InvalidInput, normalise_phone

AlsoWrite = Callable[[AsyncSession, datetime], Awaitable[None]]  # another feature's write in a ticket's move
SHORT_CONTENT = 40  # characters of a ticket's content in a caller's history
# What another feature adds to a ticket's view (its case file): the ticket's id and its calls' ids in, JSON-ready
# items out, read in the view's own session. hotline/casefile.py registers them (three-way, surveys, 回访).
Part = Callable[[AsyncSession, int, list[str]], Awaitable[list[dict[str, Any]]]]
# What another feature does when a unit replies (反馈), inside the reply's own transaction: the ticket's row, the
# id of the reply's event, now. hotline/casefile.py registers the 回访 task.
OnReply = Callable[[AsyncSession, TicketRow, int, datetime], None]


class TicketNotFound(NotFound, LookupError):
    error = "ticket-not-found"

    def __init__(self, ticket_id: int) -> None:
        self.ticket_id = ticket_id
        super().__init__(f"no ticket with id {ticket_id}", ticket_id=ticket_id)


class TicketClosed(Conflict):
    """A repeat call cannot be added to a closed ticket: file a new one."""

    error = "ticket-closed"


class TicketStore:
    def __init__(self, engine: AsyncEngine, calendar: WorkCalendar, *, clock: Clock = utc_now) -> None:
        self.engine, self.calendar, self.clock = engine, calendar, clock
        self.parts: dict[str, Part] = {}  # name in the view -> its reader, in the order they were added
        self.on_reply: list[OnReply] = []
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self.units = UnitDirectory(engine, clock)

    # ------------------------------------------------------------------ reads
    async def get(self, ticket_id: int, *, unit_id: int | None = None) -> CaseFile:
        """The ticket's full view; with `unit_id`, only if it is that unit's (else TicketNotFound, as if it
        did not exist: a handling unit is never told that another unit's ticket does). Read in one snapshot: the
        ticket, its calls, events and every feature's part agree with each other."""
        async with self._session() as session:
            await read_snapshot(session)
            return await self._view(session, await self._row(session, ticket_id, unit_id=unit_id))

    async def history(self, phone: str, limit: int = 20) -> list[HistoryItem]:
        """A caller's tickets for the screen pop: open ones first, then the newest (content: its first 40
        characters). A number that is no phone number (anonymous, or a short number) has none."""
        number = normalise_phone(phone)
        if number is None:
            return []
        async with self._session() as session:
            rows = (await session.execute(HISTORY, history_params(number, limit))).all()
        return [_history_item(row, unit_name) for row, unit_name in rows]

    async def deadline_board(self, now: datetime) -> dict[str, Any]:
        """The team leader's board of ticket deadlines (hotline/tickets/board.py): counted in the database
        (index status, deadline_at), the overdue and due-today tickets listed, oldest deadline first."""
        window = board.Window.at(now, self.calendar)
        group = case(
            (TicketRow.deadline_at < window.now, "overdue"), (TicketRow.deadline_at < window.end_of_today, "today"),
            (TicketRow.deadline_at < window.end_of_next, "next_working_day"), else_="later",
        )  # fmt: skip
        running = (TicketRow.status.in_([s.value for s in board.DEADLINE_STATUSES]), TicketRow.deadline_at.is_not(None))
        counts = (
            select(UnitRow.name, TicketRow.status, group, func.count())
            .select_from(TicketRow)
            .outerjoin(UnitRow, UnitRow.id == TicketRow.unit_id)
            .where(*running)
            .group_by(UnitRow.name, TicketRow.status, group)
        )
        listed = (
            select(TicketRow, UnitRow.name)
            .outerjoin(UnitRow, UnitRow.id == TicketRow.unit_id)
            .where(*running)
            .order_by(TicketRow.deadline_at, TicketRow.id)
            .limit(board.LIST_LIMIT)
        )
        async with self._session() as session:
            found = [board.Count(unit, status, g, n) for unit, status, g, n in await session.execute(counts)]
            late = await session.execute(listed.where(TicketRow.deadline_at < window.now))
            overdue = [_board_item(row, unit) for row, unit in late]
            due = await session.execute(
                listed.where(TicketRow.deadline_at >= window.now, TicketRow.deadline_at < window.end_of_today)
            )
            today = [_board_item(row, unit) for row, unit in due]
        return board.board(found, overdue, today, window, self.calendar)

    # ------------------------------------------------------------------ writes
    async def create(self, new: NewTicket) -> CaseFile:
        """File a ticket (or an out-of-scope record, or a 直办 closed at once), with its call, in one go."""
        now = self.clock()
        async with self._session.begin() as session:
            call = await session.get(CallRow, new.call_id) if new.call_id else None
            new = _fill_from_call(new, call)
            row = TicketRow(
                status=TicketStatus.ACCEPTED.value, category=new.category.value if new.category else None,
                urgency=new.urgency.value, convenience=new.convenience, caller_number=new.caller_number,
                caller_name=new.caller_name, district=new.district, street=new.street, address=new.address,
                content=new.content, guided_to=new.guided_to, seat=new.seat, created_at=now, updated_at=now,
                redo_count=0, deadline_provisional=False,
            )  # fmt: skip
            by = new.by or new.seat or "api"
            if new.guided_to is not None:
                row.status, row.closed_at = TicketStatus.OUT_OF_SCOPE.value, now
            else:
                due = deadlines.dispatch_deadline(self.calendar, now, new.urgency)
                row.deadline_at, row.deadline_provisional = due.at, due.provisional
            session.add(row)
            await session.flush()
            comment = f"guided to {new.guided_to}" if new.guided_to else None
            session.add(TicketEventRow(ticket_id=row.id, at=now, by=by, to_status=row.status, comment=comment))
            if new.direct:  # 直办: the lifecycle decides whether this matter may be closed on the call
                after = lifecycle.apply(ticket_of(row), Transition(TicketStatus.DIRECT, by), now, self.calendar)
                await self._write(session, row, after, Transition(TicketStatus.DIRECT, by), now)
            if new.call_id:
                session.add(TicketCallRow(ticket_id=row.id, call_id=new.call_id, added_at=now))
            await session.flush()
            return await self._view(session, row)

    async def transition(
        self, ticket_id: int, move: Transition, *, unit_id: int | None = None, also: AlsoWrite | None = None
    ) -> CaseFile:
        """Move the ticket on; refused moves raise IllegalTicketTransition and change nothing. With `unit_id`
        (a unit moving its own ticket) it must be that unit's, checked under the row's lock. `also`: another
        feature's write that belongs to this move (one unit of work): run in the same transaction, after the
        move; if it raises, neither is saved."""
        now = self.clock()
        async with self._session.begin() as session:
            row = await self._row(session, ticket_id, lock=True, unit_id=unit_id)
            unit = None
            if move.unit_id is not None:
                unit = await session.get(UnitRow, move.unit_id)
                if unit is None:
                    raise InvalidInput.one("unit_id", f"no unit with id {move.unit_id}; see GET /api/units")
            after = lifecycle.apply(ticket_of(row), move, now, self.calendar)
            event = await self._write(session, row, after, move, now)
            if after.status is TicketStatus.REPLIED:  # the unit replied: e.g. the citizen is called back (回访)
                for hook in self.on_reply:
                    hook(session, row, event.id, now)
                await session.flush()
            if also is not None:
                await also(session, now)
                await session.flush()
            view = await self._view(session, row)
        if after.status is TicketStatus.DISPATCHED and after.urgency is Urgency.EMERGENCY and unit is not None:
            return replace(view, phone_unit=unit_from_row(unit))  # 特急: call the unit now
        return view

    async def update(self, ticket_id: int, changes: dict[str, Any], by: str) -> CaseFile:
        """Edit the fields the status still allows (lifecycle.editable); a category or urgency change
        of a ticket not yet dispatched recomputes its dispatch deadline."""
        now = self.clock()
        async with self._session.begin() as session:
            row = await self._row(session, ticket_id, lock=True)
            lifecycle.check_edit(ticket_of(row), sorted(changes))
            diff: dict[str, Any] = {}
            for field, value in changes.items():
                stored = value.value if isinstance(value, Category | Urgency) else value
                if getattr(row, field) != stored:
                    diff[field] = [getattr(row, field), stored]
                    setattr(row, field, stored)
            if diff and row.status == TicketStatus.ACCEPTED.value and "urgency" in diff:
                due = deadlines.dispatch_deadline(self.calendar, row.created_at, Urgency(row.urgency))
                row.deadline_at, row.deadline_provisional = due.at, due.provisional
            if diff:
                row.updated_at = now
                session.add(
                    TicketEventRow(
                        ticket_id=row.id, at=now, by=by, from_status=row.status, to_status=row.status, changes=diff
                    )
                )
            await session.flush()
            return await self._view(session, row)

    async def add_call(self, ticket_id: int, call_id: str, by: str) -> CaseFile:
        """A repeat call about an open ticket; adding the same call again changes nothing."""
        now = self.clock()
        async with self._session.begin() as session:
            row = await self._row(session, ticket_id, lock=True)
            if row.closed_at is not None:
                raise TicketClosed(
                    f"ticket {ticket_id} is {row.status} (closed): a repeat call about it starts a new ticket"
                )
            dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            added = await session.execute(
                dialect.insert(TicketCallRow)
                .values(ticket_id=ticket_id, call_id=call_id, added_at=now)
                .on_conflict_do_nothing()
            )
            if added.rowcount:  # type: ignore[attr-defined]
                row.updated_at = now
                session.add(
                    TicketEventRow(
                        ticket_id=row.id, at=now, by=by, from_status=row.status, to_status=row.status,
                        comment=f"repeat call {call_id}", changes={"call_id": call_id},
                    )
                )  # fmt: skip
            await session.flush()
            return await self._view(session, row)

    # ------------------------------------------------------------------ helpers
    async def _row(
        self, session: AsyncSession, ticket_id: int, *, lock: bool = False, unit_id: int | None = None
    ) -> TicketRow:
        row = await session.get(TicketRow, ticket_id, with_for_update=lock or None)
        if row is None or (unit_id is not None and row.unit_id != unit_id):
            raise TicketNotFound(ticket_id)
        return row

    async def _write(
        self, session: AsyncSession, row: TicketRow, after: Ticket, move: Transition, now: datetime
    ) -> TicketEventRow:
        before = row.status
        row.status, row.unit_id, row.dispatched_at = after.status.value, after.unit_id, after.dispatched_at
        row.deadline_at, row.deadline_provisional = after.deadline_at, after.deadline_provisional
        row.closed_at, row.redo_count, row.updated_at = after.closed_at, after.redo_count, now
        event = TicketEventRow(
            ticket_id=row.id, at=now, by=move.by, from_status=before, to_status=after.status.value,
            unit_id=move.unit_id, comment=move.comment,
        )  # fmt: skip
        session.add(event)
        await session.flush()
        return event

    async def _view(self, session: AsyncSession, row: TicketRow) -> CaseFile:
        unit = await session.get(UnitRow, row.unit_id) if row.unit_id is not None else None
        calls = await session.scalars(
            select(TicketCallRow.call_id).where(TicketCallRow.ticket_id == row.id).order_by(TicketCallRow.added_at)
        )
        events = await session.scalars(
            select(TicketEventRow).where(TicketEventRow.ticket_id == row.id).order_by(TicketEventRow.id)
        )
        ticket, now = ticket_of(row), self.clock()
        call_ids = list(calls)
        parts = {name: await read(session, row.id, call_ids) for name, read in self.parts.items()}
        return CaseFile(
            ticket, row.caller_number, row.content, row.updated_at, caller_name=row.caller_name,
            district=row.district, street=row.street, address=row.address, guided_to=row.guided_to, seat=row.seat,
            unit=unit_from_row(unit) if unit else None, deadline=self.deadline_of(ticket),
            overdue=ticket.deadline_at is not None and ticket.is_open and now > ticket.deadline_at,
            calls=tuple(call_ids), events=tuple(_event(e) for e in events), parts=parts,
            allowed=tuple(lifecycle.allowed(ticket, now, self.calendar)),
            editable=tuple(sorted(lifecycle.editable(ticket.status))),
        )  # fmt: skip

    def deadline_of(self, ticket: Ticket) -> Deadline | None:
        if ticket.deadline_at is None:
            return None
        local = ticket.deadline_at.astimezone(self.calendar.zone).strftime("%Y-%m-%d %H:%M")
        kind = lifecycle.deadline_kind(ticket.status)
        return Deadline(ticket.deadline_at, local, ticket.deadline_provisional, kind)


def _board_item(row: TicketRow, unit: str | None) -> board.Item:
    assert row.deadline_at is not None
    return board.Item(
        row.id, row.status, row.category, row.urgency, unit, row.content, row.deadline_at, row.deadline_provisional,
        row.redo_count,
    )  # fmt: skip


# One caller's tickets, open first, then newest: served by the index (caller_number, created_at). Built once:
# a screen pop reads it on every call, and building a statement costs more than SQLAlchemy's cached compile.
HISTORY: Select[TicketRow, str] = (
    select(TicketRow, UnitRow.name)
    .outerjoin(UnitRow, UnitRow.id == TicketRow.unit_id)
    .where(TicketRow.caller_number == bindparam("number", type_=String))
    .order_by(case((TicketRow.closed_at.is_(None), 0), else_=1), TicketRow.created_at.desc(), TicketRow.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


def history_params(number: str, limit: int) -> dict[str, Any]:
    return {"number": number, "limit": max(1, min(limit, 100))}


def history_query(number: str, limit: int) -> Select[TicketRow, str]:
    """HISTORY with its values bound (to print or EXPLAIN it)."""
    return HISTORY.params(history_params(number, limit))


def _fill_from_call(new: NewTicket, call: CallRow | None) -> NewTicket:
    """A ticket bound to a call takes the caller's number and the seat from the call when not given."""
    if new.call_id and call is None and not new.caller_number:
        raise InvalidInput.one("caller_number", f"required: call {new.call_id!r} is not in the database yet")
    if call is None:
        return new
    if not new.caller_number:
        number = normalise_phone(call.caller_number or "")
        if number is None:
            raise InvalidInput.one(
                "caller_number",
                f"call {new.call_id} came from {call.caller_number!r}, which is not a phone number; "
                "ask the caller and give caller_number",
            )
        new = replace(new, caller_number=number)
    if new.seat is None and call.seat:
        new = replace(new, seat=call.seat)
    return new


def ticket_of(row: TicketRow) -> Ticket:
    return Ticket(
        id=row.id, status=TicketStatus(row.status), category=Category(row.category) if row.category else None,
        urgency=Urgency(row.urgency), convenience=row.convenience, created_at=row.created_at, unit_id=row.unit_id,
        dispatched_at=row.dispatched_at, deadline_at=row.deadline_at, deadline_provisional=row.deadline_provisional,
        closed_at=row.closed_at, redo_count=row.redo_count,
    )  # fmt: skip


def _history_item(row: TicketRow, unit_name: str | None) -> HistoryItem:
    content = row.content if len(row.content) <= SHORT_CONTENT else row.content[:SHORT_CONTENT] + "…"
    return HistoryItem(
        row.id, TicketStatus(row.status), Category(row.category) if row.category else None, Urgency(row.urgency),
        content, unit_name, row.created_at, row.deadline_at, row.deadline_provisional, row.closed_at is None,
        row.guided_to,
    )  # fmt: skip


def _event(e: TicketEventRow) -> TicketEvent:
    return TicketEvent(
        e.at, e.by, TicketStatus(e.from_status) if e.from_status else None, TicketStatus(e.to_status), e.unit_id,
        e.comment, e.changes,
    )  # fmt: skip
