"""Alembic environment, driven from code: `hotline.db.migrate.upgrade` hands over a connection."""

from __future__ import annotations

from alembic import context

from hotline.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hotline db upgrade` (hotline.db.migrate), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
