"""misses per call, and each seat's misses (未接)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("misses", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "seat_misses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("ring_ms", sa.Integer(), nullable=True),
        sa.Column("rejected", sa.Boolean(), nullable=False),
        sa.Column("misses_in_row", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_seat_misses"),
        sa.UniqueConstraint("seat", "at", name="uq_seat_misses_seat_at"),
    )
    op.create_index("ix_seat_misses_at", "seat_misses", ["at"])


def downgrade() -> None:
    op.drop_table("seat_misses")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("misses")
