"""satisfaction survey results and call-back requests (IVR)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_results",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("seat", sa.String(32), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("scale", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("satisfied", sa.Boolean(), nullable=True),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_survey_results"),
    )
    op.create_index("ix_survey_results_at", "survey_results", ["at"])
    op.create_index("ix_survey_results_seat_at", "survey_results", ["seat", "at"])
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_callback_requests"),
    )
    op.create_index("ix_callback_requests_status_created_at", "callback_requests", ["status", "created_at"])
    op.create_index("ix_callback_requests_call_id", "callback_requests", ["call_id"])


def downgrade() -> None:
    op.drop_table("callback_requests")
    op.drop_table("survey_results")
