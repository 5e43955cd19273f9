"""Satisfaction figures (满意率) from survey results, without I/O: per seat, per queue, in all.

satisfaction rate = satisfied answers / answers (a "no answer" is not counted against anyone: it is
shown apart, as the response rate = answers / surveys).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .store import SurveyResult

WINDOW = timedelta(hours=24)


@dataclass
class SurveyFigures:
    surveyed: int = 0
    answered: int = 0
    satisfied: int = 0
    levels: Counter[str] = field(default_factory=Counter)

    def add(self, result: SurveyResult) -> None:
        self.surveyed += 1
        self.levels[result.label] += 1
        if result.satisfied is not None:
            self.answered += 1
            self.satisfied += int(result.satisfied)

    def to_json(self) -> dict[str, Any]:
        return {
            "surveyed": self.surveyed,
            "answered": self.answered,
            "satisfied": self.satisfied,
            "satisfaction_rate": round(self.satisfied / self.answered, 4) if self.answered else None,
            "response_rate": round(self.answered / self.surveyed, 4) if self.surveyed else None,
            "levels": dict(self.levels),
        }


def satisfaction(results: Iterable[SurveyResult]) -> dict[str, Any]:
    total, seats, queues = SurveyFigures(), dict[str, SurveyFigures](), dict[str, SurveyFigures]()
    for r in results:
        total.add(r)
        if r.seat:
            seats.setdefault(r.seat, SurveyFigures()).add(r)
        if r.queue:
            queues.setdefault(r.queue, SurveyFigures()).add(r)
    return {
        "total": total.to_json(),
        "seats": {k: v.to_json() for k, v in sorted(seats.items())},
        "queues": {k: v.to_json() for k, v in sorted(queues.items())},
    }


class SatisfactionTracker:
    """The survey results of today and the last 24 h, keyed by call (a repeat replaces)."""

    def __init__(self) -> None:
        self.results: dict[str, SurveyResult] = {}

    def on_result(self, result: SurveyResult) -> None:
        self.results[result.call_id] = result

    def prune(self, horizon: datetime) -> None:
        self.results = {k: r for k, r in self.results.items() if r.at >= horizon}

    def view(self, now: datetime, day_start: datetime, day_end: datetime) -> dict[str, Any]:
        return {
            "today": satisfaction(r for r in self.results.values() if day_start <= r.at < day_end),
            "last_24h": satisfaction(r for r in self.results.values() if now - WINDOW <= r.at <= now)["total"],
        }
