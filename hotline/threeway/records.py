"""Three-way attempts in the database (table threeway_attempts), written behind: the AMI side never waits."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hotline.db.models import ThreewayAttemptRow
from hotline.threeway.machine import LIVE, Attempt, TwState
from hotline.tickets.store import TicketStore

from .. import tasks

log = logging.getLogger(__name__)
COLUMNS = ("call_id", "seat", "unit_id", "unit_name", "number", "consult", "outcome", "requested_at", "ringing_at",
           "answered_at", "joined_at", "seat_left_at", "ended_at")  # fmt: skip


class ThreewayRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self._dirty: dict[str, Attempt] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="threeway-records")

    async def close(self) -> None:
        await tasks.stop([self._task])
        await self.flush()

    def save(self, attempt: Attempt) -> None:
        self._dirty[attempt.attempt_id] = attempt
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                log.exception("three-way attempts: could not save; kept for the next try")
                await asyncio.sleep(1)
                self._wake.set()

    async def flush(self) -> None:
        for key, attempt in list(self._dirty.items()):
            async with self._session.begin() as session:
                row = await session.get(ThreewayAttemptRow, key)
                if row is None:
                    row = ThreewayAttemptRow(attempt_id=key)
                    session.add(row)
                for name in COLUMNS:
                    setattr(row, name, getattr(attempt, name))
                row.state = attempt.state.value
            if self._dirty.get(key) is attempt:
                del self._dirty[key]
            log.debug("call %s: three-way %s saved (%s)", attempt.call_id, key, attempt.state.value)

    async def live(self) -> list[Attempt]:
        """The attempts kept as still going (a restart finds them: hotline/threeway/service.py recover)."""
        query = select(ThreewayAttemptRow).where(ThreewayAttemptRow.state.in_([s.value for s in LIVE]))
        async with self._session() as session:
            rows = (await session.scalars(query.order_by(ThreewayAttemptRow.requested_at))).all()
        return [_attempt(r) for r in rows]

    async def of_calls(self, call_ids: list[str]) -> list[dict[str, Any]]:
        async with self._session() as session:
            rows = await session.scalars(
                select(ThreewayAttemptRow).where(ThreewayAttemptRow.call_id.in_(call_ids))
                .order_by(ThreewayAttemptRow.requested_at)
            )  # fmt: skip
            return [row_json(r) for r in rows]


def _attempt(r: ThreewayAttemptRow) -> Attempt:
    return Attempt(
        r.attempt_id, r.call_id, r.seat, r.number, r.consult, r.requested_at, unit_id=r.unit_id, unit_name=r.unit_name,
        state=TwState(r.state), ringing_at=r.ringing_at, answered_at=r.answered_at, joined_at=r.joined_at,
        seat_left_at=r.seat_left_at,
    )  # fmt: skip


def row_json(row: ThreewayAttemptRow) -> dict[str, Any]:
    out: dict[str, Any] = {"attempt_id": row.attempt_id, "state": row.state}
    for name in COLUMNS:
        value = getattr(row, name)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


async def for_ticket(session: AsyncSession, ticket_id: int, call_ids: list[str]) -> list[dict[str, Any]]:
    """The ticket's part of its case file: the three-way call attempts (三方通话) on its calls."""
    rows = await session.scalars(
        select(ThreewayAttemptRow)
        .where(ThreewayAttemptRow.call_id.in_(call_ids))
        .order_by(ThreewayAttemptRow.requested_at)
    )
    return [row_json(a) for a in rows]


def join_case_file(tickets: TicketStore) -> None:
    """The ticket's view (its case file) shows its three-way attempts."""
    tickets.parts["threeway"] = for_ticket
