"""The database engine: URL forms, drivers, SQLite's pragmas. Below both the store and the migrations."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from ..errors import Unavailable

_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}


class StoreError(Unavailable, RuntimeError):
    """The database cannot be opened or written; the message names the URL (without password)."""

    error = "database-unavailable"
    part = "database"


def async_url(url: str) -> str:
    """Accept the usual URL forms and pick the async driver: postgresql:// → +asyncpg, sqlite:/// → +aiosqlite."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(
            f"DATABASE_URL {url!r} is not a database URL: use postgresql://host/db or sqlite:///path/file.db"
        ) from exc
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None and parsed.drivername not in _DRIVERS.values():
        raise StoreError(
            f"DATABASE_URL uses {parsed.drivername!r}: the hotline runs on PostgreSQL (postgresql://...) "
            "or SQLite (sqlite:///path/file.db)"
        )
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


def make_engine(url: str, *, schema: str | None = None) -> AsyncEngine:
    """An async engine; `schema` puts every table of the hotline in that PostgreSQL schema."""
    full = async_url(url)
    args: dict[str, Any] = {}
    if schema is not None:
        if not full.startswith("postgresql"):
            raise StoreError("a schema can only be chosen on PostgreSQL")
        args["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(full, pool_pre_ping=True, **args)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the web) never wait for the bridge's writes
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


async def read_snapshot(session: AsyncSession) -> None:
    """Make every later read of this (fresh, read-only) session see one snapshot of the database, so a view read
    in several statements never mixes two commits: REPEATABLE READ on PostgreSQL (each statement would otherwise
    see the newest commit); on SQLite an explicit BEGIN (pysqlite begins a transaction only before a write, so
    each SELECT would otherwise be its own). Call it before the session's first statement; closing the session
    ends the transaction."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    else:
        await session.execute(text("BEGIN"))
