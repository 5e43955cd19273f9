"""Ticket deadlines, in working days of the one Chinese working-day calendar (hotline.workdays).

- Dispatch (派单): within 1 working day of 受理 (or of a unit's 退回).
- Handling, counted from the dispatch (派单/改派) or from the 重办:
  咨询 2, 求助 3, 建议 5, 投诉举报 10 (3 for a matter on the convenience-service list).
  一般诉求 and 表扬 are not given a number by the issue; they take 5 here (HANDLING_DAYS).
- Emergencies (特急): at once, dispatch and handling, with a phone call to the unit.

"Within N working days" is by the end of the Nth working day after the day it starts
(WorkCalendar.deadline): a ticket dispatched on Wednesday 30 September 2026 with 2 working days is
due at 18:00 on Friday 9 October (1–7 October are 国庆节 holidays, Thursday 8 October is day 1).
"""

from __future__ import annotations

from datetime import datetime

from ..workdays import Deadline, WorkCalendar
from .model import Category, Urgency

DISPATCH_DAYS = 1
RETURN_WITHIN_DAYS = 1  # a unit may return a wrong dispatch (退回) within this many working days
HANDLING_DAYS: dict[Category, int] = {
    Category.CONSULTATION: 2,
    Category.HELP: 3,
    Category.SUGGESTION: 5,
    Category.COMPLAINT: 10,
    Category.REQUEST: 5,  # not in the issue: as a suggestion
    Category.PRAISE: 5,  # not in the issue: a praise dispatched to be passed on
}
CONVENIENCE_COMPLAINT_DAYS = 3


def handling_days(category: Category | None, urgency: Urgency, convenience: bool) -> int:
    """Working days the unit has: 0 means at once."""
    if urgency is Urgency.EMERGENCY:
        return 0
    if category is None:
        raise ValueError("a ticket without a category (an out-of-scope record) has no handling deadline")
    if category is Category.COMPLAINT and convenience:
        return CONVENIENCE_COMPLAINT_DAYS
    return HANDLING_DAYS[category]


def dispatch_deadline(calendar: WorkCalendar, start: datetime, urgency: Urgency) -> Deadline:
    return calendar.deadline(start, 0 if urgency is Urgency.EMERGENCY else DISPATCH_DAYS)


def handling_deadline(
    calendar: WorkCalendar, start: datetime, category: Category | None, urgency: Urgency, convenience: bool
) -> Deadline:
    return calendar.deadline(start, handling_days(category, urgency, convenience))


def return_deadline(calendar: WorkCalendar, dispatched_at: datetime) -> Deadline:
    """Until when the unit may still return (退回) a dispatch."""
    return calendar.deadline(dispatched_at, RETURN_WITHIN_DAYS)
