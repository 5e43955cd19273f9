"""What a ticket (工单) is: its categories, urgencies, statuses, and the frozen values passed around.

The values are the words seats and units use (受理, 派单, 投诉举报 ...): they are what the API takes
and returns, and what the database stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


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
