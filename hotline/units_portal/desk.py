"""A handling unit's desk (承办单位工作台): its tickets, one ticket, its moves; every answer is the unit view.

The moves go through TicketStore.transition (the lifecycle table, its conditions, the history, the 回访 a
reply creates), with the unit's ownership checked under the row's lock: a ticket dispatched elsewhere in
the meantime is not found, never moved.
"""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..clock import iso_utc
from ..db.models import TicketRow
from ..tickets import deadlines, lifecycle
from ..tickets.model import CaseFile, Transition
from ..tickets.store import TicketStore, ticket_of
from ..tickets.validate import Reader
from .view import TEXT_NEEDED, UNIT_MOVES, unit_view

log = logging.getLogger(__name__)
LIST_LIMIT = 200


class UnitDesk:
    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets

    @cached_property
    def _session(self) -> async_sessionmaker[AsyncSession]:
        return async_sessionmaker(self.tickets.engine, expire_on_commit=False)

    async def name(self, unit_id: int) -> str:
        """The unit's name; UnitNotFound when the directory no longer has it."""
        return (await self.tickets.units.get(unit_id)).name

    async def list(self, unit_id: int) -> list[dict[str, Any]]:
        """The tickets with the unit (dispatched to it, being handled, replied, or returned by it): open
        ones first, the earliest deadline first, then the newest."""
        query = (
            select(TicketRow)
            .where(TicketRow.unit_id == unit_id)
            .order_by(
                case((TicketRow.closed_at.is_(None), 0), else_=1),
                case((TicketRow.deadline_at.is_(None), 1), else_=0),
                TicketRow.deadline_at,
                TicketRow.id.desc(),
            )
            .limit(LIST_LIMIT)
        )
        async with self._session() as session:
            rows = (await session.scalars(query)).all()
        return [unit_view(self._summary(row), unit_id) for row in rows]

    async def one(self, unit_id: int, ticket_id: int) -> dict[str, Any]:
        """One of the unit's tickets; TicketNotFound for any other (it may exist: the unit is not told)."""
        case = await self.tickets.get(ticket_id, unit_id=unit_id)
        return unit_view(self._with_return_until(case), unit_id)

    async def move(self, unit_id: int, ticket_id: int, body: dict[str, Any], user: str) -> dict[str, Any]:
        """签收, 办理, 反馈 (with the reply) or 退回 (with the reason), recorded as `unit:<user>`."""
        r = Reader(body, ("to", "comment"))
        to = lifecycle.parse_status(body.get("to")) if body.get("to") is not None else None
        if to is None:
            r.bad("to", f"required: one of {', '.join(UNIT_MOVES)}")
        elif to not in UNIT_MOVES:
            r.bad("to", f"a handling unit may move its tickets only to {', '.join(UNIT_MOVES)}, not to {to}")
        comment = r.text("comment")
        if to in TEXT_NEEDED and comment is None:
            r.bad("comment", f"required for {to}: {TEXT_NEEDED[to]}")
        r.done()
        assert to is not None
        by = f"unit:{user}"
        case = await self.tickets.transition(ticket_id, Transition(to, by, None, comment), unit_id=unit_id)
        log.info("ticket %s: %s by %s (unit %s)", ticket_id, to, by, unit_id)
        return unit_view(self._with_return_until(case), unit_id)

    def _summary(self, row: TicketRow) -> dict[str, Any]:
        """The ticket's fields the unit view reads, for the list (no events, calls or anything else)."""
        is_open = row.closed_at is None
        return {
            "id": row.id, "status": row.status, "category": row.category, "urgency": row.urgency,
            "content": row.content, "district": row.district, "street": row.street, "address": row.address,
            "caller_number": row.caller_number, "caller_name": row.caller_name, "unit_id": row.unit_id,
            "deadline": deadline.to_json() if (deadline := self.tickets.deadline_of(ticket_of(row))) else None,
            "is_open": is_open,
            "overdue": row.deadline_at is not None and is_open and self.tickets.clock() > row.deadline_at,
            "created_at": iso_utc(row.created_at), "dispatched_at": iso_utc(row.dispatched_at),
        }  # fmt: skip

    def _with_return_until(self, case: CaseFile) -> dict[str, Any]:
        """The full view plus until when the unit may still return the dispatch (退回)."""
        full = case.to_json()
        if case.ticket.dispatched_at is not None:
            cal = self.tickets.calendar
            until = deadlines.return_deadline(cal, case.ticket.dispatched_at)
            local = until.at.astimezone(cal.zone).strftime("%Y-%m-%d %H:%M")
            full["return_until"] = {"at": iso_utc(until.at), "local": local, "provisional": until.provisional}
        return full
