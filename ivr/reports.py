"""What the IVR reports to the features above it: plain frozen values the IVR owns (it imports no feature).

hotline/survey stores and publishes SurveyResult and CallbackRequest; hotline/callbacks acts on SurveyEnd.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from .flow import survey_label

SURVEY_SCALE = 3  # the automated 回访 survey's scale: 满意, 基本满意, 不满意 (as a seat records it)


@dataclass(frozen=True, slots=True)
class SurveyResult:
    call_id: str
    seat: str | None
    queue: str | None
    caller_number: str | None
    scale: int
    level: int | None  # the key pressed, 1 = best; None: no answer
    label: str  # 非常满意 … or 未评价
    satisfied: bool | None
    reason: str  # answered, timeout, invalid, hangup
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    call_id: str
    caller_number: str | None
    number: str
    queue: str | None
    created_at: datetime
    status: str = "pending"
    id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}


class SurveyEnd(StrEnum):
    """How the IVR's part of an automated survey callback ended."""

    ANSWERED = "answered"  # a valid key
    TIMEOUT = "timeout"  # no key after the retries
    INVALID = "invalid"  # a wrong key after the retries
    HANGUP = "hangup"  # the citizen hung up before a key


def ended(key: str | None, last_key: str, hung_up: bool) -> SurveyEnd:
    """How the IVR's collection ended: the chosen key, the last key pressed ("" when none), a hang-up."""
    if key and survey_label(key, SURVEY_SCALE) is not None:
        return SurveyEnd.ANSWERED
    if hung_up:
        return SurveyEnd.HANGUP
    return SurveyEnd.INVALID if last_key else SurveyEnd.TIMEOUT
