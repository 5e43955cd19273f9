"""Tables: calls and their legs, seats and each seat's state changes, tickets (工单) and handling units.

Times are stored in UTC and always read back timezone-aware (SQLite keeps no zone; `UTCDateTime`
restores it). The schema is owned by the migrations in ``migrations/versions``; these models are
what the code reads and writes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing a naive datetime {value!r}: times are stored in UTC, pass tz-aware values")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CallRow(Base):
    __tablename__ = "calls"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    caller_name: Mapped[str | None] = mapped_column(String(128))
    dialed: Mapped[str | None] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    seat: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ring_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    ring_ms: Mapped[int | None] = mapped_column(Integer)
    wait_ms: Mapped[int | None] = mapped_column(Integer)
    misses: Mapped[int] = mapped_column(Integer, server_default="0")
    # the times that are estimates, comma-separated (CallSnapshot.estimated); NULL: all measured
    estimated: Mapped[str | None] = mapped_column(String(200))

    legs: Mapped[list[LegRow]] = relationship(
        back_populates="call", cascade="all, delete-orphan", order_by="LegRow.started_at", lazy="selectin"
    )

    __table_args__ = (
        Index(None, "started_at"),
        Index(None, "caller_number", "started_at"),
    )


class LegRow(Base):
    __tablename__ = "call_legs"

    uniqueid: Mapped[str] = mapped_column(String(64), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.call_id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)

    call: Mapped[CallRow] = relationship(back_populates="legs")


class SeatRow(Base):
    """A seat's last known state: seeds the bridge at start, before Asterisk corrects it."""

    __tablename__ = "seats"

    seat: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    interface: Mapped[str | None] = mapped_column(String(64))
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    misses_in_row: Mapped[int] = mapped_column(Integer, default=0)
    logged_in: Mapped[bool] = mapped_column(default=False)


class SeatEventRow(Base):
    """One row per change of a seat's state or pause reason: the seat's day, for team leaders."""

    __tablename__ = "seat_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seat: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16))
    pause_reason: Mapped[str | None] = mapped_column(String(32))
    call_id: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index(None, "seat", "at"),)


class MissRow(Base):
    """A seat let a call ring past the limit, or rejected it (未接): counted against the seat."""

    __tablename__ = "seat_misses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seat: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    ring_ms: Mapped[int | None] = mapped_column(Integer)
    rejected: Mapped[bool] = mapped_column(Boolean)
    misses_in_row: Mapped[int] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("seat", "at"), Index(None, "at"))


class UnitRow(Base):
    """A handling unit (承办单位); loaded from the units file into an empty table, then edited over HTTP."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    area: Mapped[str] = mapped_column(String(32))
    phones: Mapped[list[str]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    topics: Mapped[list[str]] = mapped_column(JSON)
    hours: Mapped[str] = mapped_column(String(64), server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketRow(Base):
    """A citizen's matter (工单), or an out-of-scope call (status 非受理, `guided_to` set).

    `closed_at` is NULL while the ticket is open: the caller's history (screen pop, at every ring)
    reads the index (caller_number, created_at) and puts open tickets first.
    """

    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(8))
    urgency: Mapped[str] = mapped_column(String(16))
    convenience: Mapped[bool] = mapped_column(Boolean, server_default=false())
    caller_number: Mapped[str] = mapped_column(String(32))
    caller_name: Mapped[str | None] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    guided_to: Mapped[str | None] = mapped_column(String(16))
    seat: Mapped[str | None] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, server_default=false())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    redo_count: Mapped[int] = mapped_column(Integer, server_default="0")

    __table_args__ = (
        Index(None, "caller_number", "created_at"),
        Index(None, "status", "deadline_at"),
    )


class TicketCallRow(Base):
    """A call a ticket came from: the first, and every repeat call about the same matter."""

    __tablename__ = "ticket_calls"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TicketEventRow(Base):
    """Every step of a ticket (created, each transition, each edit): who, when, from, to, and why."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    by: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(8))
    to_status: Mapped[str] = mapped_column(String(8))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index(None, "ticket_id", "at"),)


class SurveyResultRow(Base):
    """The caller's rating after the seat hung up (满意度回访 at the end of the call), one per call.
    The ticket(s) of the call are found through ticket_calls (a ticket may be filed after the survey)."""

    __tablename__ = "survey_results"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seat: Mapped[str | None] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    scale: Mapped[int] = mapped_column(Integer)  # 5 or 3 levels
    level: Mapped[int | None] = mapped_column(Integer)  # the key pressed, 1 = best; None: no answer
    label: Mapped[str] = mapped_column(String(16))  # 非常满意 … 非常不满意, or 未评价
    satisfied: Mapped[bool | None] = mapped_column(Boolean)  # None: no answer
    reason: Mapped[str] = mapped_column(String(16))  # answered, timeout, invalid, hangup
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "at"), Index(None, "seat", "at"))


class CallbackRequestRow(Base):
    """A caller who chose a call-back over a long wait; the 回访 dialer takes `pending` ones."""

    __tablename__ = "callback_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))  # the confirmed number to call back
    queue: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "status", "created_at"), Index(None, "call_id"))


class ThreewayAttemptRow(Base):
    """A three-way call (三方通话) attempt: the unit and number dialled, each step's time, the outcome."""

    __tablename__ = "threeway_attempts"

    attempt_id: Mapped[str] = mapped_column(String(96), primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(Integer)  # when known at the time; tickets find theirs by call
    seat: Mapped[str] = mapped_column(String(32))
    unit_id: Mapped[int | None] = mapped_column(Integer)
    unit_name: Mapped[str | None] = mapped_column(String(200))
    number: Mapped[str] = mapped_column(String(32))
    consult: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    seat_left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "call_id"), Index(None, "seat", "requested_at"))


class RecordingRow(Base):
    """A call's recording (录音) in the catalogue: where it is, what it measured, and whether it is all there."""

    __tablename__ = "recordings"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seat: Mapped[str | None] = mapped_column(String(32))
    caller_number: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    queue: Mapped[str | None] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD on the hotline's clock
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the seat's answer
    call_s: Mapped[float] = mapped_column(Float)  # talk time the recording should cover
    duration_s: Mapped[float | None] = mapped_column(Float)  # measured with sox
    size: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(200))  # relative to the recordings root
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    keep_until: Mapped[str | None] = mapped_column(String(10))
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flagged_by: Mapped[str | None] = mapped_column(String(64))  # a team leader asked QA to listen
    flag_comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "day", "seat"), Index(None, "status"))


class QaSampleRow(Base):
    """A call QA is to listen to (质检抽样): never the same call twice."""

    __tablename__ = "qa_samples"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10))
    seat: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "day", "seat"),)


class QaScoreRow(Base):
    """QA's score sheet for a sampled call: each standard pass/fail with a comment, and the overall result."""

    __tablename__ = "qa_scores"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seat: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))
    scorer: Mapped[str] = mapped_column(String(64))
    sheet: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[bool] = mapped_column(Boolean)
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "seat", "day"),)


class QaAuditRow(Base):
    """Who listened to or downloaded which recording, when (and what a refused attempt asked for)."""

    __tablename__ = "qa_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    who: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(16))  # listen, download, refused
    call_id: Mapped[str] = mapped_column(String(100))
    detail: Mapped[str | None] = mapped_column(String(200))
    remote: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index(None, "call_id", "at"), Index(None, "who", "at"))


class CallbackTaskRow(Base):
    """A 回访 (callback) to make: after a unit's reply (反馈) to a ticket, or a caller's call-back request.

    `source` is unique: one task per reply (ticket event) or per request, never two for the same one.
    """

    __tablename__ = "callback_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # 回访 (ticket) or 回拨 (call-back request)
    source: Mapped[str] = mapped_column(String(48), unique=True)  # reply:<ticket event id> / request:<id>
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    preferred_seat: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, server_default=false())
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seat: Mapped[str | None] = mapped_column(String(32))  # the seat of the attempt under way
    survey: Mapped[bool] = mapped_column(Boolean, server_default=false())  # automated survey callback (IVR)
    outcome: Mapped[str | None] = mapped_column(String(16))  # 满意, 基本满意, 不满意, 无法联系
    comment: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(None, "status", "deadline_at"),
        Index(None, "ticket_id"),
        Index(None, "number", "done_at"),
    )


class CallbackAttemptRow(Base):
    """One try of a callback: the seat rung first, then the citizen; each step's time and the outcome."""

    __tablename__ = "callback_attempts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # also the seat channel's ChannelId
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id", ondelete="CASCADE"))
    seat: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(32))
    near_deadline: Mapped[bool] = mapped_column(Boolean, server_default=false())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seat_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the citizen answered
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16))
    dial_status: Mapped[str | None] = mapped_column(String(16))  # Asterisk's DIALSTATUS of the citizen's leg

    __table_args__ = (Index(None, "task_id", "started_at"), Index(None, "ended_at"))
