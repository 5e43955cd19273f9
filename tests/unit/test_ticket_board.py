"""The ticket deadlines board (工单时限), pure: the groups by the working-day calendar, working days late,
the counts per unit and per kind, and what a listed ticket shows."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.tickets.board import NO_UNIT, Count, Item, Window, board, working_days_late
from hotline.workdays import WorkCalendar

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("now", "deadline", "group"),
    [
        ("2026-11-25 10:00", "2026-11-25 09:59", "overdue"),
        ("2026-11-25 10:00", "2026-11-25 18:00", "today"),
        ("2026-11-25 10:00", "2026-11-26 18:00", "next_working_day"),
        ("2026-11-25 10:00", "2026-11-27 18:00", "later"),
        ("2026-11-27 10:00", "2026-11-30 18:00", "next_working_day"),  # Friday: the next working day is Monday
        ("2026-09-30 10:00", "2026-10-08 18:00", "next_working_day"),  # 国庆节: 1–7 October are no working days
        ("2026-10-09 10:00", "2026-10-10 18:00", "next_working_day"),  # 调休: Saturday 10 October is worked
    ],
)
def test_groups_follow_the_working_day_calendar(now: str, deadline: str, group: str) -> None:
    assert Window.at(at(now), CAL).group(at(deadline)) == group


@pytest.mark.parametrize(
    ("deadline", "today", "late"),
    [
        ("2026-11-25 18:00", "2026-11-25", 0),  # passed today
        ("2026-11-24 18:00", "2026-11-25", 1),
        ("2026-11-27 18:00", "2026-11-30", 1),  # Friday's deadline, Monday: the weekend does not count
        ("2026-09-30 18:00", "2026-10-08", 1),  # over 国庆节: one working day late, not eight days
        ("2026-10-09 18:00", "2026-10-10", 1),  # the 调休 Saturday counts
    ],
)
def test_working_days_late(deadline: str, today: str, late: int) -> None:
    assert working_days_late(CAL, at(deadline), datetime.fromisoformat(today).date()) == late


def test_the_board_counts_per_unit_and_kind_and_lists_without_the_citizen() -> None:
    window = Window.at(at("2026-11-25 10:00"), CAL)
    counts = [
        Count("市住建局", "办理", "overdue", 2), Count("市住建局", "督办", "overdue", 1),
        Count("市住建局", "签收", "today", 1), Count("区城管局", "派单", "later", 4),
        Count(None, "受理", "today", 3), Count(None, "退回", "overdue", 1),
    ]  # fmt: skip
    late = Item(7, "办理", "投诉举报", "normal", "市住建局", "小区电梯坏了一周" * 5, at("2026-11-23 18:00"), False, 1)
    view = board(counts, [late], [], window, CAL)
    assert view["counts"] == {"overdue": 4, "today": 4, "next_working_day": 0, "later": 4, "open": 12, "supervised": 1}
    assert [u["unit"] for u in view["per_unit"]] == ["市住建局", NO_UNIT, "区城管局"]  # most overdue first
    assert view["per_unit"][0] == {"unit": "市住建局", "open": 4, "overdue": 3, "today": 1, "next_working_day": 0,
                                   "later": 0}  # fmt: skip
    assert view["per_kind"]["dispatch"] == {"overdue": 1, "today": 3, "next_working_day": 0, "later": 0}
    assert view["per_kind"]["handling"]["overdue"] == 3
    [item] = view["lists"]["overdue"]
    assert item["working_days_late"] == 2 and item["deadline"]["kind"] == "handling"
    assert item["deadline"]["local"] == "2026-11-23 18:00" and len(item["content"]) == 30
    assert not {"caller_number", "caller_name", "address"} & set(item)
    assert view["next_working_day"] == "2026-11-26" and view["calendar_warnings"] == []
