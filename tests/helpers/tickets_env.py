"""Tickets over SQLite and the real PostgreSQL at postgresql://localhost/test (each test its own schema),
with a clock the test moves: the `env` fixture of test_tickets_store and test_tickets_http."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline import casefile
from hotline.db.models import TicketCallRow, TicketEventRow, TicketRow, UnitRow
from hotline.db.store import Store
from hotline.tickets.store import TicketStore
from hotline.workdays import WorkCalendar

PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "postgresql://localhost/test")
SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Env:
    store: Store
    tickets: TicketStore
    clock: Clock


@pytest.fixture(name="env")
async def env_fixture(store: Store) -> AsyncIterator[Env]:
    """The ticket store over the migrated `store` fixture (tests/integration/conftest.py): SQLite, then a
    PostgreSQL schema of its own."""
    clock = Clock(at("2026-11-25 10:00"))
    yield Env(store, casefile.wire(TicketStore(store.engine, WorkCalendar.load(), clock=clock)), clock)


async def everything(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ticket tables: what 'nothing was saved' is checked against."""
    out = {}
    async with env.store.engine.connect() as conn:
        for model in (TicketRow, TicketCallRow, TicketEventRow, UnitRow):
            rows = (await conn.execute(select(model.__table__))).all()  # type: ignore[attr-defined]
            out[model.__tablename__] = sorted(tuple(map(repr, r)) for r in rows)
    return out
