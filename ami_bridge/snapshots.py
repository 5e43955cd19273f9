"""Frozen views of calls and seats: what the state machines hand to the bus and the database."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from .constants import CallKind, CallOutcome, CallState, LegRole, SeatState


@dataclass(frozen=True, slots=True)
class LegSnapshot:
    uniqueid: str
    channel: str
    role: LegRole
    started_at: datetime
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    hangup_cause: int | None = None


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    call_id: str  # the citizen leg's Linkedid when the call was first seen; stable for the call's life
    state: CallState
    caller_number: str | None
    caller_name: str | None
    dialed: str | None
    started_at: datetime
    queue: str | None = None
    queued_at: datetime | None = None
    seat: str | None = None  # the seat that answered, or the one ringing now
    ring_started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: CallOutcome | None = None
    ring_ms: int | None = None  # measured: AgentCalled → AgentConnect, from Asterisk's timestamps
    wait_ms: int | None = None  # queue join → answer or abandon
    misses: int = 0  # seats that let this call ring out (or rejected it) before it was answered or lost
    legs: tuple[LegSnapshot, ...] = field(default=())
    ivr: str | None = None  # the IVR choices made (HOTLINE_IVR on the citizen's leg), "/"-separated
    # fields that are estimates, not measurements: a call rebuilt at a resync where neither the store nor the
    # dialplan's time stamps knew them (e.g. started_at from Asterisk's whole-second Duration); () when measured
    estimated: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)


@dataclass(frozen=True, slots=True)
class SeatSnapshot:
    seat: str  # extension, e.g. "8001"
    state: SeatState
    interface: str | None = None  # PJSIP/8001 while logged in to the queue
    pause_reason: str | None = None
    call_id: str | None = None  # the call ringing or connected at this seat
    since: datetime | None = None  # when the seat entered this state
    misses_in_row: int = 0  # misses since the count was last reset (see settings miss_reset)
    call_kind: CallKind | None = None  # while ringing or talking: which kind of call (来电, 回访, 外呼, 内线)

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)


_FIELDS: dict[type, tuple[str, ...]] = {}


def _jsonable(value: Any) -> Any:
    """What dataclasses.asdict would give, with times as ISO 8601; without asdict's deep copies (a call's
    snapshot is made on every event of a busy floor)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    names = _FIELDS.get(type(value))
    if names is None:
        if not hasattr(value, "__dataclass_fields__"):
            return value
        names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
    return {name: _jsonable(getattr(value, name)) for name in names}


@dataclass(frozen=True, slots=True)
class MissSnapshot:
    """A seat let a call ring past the limit, or rejected it while it rang (未接)."""

    seat: str
    call_id: str
    at: datetime  # when Asterisk gave up on the seat
    ring_ms: int | None  # measured from AgentCalled
    rejected: bool  # the phone refused it before the ring limit
    misses_in_row: int

    def to_json(self) -> dict[str, Any]:
        return _jsonable(self)
