"""How long a recording is kept, pure: ordinary calls `retention_days`, calls of a 投诉举报 ticket
`retention_complaint_days`; a recording still in an open QA review (sampled, not scored) is kept too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

COMPLAINT = "投诉举报"


@dataclass(frozen=True, slots=True)
class Retention:
    ordinary_days: int
    complaint_days: int

    def keep_until(self, day: date, categories: frozenset[str] | set[str] = frozenset()) -> date:
        """The last day the recording of a call made on `day` is kept."""
        days = self.complaint_days if COMPLAINT in categories else self.ordinary_days
        return day + timedelta(days=days)

    def due(self, day: date, categories: frozenset[str] | set[str], today: date, *, under_review: bool = False) -> bool:
        """Purge now? After its last day, unless QA still has it to score."""
        return not under_review and today > self.keep_until(day, categories)
