"""Bring a database to the newest schema: `hotline db upgrade`, and at every service start.

Alembic runs from code with the package's own ``migrations`` folder, over the service's own async
engine, so the same URL that the service uses is the one migrated.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .engine import make_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def newest_file_revision() -> str:
    """The newest revision by the versions folder's file names (NNNN_what.py, one line of history, each file's
    `revision` its number): what every start checks the database against without importing Alembic, whose import
    alone is about 0.2 s of a restart. A test holds it equal to Alembic's own head."""
    return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


async def stored_revision(engine: AsyncEngine) -> str | None:
    """The schema's revision as alembic_version holds it; None for a database without it (new, or unreachable:
    Alembic then says why)."""
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
    except DBAPIError:
        return None


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    if revision == "head" and await stored_revision(engine) == newest_file_revision():
        return  # the newest schema already (every restart): no Alembic
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.upgrade(_config(sync), revision))


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(_config(sync), revision))


async def current(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade(url: str) -> None:
    """Upgrade the database at `url` (the same URL forms that the service accepts)."""
    engine = make_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()
