"""What a ticket (工单) is: its categories, urgencies, statuses, and the frozen values passed around.

The values are the words seats and units use (受理, 派单, 投诉举报 ...): they are what the API takes
and returns, and what the database stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..clock import iso_utc


class Category(StrEnum):
    SUGGESTION = "建议"
    REQUEST = "一般诉求"
    HELP = "求助"
    COMPLAINT = "投诉举报"
    CONSULTATION = "咨询"
    PRAISE = "表扬"


class Urgency(StrEnum):
    NORMAL = "normal"  # 一般
    URGENT = "urgent"  # 紧急
    EMERGENCY = "emergency"  # 特急: dispatched at once, with a phone call to the unit

    @property
    def label(self) -> str:
        return {"normal": "一般", "urgent": "紧急", "emergency": "特急"}[self.value]


class TicketStatus(StrEnum):
    ACCEPTED = "受理"  # taken on the call, not yet sent to a unit
    DISPATCHED = "派单"  # sent to a handling unit (承办单位)
    SIGNED = "签收"  # the unit signed for it
    HANDLING = "办理"  # the unit is working on it
    REPLIED = "反馈"  # the unit replied
    CALLED_BACK = "回访"  # callback done, the citizen satisfied
    CLOSED = "办结"  # closed after the callback
    RETURNED = "退回"  # the unit returned a wrong dispatch; the hotline dispatches again (改派)
    REDO = "重办"  # the citizen was not satisfied at the callback: the unit handles it again
    SUPERVISED = "督办"  # late, or repeatedly unsatisfied: handled under supervision
    DIRECT = "直办"  # answered on the call (simple consultation, praise of the hotline): closed at once
    OUT_OF_SCOPE = "非受理"  # not the hotline's: the caller was guided to another number


CLOSED_STATUSES = frozenset({TicketStatus.CLOSED, TicketStatus.DIRECT, TicketStatus.OUT_OF_SCOPE})
# The unit holds the ticket in these: the handling deadline runs.
WITH_UNIT = frozenset(
    {TicketStatus.DISPATCHED, TicketStatus.SIGNED, TicketStatus.HANDLING, TicketStatus.REDO, TicketStatus.SUPERVISED}
)

# Numbers a caller whose matter is not the hotline's is guided to (or another, custom one).
GUIDED_NUMBERS: dict[str, str] = {
    "110": "公安报警",
    "119": "火警",
    "120": "急救",
    "122": "交通事故",
    "12348": "法律服务",
    "12388": "纪检监察举报",
}


def guided_label(number: str) -> str:
    """What the number an out-of-scope caller was guided to is for (公安报警 ...), or "other"."""
    return GUIDED_NUMBERS.get(number, "other")


@dataclass(frozen=True, slots=True)
class Unit:
    """A handling unit (承办单位): a city department (市直) or a county/district's."""

    id: int | None
    name: str
    area: str  # 市直, or the county/district (区/县) it serves
    phones: tuple[str, ...]
    categories: tuple[Category, ...]  # the kinds of matter it takes; empty: any
    topics: tuple[str, ...] = ()  # what it handles, the words seats search by: 物业, 噪音, 燃气 ...
    hours: str = ""  # service hours as people say them: 周一至周五 8:30-17:30

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "area": self.area, "phones": list(self.phones),
            "categories": [c.value for c in self.categories], "topics": list(self.topics), "hours": self.hours,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A checked request for a ticket, as a seat files it (hotline.tickets.validate makes these)."""

    caller_number: str
    content: str
    category: Category | None  # None only for an out-of-scope record
    urgency: Urgency = Urgency.NORMAL
    caller_name: str | None = None
    district: str | None = None
    street: str | None = None
    address: str | None = None
    convenience: bool = False  # a matter on the convenience-service list (便民服务清单)
    seat: str | None = None
    call_id: str | None = None
    guided_to: str | None = None  # set: an out-of-scope record, with the number the caller was told
    direct: bool = False  # 直办: answered on the call, closed at once
    by: str | None = None


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket's state: what the lifecycle reads and changes (the store keeps the rest)."""

    id: int
    status: TicketStatus
    category: Category | None
    urgency: Urgency
    convenience: bool
    created_at: datetime
    unit_id: int | None = None
    dispatched_at: datetime | None = None
    deadline_at: datetime | None = None
    deadline_provisional: bool = False
    closed_at: datetime | None = None
    redo_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_STATUSES


@dataclass(frozen=True, slots=True)
class Transition:
    """A request to move a ticket on: to a status, with the unit (派单) and a comment."""

    to: TicketStatus
    by: str
    unit_id: int | None = None
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Deadline:
    """The deadline a ticket runs against now: `kind` says whose (dispatch, handling, return ...)."""

    at: datetime
    local: str  # as the seat reads it, in the calendar's zone: 2026-12-08 17:30
    provisional: bool  # past the last year the holiday calendar knows: a guess on weekends only
    kind: str | None

    def to_json(self) -> dict[str, Any]:
        return {"at": iso_utc(self.at), "local": self.local, "provisional": self.provisional, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One line of a ticket's journal: a move (from → to) or an edit (from == to, with `changes`)."""

    at: datetime
    by: str
    from_status: TicketStatus | None
    to_status: TicketStatus
    unit_id: int | None = None
    comment: str | None = None
    changes: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": iso_utc(self.at), "by": self.by, "from": self.from_status, "to": self.to_status,
            "unit_id": self.unit_id, "comment": self.comment, "changes": self.changes,
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A ticket as seats, units and the dialer read it: its fields, unit, calls and journal, what it may do next,
    and the parts other features add (`parts`: name -> JSON-ready items, e.g. threeway, surveys, callbacks).
    Read in one snapshot (TicketStore.get); `to_json()` is what the API returns."""

    ticket: Ticket
    caller_number: str
    content: str
    updated_at: datetime
    caller_name: str | None = None
    district: str | None = None
    street: str | None = None
    address: str | None = None
    guided_to: str | None = None
    seat: str | None = None
    unit: Unit | None = None
    deadline: Deadline | None = None
    overdue: bool = False
    calls: tuple[str, ...] = ()
    events: tuple[TicketEvent, ...] = ()
    parts: Mapping[str, list[dict[str, Any]]] = field(default_factory=dict)
    allowed: tuple[TicketStatus, ...] = ()
    editable: tuple[str, ...] = ()
    phone_unit: Unit | None = None  # 特急 just dispatched: the unit to phone at once

    @property
    def id(self) -> int:
        return self.ticket.id

    @property
    def status(self) -> TicketStatus:
        return self.ticket.status

    def replies(self) -> list[TicketEvent]:
        """The unit's replies (反馈), oldest first."""
        return [e for e in self.events if e.to_status is TicketStatus.REPLIED]

    def to_json(self) -> dict[str, Any]:
        t = self.ticket
        out = {
            "id": t.id, "status": t.status, "category": t.category, "urgency": t.urgency,
            "convenience": t.convenience, "caller_number": self.caller_number, "caller_name": self.caller_name,
            "district": self.district, "street": self.street, "address": self.address, "content": self.content,
            "guided_to": self.guided_to, "guided_label": guided_label(self.guided_to) if self.guided_to else None,
            "seat": self.seat, "unit": self.unit.to_json() if self.unit else None,
            "created_at": iso_utc(t.created_at), "updated_at": iso_utc(self.updated_at),
            "dispatched_at": iso_utc(t.dispatched_at), "closed_at": iso_utc(t.closed_at),
            "deadline": self.deadline.to_json() if self.deadline else None, "overdue": self.overdue,
            "redo_count": t.redo_count, "is_open": t.is_open, "calls": list(self.calls),
            "events": [e.to_json() for e in self.events],
            **self.parts,
            "allowed": list(self.allowed), "editable": list(self.editable),
        }  # fmt: skip
        if self.phone_unit is not None:
            out["phone_unit"] = {"name": self.phone_unit.name, "phones": list(self.phone_unit.phones)}
        return out


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One of a caller's tickets in the screen pop's history (content cut to its first 40 characters)."""

    id: int
    status: TicketStatus
    category: Category | None
    urgency: Urgency
    content: str
    unit_name: str | None
    created_at: datetime
    deadline_at: datetime | None
    deadline_provisional: bool
    is_open: bool
    guided_to: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "status": self.status, "category": self.category, "urgency": self.urgency,
            "content": self.content, "unit_name": self.unit_name, "created_at": iso_utc(self.created_at),
            "deadline": iso_utc(self.deadline_at), "deadline_provisional": self.deadline_provisional,
            "is_open": self.is_open, "guided_to": self.guided_to,
            "unit": self.unit_name, "open": self.is_open,  # the names hotline.pops reads
        }  # fmt: skip
