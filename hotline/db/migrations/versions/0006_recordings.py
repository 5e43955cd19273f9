"""recordings catalogue, QA samples, scores and the listening audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("seat", sa.String(32), nullable=True),
        sa.Column("caller_number", sa.String(64), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("queue", sa.String(64), nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("call_s", sa.Float(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("path", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("checked_at", UTCDateTime(), nullable=True),
        sa.Column("keep_until", sa.String(10), nullable=True),
        sa.Column("purged_at", UTCDateTime(), nullable=True),
        sa.Column("flagged_by", sa.String(64), nullable=True),
        sa.Column("flag_comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("call_id", name="pk_recordings"),
    )
    op.create_index("ix_recordings_day_seat", "recordings", ["day", "seat"])
    op.create_index("ix_recordings_status", "recordings", ["status"])
    op.create_table(
        "qa_samples",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_qa_samples"),
    )
    op.create_index("ix_qa_samples_day_seat", "qa_samples", ["day", "seat"])
    op.create_table(
        "qa_scores",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("seat", sa.String(32), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("scorer", sa.String(64), nullable=False),
        sa.Column("sheet", sa.JSON(), nullable=False),
        sa.Column("error", sa.Boolean(), nullable=False),
        sa.Column("scored_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("call_id", name="pk_qa_scores"),
    )
    op.create_index("ix_qa_scores_seat_day", "qa_scores", ["seat", "day"])
    op.create_table(
        "qa_audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(100), nullable=False),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.Column("remote", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_qa_audit"),
    )
    op.create_index("ix_qa_audit_call_id_at", "qa_audit", ["call_id", "at"])
    op.create_index("ix_qa_audit_who_at", "qa_audit", ["who", "at"])


def downgrade() -> None:
    op.drop_table("qa_audit")
    op.drop_table("qa_scores")
    op.drop_table("qa_samples")
    op.drop_table("recordings")
