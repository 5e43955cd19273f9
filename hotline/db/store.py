"""The database: calls with their legs, seats and seat events. SQLite for one box, PostgreSQL else.

    store = await Store.open("postgresql://localhost/hotline")   # migrates to the newest schema
    await store.save_call(snapshot)

Every save is one transaction of upserts keyed by the call id or the seat: the bridge may save the
same call many times as it moves on, and a retry after an error never duplicates anything. The bridge's
write-behind saves all it has gathered in one `save(calls, seats, misses)`: one commit per flush.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ami_bridge.constants import CallOutcome, CallState, LegRole, SeatState
from ami_bridge.snapshots import CallSnapshot, LegSnapshot, MissSnapshot, SeatSnapshot

from .engine import StoreError, async_url, make_engine
from .migrate import upgrade_engine
from .models import CallRow, LegRow, MissRow, SeatEventRow, SeatRow

log = logging.getLogger(__name__)
__all__ = ["Store", "StoreError", "async_url", "make_engine"]  # the engine's helpers, kept importable here

CALLS: Table = CallRow.__table__  # type: ignore[assignment]
LEGS: Table = LegRow.__table__  # type: ignore[assignment]
SEATS: Table = SeatRow.__table__  # type: ignore[assignment]
SEAT_EVENTS: Table = SeatEventRow.__table__  # type: ignore[assignment]
MISSES: Table = MissRow.__table__  # type: ignore[assignment]


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._session = async_sessionmaker(engine, expire_on_commit=False)
        self._sql = _Statements(engine.dialect.name)

    @classmethod
    async def open(cls, url: str, *, schema: str | None = None, migrate: bool = True) -> Store:
        """Connect, and bring the schema to the newest version unless `migrate` is False."""
        engine = make_engine(url, schema=schema)
        safe = engine.url.render_as_string(hide_password=True)
        if engine.dialect.name == "sqlite" and engine.url.database:
            from pathlib import Path

            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            if migrate:
                await upgrade_engine(engine)
            else:
                async with engine.connect():
                    pass
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise StoreError(f"cannot open the database at {safe}: {exc}") from exc
        return cls(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    # ------------------------------------------------------------------ writes (the bridge's write-behind)
    async def save(
        self,
        calls: Sequence[CallSnapshot] = (),
        seats: Sequence[tuple[SeatSnapshot, bool]] = (),
        misses: Sequence[MissSnapshot] = (),
    ) -> None:
        """Save a batch in ONE transaction: calls with their legs (upserts), seats (upserts, each change of
        state or pause reason adds a seat event; the bool is logged_in) and misses (each once). Statements
        are built once and sent as executemany, so a busy floor costs one commit per flush, not one per call."""
        if not (calls or seats or misses):
            return
        async with self._session.begin() as session:
            if calls:
                rows = [_call_values(c) for c in calls]
                await session.execute(self._sql.upsert(CALLS, rows[0], "call_id"), rows)
                legs = [_leg_values(c.call_id, leg) for c in calls for leg in c.legs]
                if legs:
                    await session.execute(self._sql.upsert(LEGS, legs[0], "uniqueid"), legs)
                kept = [(leg["call_id"], leg["uniqueid"]) for leg in legs]
                await session.execute(self._sql.legs_prune, {"calls": [c.call_id for c in calls], "kept": kept})
            if seats:
                await self._save_seats(session, seats)
            if misses:
                await session.execute(self._sql.miss_insert, [_miss_values(m) for m in misses])

    async def _save_seats(self, session: AsyncSession, seats: Sequence[tuple[SeatSnapshot, bool]]) -> None:
        names = [seat.seat for seat, _ in seats]
        before = {
            row.seat: (row.state, row.pause_reason)
            for row in await session.execute(self._sql.seats_before, {"names": names})
        }
        rows = [_seat_values(seat, logged_in) for seat, logged_in in seats]
        await session.execute(self._sql.upsert(SEATS, rows[0], "seat"), rows)
        events = [
            {"seat": seat.seat, "at": seat.since, "state": seat.state.value, "pause_reason": seat.pause_reason,
             "call_id": seat.call_id}
            for seat, _ in seats
            if seat.since is not None and before.get(seat.seat) != (seat.state.value, seat.pause_reason)
        ]  # fmt: skip
        if events:
            await session.execute(insert(SEAT_EVENTS), events)

    async def save_call(self, call: CallSnapshot) -> None:
        """Insert or update the call and its legs, in one transaction."""
        await self.save(calls=[call])

    async def unfinished(self, live: Collection[str], since: datetime) -> list[CallSnapshot]:
        """Calls stored as not ended (started after `since`) that Asterisk no longer has: they ended while no
        bridge was running (the bridge finishes them and saves them through the write-behind)."""
        query = select(CallRow).where(CallRow.started_at >= since, CallRow.state != CallState.ENDED.value)
        async with self._session() as session:
            rows = (await session.scalars(query)).all()
        return [_call_snapshot(row) for row in rows if row.call_id not in live]

    async def latest_start(self) -> datetime | None:
        """When the newest call the record holds began (None: no call yet)."""
        async with self._session() as session:
            return await session.scalar(select(func.max(CallRow.started_at)))

    async def ping(self, timeout: float = 1.0) -> str | None:
        """None when the database answers a trivial query within `timeout` s, else why not (for /health)."""
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]
        return None

    async def calls(self, call_ids: Collection[str]) -> dict[str, CallSnapshot]:
        """The stored record of these calls, by id (what a restarted bridge merges with Asterisk's view)."""
        if not call_ids:
            return {}
        async with self._session() as session:
            rows = await session.scalars(select(CallRow).where(CallRow.call_id.in_(list(call_ids))))
            return {row.call_id: _call_snapshot(row) for row in rows}

    async def get_call(self, call_id: str) -> CallSnapshot | None:
        async with self._session() as session:
            row = await session.get(CallRow, call_id)
            return None if row is None else _call_snapshot(row)

    async def recent_calls(self, limit: int = 50, *, caller_number: str | None = None) -> list[CallSnapshot]:
        """Newest first; optionally only one caller's."""
        query = select(CallRow).order_by(CallRow.started_at.desc()).limit(limit)
        if caller_number is not None:
            query = query.where(CallRow.caller_number == caller_number)
        async with self._session() as session:
            return [_call_snapshot(r) for r in (await session.scalars(query)).all()]

    async def count_calls(self) -> int:
        async with self._session() as session:
            return int(await session.scalar(select(func.count()).select_from(CallRow)) or 0)

    async def calls_between(self, start: datetime, end: datetime) -> list[CallSnapshot]:
        """Calls that started in [start, end), oldest first (statistics and reports)."""
        query = (
            select(CallRow).where(CallRow.started_at >= start, CallRow.started_at < end).order_by(CallRow.started_at)
        )
        async with self._session() as session:
            return [_call_snapshot(r) for r in (await session.scalars(query)).all()]

    # ------------------------------------------------------------------ misses
    async def add_miss(self, miss: MissSnapshot) -> None:
        """Record a miss once (a retry of the same miss is ignored)."""
        await self.save(misses=[miss])

    async def misses_between(self, start: datetime, end: datetime) -> list[MissSnapshot]:
        query = select(MissRow).where(MissRow.at >= start, MissRow.at < end).order_by(MissRow.at)
        async with self._session() as session:
            rows = (await session.scalars(query)).all()
        return [MissSnapshot(r.seat, r.call_id, r.at, r.ring_ms, r.rejected, r.misses_in_row) for r in rows]

    # ------------------------------------------------------------------ seats
    async def save_seat(self, seat: SeatSnapshot, *, logged_in: bool) -> None:
        """Store the seat's state; a change of state or pause reason also adds a seat event."""
        await self.save(seats=[(seat, logged_in)])

    async def seats(self) -> list[SeatSnapshot]:
        async with self._session() as session:
            rows = (await session.scalars(select(SeatRow).order_by(SeatRow.seat))).all()
        return [
            SeatSnapshot(
                seat=r.seat, state=SeatState(r.state), interface=r.interface, pause_reason=r.pause_reason,
                call_id=r.call_id, since=r.since, misses_in_row=r.misses_in_row,
            )
            for r in rows
        ]  # fmt: skip

    async def seat_events(self, seat: str, *, since: datetime | None = None) -> list[SeatEventRow]:
        query = select(SeatEventRow).where(SeatEventRow.seat == seat).order_by(SeatEventRow.at, SeatEventRow.id)
        if since is not None:
            query = query.where(SeatEventRow.at >= since)
        async with self._session() as session:
            return list((await session.scalars(query)).all())


class _Statements:
    """The write-behind's statements, built once per dialect (SQLAlchemy caches their compiled form)."""

    def __init__(self, dialect_name: str) -> None:
        self.dialect: Any = postgresql if dialect_name == "postgresql" else sqlite
        self.miss_insert = self.dialect.insert(MISSES).on_conflict_do_nothing()
        self.legs_prune = delete(LEGS).where(  # the legs of these calls that their snapshots no longer have
            LEGS.c.call_id.in_(bindparam("calls", expanding=True)),
            tuple_(LEGS.c.call_id, LEGS.c.uniqueid).not_in(bindparam("kept", expanding=True)),
        )
        self.seats_before = (  # the stored state of these seats, locked
            select(SEATS.c.seat, SEATS.c.state, SEATS.c.pause_reason)
            .where(SEATS.c.seat.in_(bindparam("names", expanding=True)))
            .with_for_update()
        )
        self._upserts: dict[tuple[str, tuple[str, ...]], Any] = {}

    def upsert(self, table: Table, row: dict[str, Any], key: str) -> Any:
        """INSERT … ON CONFLICT (key) DO UPDATE of the columns `row` has (the values helpers' keys)."""
        columns = tuple(row)
        stmt = self._upserts.get((table.name, columns))
        if stmt is None:
            insert_ = self.dialect.insert(table)
            stmt = insert_.on_conflict_do_update(
                index_elements=[key], set_={c: insert_.excluded[c] for c in columns if c != key}
            )
            self._upserts[(table.name, columns)] = stmt
        return stmt


def _call_values(call: CallSnapshot) -> dict[str, Any]:
    return {
        "call_id": call.call_id,
        "state": call.state.value,
        "caller_number": call.caller_number,
        "caller_name": call.caller_name,
        "dialed": call.dialed,
        "queue": call.queue,
        "seat": call.seat,
        "started_at": call.started_at,
        "queued_at": call.queued_at,
        "ring_started_at": call.ring_started_at,
        "answered_at": call.answered_at,
        "ended_at": call.ended_at,
        "outcome": call.outcome.value if call.outcome else None,
        "ring_ms": call.ring_ms,
        "wait_ms": call.wait_ms,
        "misses": call.misses,
        "estimated": ",".join(call.estimated) or None,
    }


def _seat_values(seat: SeatSnapshot, logged_in: bool) -> dict[str, Any]:
    return {
        "seat": seat.seat, "state": seat.state.value, "interface": seat.interface, "pause_reason": seat.pause_reason,
        "call_id": seat.call_id, "since": seat.since, "misses_in_row": seat.misses_in_row, "logged_in": logged_in,
    }  # fmt: skip


def _miss_values(miss: MissSnapshot) -> dict[str, Any]:
    return {
        "seat": miss.seat, "call_id": miss.call_id, "at": miss.at, "ring_ms": miss.ring_ms,
        "rejected": miss.rejected, "misses_in_row": miss.misses_in_row,
    }  # fmt: skip


def _leg_values(call_id: str, leg: LegSnapshot) -> dict[str, Any]:
    return {
        "uniqueid": leg.uniqueid,
        "call_id": call_id,
        "channel": leg.channel,
        "role": leg.role.value,
        "started_at": leg.started_at,
        "answered_at": leg.answered_at,
        "ended_at": leg.ended_at,
        "hangup_cause": leg.hangup_cause,
    }


def _call_snapshot(row: CallRow) -> CallSnapshot:
    return CallSnapshot(
        call_id=row.call_id,
        state=CallState(row.state),
        caller_number=row.caller_number,
        caller_name=row.caller_name,
        dialed=row.dialed,
        started_at=row.started_at,
        queue=row.queue,
        queued_at=row.queued_at,
        seat=row.seat,
        ring_started_at=row.ring_started_at,
        answered_at=row.answered_at,
        ended_at=row.ended_at,
        outcome=CallOutcome(row.outcome) if row.outcome else None,
        ring_ms=row.ring_ms,
        wait_ms=row.wait_ms,
        misses=row.misses,
        estimated=tuple(row.estimated.split(",")) if row.estimated else (),
        legs=tuple(
            LegSnapshot(
                uniqueid=leg.uniqueid, channel=leg.channel, role=LegRole(leg.role), started_at=leg.started_at,
                answered_at=leg.answered_at, ended_at=leg.ended_at, hangup_cause=leg.hangup_cause,
            )
            for leg in row.legs
        ),
    )  # fmt: skip
