"""calls, call legs, seats, seat events

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("caller_name", sa.String(128), nullable=True),
        sa.Column("dialed", sa.String(64), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("seat", sa.String(32), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.Column("ring_started_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("ring_ms", sa.Integer(), nullable=True),
        sa.Column("wait_ms", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("call_id", name="pk_calls"),
    )
    op.create_index("ix_calls_started_at", "calls", ["started_at"])
    op.create_index("ix_calls_caller_number_started_at", "calls", ["caller_number", "started_at"])
    op.create_table(
        "call_legs",
        sa.Column("uniqueid", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.call_id"], name="fk_call_legs_call_id_calls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("uniqueid", name="pk_call_legs"),
    )
    op.create_index("ix_call_legs_call_id", "call_legs", ["call_id"])
    op.create_table(
        "seats",
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("interface", sa.String(64), nullable=True),
        sa.Column("pause_reason", sa.String(32), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("misses_in_row", sa.Integer(), nullable=False),
        sa.Column("logged_in", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("seat", name="pk_seats"),
    )
    op.create_table(
        "seat_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("pause_reason", sa.String(32), nullable=True),
        sa.Column("call_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_seat_events"),
    )
    op.create_index("ix_seat_events_seat_at", "seat_events", ["seat", "at"])


def downgrade() -> None:
    op.drop_table("seat_events")
    op.drop_table("seats")
    op.drop_table("call_legs")
    op.drop_table("calls")
