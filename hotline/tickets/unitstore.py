"""The directory of handling units (承办单位) in the database: search, add, replace, delete, seed.

The units file (hotline.tickets.units) seeds an empty table at service start; afterwards the
database is the directory and the API edits it, so an edit is never overwritten by the file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from ..db.models import TicketRow, UnitRow
from ..errors import Conflict, NotFound
from .model import Category, Unit


class UnitNotFound(NotFound, LookupError):
    error = "unit-not-found"

    def __init__(self, unit_id: int) -> None:
        self.unit_id = unit_id
        super().__init__(f"no unit with id {unit_id}; see GET /api/units", unit_id=unit_id)


class UnitConflict(Conflict):
    """The name is another unit's, or tickets still point at the unit to delete."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message, error=error)


def unit_from_row(row: UnitRow) -> Unit:
    return Unit(
        row.id, row.name, row.area, tuple(row.phones), tuple(Category(c) for c in row.categories),
        tuple(row.topics), row.hours,
    )  # fmt: skip


def _values(unit: Unit, now: datetime) -> dict[str, object]:
    return {
        "name": unit.name, "area": unit.area, "phones": list(unit.phones),
        "categories": [c.value for c in unit.categories], "topics": list(unit.topics), "hours": unit.hours,
        "updated_at": now,
    }  # fmt: skip


class UnitDirectory:
    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime]) -> None:
        self.engine, self.clock = engine, clock
        self._session = async_sessionmaker(engine, expire_on_commit=False)

    async def search(self, q: str | None = None, category: Category | None = None) -> list[Unit]:
        """Units whose name, area or topics contain `q`, taking `category` (a unit with no categories
        takes any); 市直 first, then by area and name."""
        async with self._session() as session:
            rows = (
                await session.scalars(select(UnitRow).order_by(UnitRow.area != "市直", UnitRow.area, UnitRow.name))
            ).all()
        units = [unit_from_row(r) for r in rows]
        if q:
            units = [u for u in units if q in u.name or q in u.area or any(q in t for t in u.topics)]
        if category is not None:
            units = [u for u in units if not u.categories or category in u.categories]
        return units

    async def get(self, unit_id: int) -> Unit:
        async with self._session() as session:
            row = await session.get(UnitRow, unit_id)
        if row is None:
            raise UnitNotFound(unit_id)
        return unit_from_row(row)

    async def count(self) -> int:
        async with self._session() as session:
            return int(await session.scalar(select(func.count()).select_from(UnitRow)) or 0)

    async def add(self, unit: Unit) -> Unit:
        try:
            async with self._session.begin() as session:
                row = UnitRow(**_values(unit, self.clock()))
                session.add(row)
                await session.flush()
                return unit_from_row(row)
        except IntegrityError:
            raise _name_taken(unit.name) from None

    async def replace(self, unit_id: int, unit: Unit) -> Unit:
        try:
            async with self._session.begin() as session:
                row = await session.get(UnitRow, unit_id, with_for_update=True)
                if row is None:
                    raise UnitNotFound(unit_id)
                for key, value in _values(unit, self.clock()).items():
                    setattr(row, key, value)
                await session.flush()
                return unit_from_row(row)
        except IntegrityError:
            raise _name_taken(unit.name) from None

    async def delete(self, unit_id: int) -> None:
        """Remove a unit no ticket points at; one with tickets stays (their history names it)."""
        async with self._session.begin() as session:
            row = await session.get(UnitRow, unit_id, with_for_update=True)
            if row is None:
                raise UnitNotFound(unit_id)
            used = await session.scalar(select(func.count()).select_from(TicketRow).where(TicketRow.unit_id == unit_id))
            if used:
                raise UnitConflict(
                    "unit-in-use",
                    f"unit {unit_id} ({row.name}) has {used} ticket(s) and stays in the directory so their history "
                    "names it; rename it with PUT if it changed",
                )
            await session.delete(row)

    async def seed(self, units: Sequence[Unit]) -> int:
        """Load `units` if the table is empty (first start); returns how many were loaded (0: it was not)."""
        now = self.clock()
        async with self._session.begin() as session:
            if await session.scalar(select(func.count()).select_from(UnitRow)):
                return 0
            session.add_all(UnitRow(**_values(u, now)) for u in units)
        return len(units)


def _name_taken(name: str) -> UnitConflict:
    return UnitConflict("unit-name-taken", f"name: another unit is already called {name!r}; unit names are unique")
