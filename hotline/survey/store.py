"""Survey results and call-back requests in the database (same engine as hotline.db.store.Store).

surveys = SurveyStore(store.engine)
await surveys.save(result)                      # one per call; a second one for a call replaces it
await surveys.for_ticket(ticket_id)            # the ratings of the calls bound to a ticket
await surveys.add_callback(request)            # status 'pending', for the 回访 dialer
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ivr.reports import CallbackRequest, SurveyResult

from ..db.models import CallbackRequestRow, SurveyResultRow, TicketCallRow
from ..tickets.store import TicketStore

__all__ = ["CallbackRequest", "SurveyResult", "SurveyStore"]


class SurveyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def save(self, result: SurveyResult) -> None:
        values = asdict(result)
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        stmt = insert(SurveyResultRow).values(**values)
        stmt = stmt.on_conflict_do_update(  # a survey asked again (after a restart) never erases a given level
            index_elements=["call_id"], set_={k: v for k, v in values.items() if k != "call_id"},
            where=SurveyResultRow.level.is_(None) | stmt.excluded.level.is_not(None),
        )  # fmt: skip
        async with self._session.begin() as session:
            await session.execute(stmt)

    async def get(self, call_id: str) -> SurveyResult | None:
        async with self._session() as session:
            row = await session.get(SurveyResultRow, call_id)
            return None if row is None else survey_of_row(row)

    async def between(self, start: datetime, end: datetime) -> list[SurveyResult]:
        query = select(SurveyResultRow).where(SurveyResultRow.at >= start, SurveyResultRow.at < end)
        async with self._session() as session:
            return [survey_of_row(row) for row in (await session.scalars(query.order_by(SurveyResultRow.at)))]

    async def for_ticket(self, ticket_id: int) -> list[SurveyResult]:
        """The ratings of every call bound to the ticket (ticket_calls), oldest first."""
        query = (
            select(SurveyResultRow)
            .join(TicketCallRow, TicketCallRow.call_id == SurveyResultRow.call_id)
            .where(TicketCallRow.ticket_id == ticket_id)
            .order_by(SurveyResultRow.at)
        )
        async with self._session() as session:
            return [survey_of_row(row) for row in await session.scalars(query)]

    async def add_callback(self, request: CallbackRequest) -> CallbackRequest:
        row = CallbackRequestRow(
            call_id=request.call_id, caller_number=request.caller_number, number=request.number,
            queue=request.queue, status=request.status, created_at=request.created_at,
        )  # fmt: skip
        async with self._session.begin() as session:
            session.add(row)
            await session.flush()
            return CallbackRequest(
                row.call_id, row.caller_number, row.number, row.queue, row.created_at, row.status, row.id
            )

    async def callbacks(self, *, status: str | None = "pending", call_id: str | None = None) -> list[CallbackRequest]:
        query = select(CallbackRequestRow).order_by(CallbackRequestRow.created_at)
        if status is not None:
            query = query.where(CallbackRequestRow.status == status)
        if call_id is not None:
            query = query.where(CallbackRequestRow.call_id == call_id)
        async with self._session() as session:
            return [
                CallbackRequest(r.call_id, r.caller_number, r.number, r.queue, r.created_at, r.status, r.id)
                for r in await session.scalars(query)
            ]


def survey_of_row(row: SurveyResultRow) -> SurveyResult:
    """A stored result (also read by the ticket view: the surveys of a ticket's calls)."""
    return SurveyResult(
        row.call_id, row.seat, row.queue, row.caller_number, row.scale, row.level, row.label, row.satisfied,
        row.reason, row.at,
    )  # fmt: skip


async def for_ticket(session: AsyncSession, ticket_id: int, call_ids: list[str]) -> list[dict[str, Any]]:
    """The ticket's part of its case file: the caller's rating (满意度) of each of its calls, as the IVR stored it."""
    rows = await session.scalars(
        select(SurveyResultRow).where(SurveyResultRow.call_id.in_(call_ids)).order_by(SurveyResultRow.at)
    )
    return [survey_of_row(r).to_json() for r in rows]


def join_case_file(tickets: TicketStore) -> None:
    """The ticket's view (its case file) shows the caller's ratings of its calls."""
    tickets.parts["surveys"] = for_ticket
