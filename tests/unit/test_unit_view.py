"""The unit view (hotline/units_portal/view.py) as plain tables: what a handling unit sees of a ticket, and
what it never sees."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hotline.units_portal.view import CONTACT, WITHHELD, mask_number, salutation, unit_events, unit_view

UNIT, OTHER = 3, 7


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("057187001234", "057****1234"),
        ("0571-87001234", "057****1234"),
        ("87001234", "870****1234"),
        ("12345", "****"),
        ("", "****"),
    ],
)
def test_the_number_is_masked(number: str, shown: str) -> None:
    assert mask_number(number) == shown


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("张三", "张先生/女士"),
        ("王女士", "王女士"),
        ("李先生", "李先生"),
        ("赵小姐", "赵女士"),
        ("欧阳明", "欧阳先生/女士"),
        ("欧阳女士", "欧阳女士"),
        ("诸葛亮", "诸葛先生/女士"),
        (" 陈 大文 ", "陈先生/女士"),
        ("先生", None),  # no surname: omitted
        ("女士", None),
        ("John Smith", None),
        ("", None),
        (None, None),
    ],
)
def test_the_name_is_the_surname_and_a_title(name: str | None, shown: str | None) -> None:
    assert salutation(name) == shown


def full_ticket(**over: Any) -> dict[str, Any]:
    """TicketStore's view of a ticket, with everything the hotline sees."""
    ticket = {
        "id": 42, "status": "签收", "category": "求助", "urgency": "urgent", "convenience": False,
        "caller_number": "13812345678", "caller_name": "王小明", "district": "东湖区", "street": "东湖街道",
        "address": "东湖路 8 号 3 单元", "content": "楼道灯坏了一个月", "guided_to": None, "guided_label": None,
        "seat": "8001", "unit": {"id": UNIT, "name": "东湖区住建局", "phones": ["057186102000"]},
        "created_at": "2026-11-25T02:00:00+00:00", "updated_at": "2026-11-25T03:00:00+00:00",
        "dispatched_at": "2026-11-25T02:10:00+00:00", "closed_at": None,
        "deadline": {"at": "2026-11-30T10:00:00+00:00", "local": "2026-11-30 18:00", "provisional": False,
                     "kind": "handling"},
        "overdue": False, "redo_count": 0, "is_open": True, "calls": ["1764032523.11"],
        "events": [], "threeway": [{"number": "13812345678"}], "surveys": [{"rating": 1}],
        "callbacks": [{"outcome": "不满意"}], "allowed": ["办理", "反馈", "退回", "督办"], "editable": ["address"],
        "return_until": {"at": "2026-11-26T10:00:00+00:00", "local": "2026-11-26 18:00", "provisional": False},
    }  # fmt: skip
    return ticket | over


SEEN = {
    "id", "status", "category", "urgency", "content", "district", "street", "address", "deadline", "overdue",
    "created_at", "dispatched_at", "is_open", "caller", "moves", "return_until", "events", "contact",
}  # fmt: skip
NEVER = {"calls", "threeway", "surveys", "callbacks", "seat", "unit", "caller_number", "caller_name", "editable",
         "guided_to", "guided_label", "redo_count", "allowed", "closed_at", "updated_at", "convenience"}  # fmt: skip


def test_a_unit_sees_what_it_needs_and_nothing_more() -> None:
    view = unit_view(full_ticket(), UNIT)
    assert set(view) == SEEN and not NEVER & set(view)
    assert view["caller"] == {"number": "138****5678", "name": "王先生/女士"}
    assert (view["content"], view["address"], view["deadline"]["local"]) == ("楼道灯坏了一个月", "东湖路 8 号 3 单元",
                                                                             "2026-11-30 18:00")  # fmt: skip
    assert view["moves"] == ["办理", "反馈", "退回"]  # 督办 is the hotline's
    assert view["return_until"]["local"] == "2026-11-26 18:00" and view["contact"] == CONTACT
    text = json.dumps(view, ensure_ascii=False)
    for secret in ("13812345678", "王小明", "8001", "1764032523.11", "不满意", "057186102000", "东湖区住建局"):
        assert secret not in text, secret


def test_a_complaint_shows_neither_name_nor_number() -> None:
    view = unit_view(full_ticket(category="投诉举报", caller_name="王女士"), UNIT)
    assert view["caller"] is None and view["caller_withheld"] == WITHHELD
    text = json.dumps(view, ensure_ascii=False)
    assert "5678" not in text and "王" not in text


def test_no_name_no_name_key() -> None:
    assert unit_view(full_ticket(caller_name=None), UNIT)["caller"] == {"number": "138****5678"}


def test_return_until_only_while_a_return_is_possible() -> None:
    assert unit_view(full_ticket(status="办理"), UNIT)["return_until"] is None
    assert unit_view(full_ticket(status="派单"), UNIT)["return_until"] is not None


def test_another_units_ticket_is_never_viewed() -> None:
    with pytest.raises(ValueError, match="not unit 7's"):
        unit_view(full_ticket(), OTHER)
    with pytest.raises(ValueError):
        unit_view(full_ticket(unit=None), UNIT)
    summary = {k: v for k, v in full_ticket().items() if k not in ("unit", "events")} | {"unit_id": UNIT}
    assert "events" not in unit_view(summary, UNIT)  # the list's summary: no events asked, none given


def ev(to: str, by: str, frm: str | None = None, unit_id: int | None = None, comment: str | None = None) -> dict:
    return {"at": f"t-{to}-{by}", "by": by, "from": frm, "to": to, "unit_id": unit_id, "comment": comment,
            "changes": None}  # fmt: skip


def test_the_events_are_those_while_the_ticket_was_the_units() -> None:
    events = [
        ev("受理", "8001", comment="来电人情绪激动，曾多次投诉"),
        ev("受理", "8001", "受理", comment="repeat call 1764.1"),  # an edit or a repeat call: no move
        ev("派单", "8001", "受理", OTHER, "派给西湖区"),
        ev("退回", "unit:xh", "派单", comment="不属于西湖区"),  # the other unit's words
        ev("派单", "8002", "退回", UNIT, "改派：东湖区"),
        ev("签收", "unit:dh", "派单"),
        ev("反馈", "unit:dh", "签收", comment="已修复楼道灯"),
        ev("重办", "8003", "反馈", comment="回访：市民不满意，说灯又坏了"),
    ]
    assert unit_events(events, UNIT) == [
        {"at": "t-派单-8002", "to": "派单", "by": "市长热线", "comment": None},
        {"at": "t-签收-unit:dh", "to": "签收", "by": "unit:dh", "comment": None},
        {"at": "t-反馈-unit:dh", "to": "反馈", "by": "unit:dh", "comment": "已修复楼道灯"},
        {"at": "t-重办-8003", "to": "重办", "by": "市长热线", "comment": None},
    ]
    assert unit_events(events, OTHER) == [
        {"at": "t-派单-8001", "to": "派单", "by": "市长热线", "comment": None},
        {"at": "t-退回-unit:xh", "to": "退回", "by": "unit:xh", "comment": "不属于西湖区"},
    ]
