"""three-way call attempts (三方通话)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "threeway_attempts",
        sa.Column("attempt_id", sa.String(96), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("unit_name", sa.String(200), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("consult", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("ringing_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("joined_at", UTCDateTime(), nullable=True),
        sa.Column("seat_left_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_threeway_attempts_call_id", "threeway_attempts", ["call_id"])
    op.create_index("ix_threeway_attempts_seat_requested_at", "threeway_attempts", ["seat", "requested_at"])


def downgrade() -> None:
    op.drop_table("threeway_attempts")
