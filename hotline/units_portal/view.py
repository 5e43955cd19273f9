"""The unit view (承办单位视图): what a handling unit sees of a ticket, pure: a whitelist, no I/O.

Citizens' personal data is private: a unit sees what it needs to handle the case, nothing more. It sees
the ticket's id, category, urgency, content, location (district, street, address), deadlines, status, the
moves it may make, and the ticket's events while the ticket was (and is) its own: when and to what status,
its own words on its own moves, never the hotline's internal comments. The caller's number is masked
(138****5678) and the name reduced to the surname and 先生/女士 (omitted when no surname is known); for a
complaint or report (投诉举报) neither name nor number at all (whistle-blower protection). Never the calls,
recordings, survey results, three-way attempts, callbacks, seats, other units, or the citizen's other
tickets. A unit that must speak to the citizen asks the hotline, whose seat brings it into a call with the
citizen as a three-way call (三方通话): the unit is called from the hotline's number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..tickets.model import Category, TicketStatus

S = TicketStatus
UNIT_MOVES = (S.SIGNED, S.HANDLING, S.REPLIED, S.RETURNED)  # all a unit may do: 签收, 办理, 反馈, 退回
TEXT_NEEDED = {  # the moves that carry the unit's words, and what they must say
    S.REPLIED: "the reply (办理结果): what the unit did about the matter, for the callback (回访)",
    S.RETURNED: "the reason (退回理由): why the matter is not this unit's",
}
FIELDS = (
    "id", "status", "category", "urgency", "content", "district", "street", "address", "deadline", "overdue",
    "created_at", "dispatched_at", "is_open",
)  # fmt: skip
RETURNABLE = frozenset({S.DISPATCHED, S.SIGNED})  # a 退回 is still possible (within 1 working day)
HOTLINE = "市长热线"  # who made a move the unit did not make
CONTACT = (
    "如需与来电人沟通，请联系市长热线：由热线坐席在与来电人通话时发起三方通话，"
    "单位的来电显示为热线号码；承办单位不获得来电人的完整号码。"
)
WITHHELD = "投诉举报件：为保护举报人，来电人姓名和号码不提供给承办单位。"
COMPOUND_SURNAMES = frozenset({
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐",
    "夏侯", "长孙", "宇文", "司徒", "轩辕", "端木", "独孤", "南宫", "西门", "澹台",
})  # fmt: skip
_CJK = re.compile(r"^[\u4e00-\u9fff]+$")
_TITLES = {"先生": "先生", "女士": "女士", "小姐": "女士"}


def mask_number(number: str) -> str:
    """The first 3 and last 4 digits, the rest hidden: 13812345678 → 138****5678; a short one: ****."""
    digits = re.sub(r"\D", "", number)
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 8 else "****"


def salutation(name: str | None) -> str | None:
    """The surname with 先生/女士 (张三 → 张先生/女士, 王女士 → 王女士, 欧阳明 → 欧阳先生/女士); None when no
    Chinese surname can be told (no name, only a title, or a name in other letters)."""
    name = re.sub(r"\s+", "", name or "")
    suffix = next((t for t in _TITLES if name.endswith(t)), None)
    bare, title = (name[: -len(suffix)], _TITLES[suffix]) if suffix else (name, None)
    if not bare or not _CJK.match(bare):
        return None
    surname = bare[:2] if bare[:2] in COMPOUND_SURNAMES and (len(bare) > 2 or title) else bare[0]
    return surname + (title or "先生/女士")


def caller(ticket: Mapping[str, Any]) -> dict[str, str] | None:
    """Who called, as far as the unit may know: None for 投诉举报."""
    if ticket.get("category") == Category.COMPLAINT.value:
        return None
    out = {"number": mask_number(str(ticket.get("caller_number") or ""))}
    name = salutation(ticket.get("caller_name"))
    if name is not None:
        out["name"] = name
    return out


def unit_of(ticket: Mapping[str, Any]) -> int | None:
    """The unit the ticket is with: `unit_id` (a summary) or `unit.id` (the full view)."""
    if ticket.get("unit_id") is not None:
        return int(ticket["unit_id"])
    unit = ticket.get("unit")
    return int(unit["id"]) if isinstance(unit, Mapping) and unit.get("id") is not None else None


def unit_events(events: Iterable[Mapping[str, Any]], unit_id: int) -> list[dict[str, Any]]:
    """The status moves made while the ticket was this unit's: from a dispatch to it until a dispatch to
    another. Who made a move: the unit's own user, else 市长热线; a comment only on the unit's own moves.
    Edits and repeat calls (no status change) are left out: they carry the caller's details and calls."""
    out: list[dict[str, Any]] = []
    ours = False
    for e in events:
        if e.get("from") == e.get("to"):
            continue
        if e.get("to") == S.DISPATCHED.value:
            ours = e.get("unit_id") == unit_id
        if not ours:
            continue
        by_unit = str(e.get("by") or "").startswith("unit:")
        out.append({"at": e.get("at"), "to": e.get("to"), "by": e["by"] if by_unit else HOTLINE,
                    "comment": e.get("comment") if by_unit else None})  # fmt: skip
    return out


def unit_view(ticket: Mapping[str, Any], unit_id: int) -> dict[str, Any]:
    """What unit `unit_id` sees of `ticket` (TicketStore's view of it, or a summary without events);
    ValueError if the ticket is not that unit's: the caller must not have asked for it."""
    if unit_of(ticket) != unit_id:
        raise ValueError(f"ticket {ticket.get('id')} is not unit {unit_id}'s")
    out = {field: ticket.get(field) for field in FIELDS}
    who = caller(ticket)
    out["caller"] = who
    if who is None:
        out["caller_withheld"] = WITHHELD
    out["moves"] = [s for s in ticket.get("allowed", ()) if s in {m.value for m in UNIT_MOVES}]
    returnable = ticket.get("status") in {s.value for s in RETURNABLE}
    out["return_until"] = ticket.get("return_until") if returnable else None
    if "events" in ticket:
        out["events"] = unit_events(ticket["events"], unit_id)
    out["contact"] = CONTACT
    return out
