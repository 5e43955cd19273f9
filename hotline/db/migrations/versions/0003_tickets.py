"""tickets (工单), the calls they came from, their events, handling units (承办单位)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.db.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("phones", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("hours", sa.String(64), server_default="", nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("name", name="uq_units_name"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("category", sa.String(8), nullable=True),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("convenience", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("caller_number", sa.String(32), nullable=False),
        sa.Column("caller_name", sa.String(32), nullable=True),
        sa.Column("district", sa.String(32), nullable=True),
        sa.Column("street", sa.String(64), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("guided_to", sa.String(16), nullable=True),
        sa.Column("seat", sa.String(32), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("dispatched_at", UTCDateTime(), nullable=True),
        sa.Column("deadline_at", UTCDateTime(), nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("redo_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_tickets_unit_id_units", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name="pk_tickets"),
    )
    # The screen pop reads a caller's history at every ring: this index keeps it fast at millions of tickets.
    op.create_index("ix_tickets_caller_number_created_at", "tickets", ["caller_number", "created_at"])
    op.create_index("ix_tickets_status_deadline_at", "tickets", ["status", "deadline_at"])
    op.create_index("ix_tickets_unit_id", "tickets", ["unit_id"])
    op.create_table(
        "ticket_calls",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_calls_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ticket_id", "call_id", name="pk_ticket_calls"),
    )
    op.create_index("ix_ticket_calls_call_id", "ticket_calls", ["call_id"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("from_status", sa.String(8), nullable=True),
        sa.Column("to_status", sa.String(8), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name="fk_ticket_events_ticket_id_tickets", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_events"),
    )
    op.create_index("ix_ticket_events_ticket_id_at", "ticket_events", ["ticket_id", "at"])


def downgrade() -> None:
    op.drop_table("ticket_events")
    op.drop_table("ticket_calls")
    op.drop_table("tickets")
    op.drop_table("units")
