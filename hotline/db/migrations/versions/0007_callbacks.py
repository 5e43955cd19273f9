"""回访 callback tasks and their attempts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_tasks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source", sa.String(48), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id", ondelete="CASCADE"), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("preferred_seat", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("deadline_at", UTCDateTime(), nullable=False),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.Column("seat", sa.String(32), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("done_by", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("source", name="uq_callback_tasks_source"),
    )
    op.create_index("ix_callback_tasks_status_deadline_at", "callback_tasks", ["status", "deadline_at"])
    op.create_index("ix_callback_tasks_ticket_id", "callback_tasks", ["ticket_id"])
    op.create_index("ix_callback_tasks_number_done_at", "callback_tasks", ["number", "done_at"])
    op.create_table(
        "callback_attempts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("task_id", sa.Integer(), sa.ForeignKey("callback_tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("near_deadline", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("seat_answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("dial_status", sa.String(16), nullable=True),
    )
    op.create_index("ix_callback_attempts_task_id_started_at", "callback_attempts", ["task_id", "started_at"])
    op.create_index("ix_callback_attempts_ended_at", "callback_attempts", ["ended_at"])


def downgrade() -> None:
    op.drop_table("callback_attempts")
    op.drop_table("callback_tasks")
