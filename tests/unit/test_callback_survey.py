"""The automated survey callback's decisions (hotline.callbacks.survey_call), as tables."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.callbacks import survey_call as sv
from hotline.callbacks.schedule import AttemptOutcome, Task, TaskKind
from hotline.callbacks.survey_call import Next, SurveyEnd

AT = datetime(2026, 11, 25, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


def task(kind: TaskKind = TaskKind.TICKET, survey: bool = True) -> Task:
    return Task(1, kind, "13800138000", AT, AT, ticket_id=7 if kind is TaskKind.TICKET else None, survey=survey)


@pytest.mark.parametrize(
    ("kind", "marked", "enabled", "by_ivr"),
    [
        (TaskKind.TICKET, True, True, True),
        (TaskKind.TICKET, True, False, False),  # the setting is off: a seat calls, mark or not
        (TaskKind.TICKET, False, True, False),  # not marked: a seat calls
        (TaskKind.REQUEST, True, True, False),  # a call-back request (回拨) is never a survey
        (TaskKind.MISSED, True, True, False),
    ],
)
def test_who_calls(kind: TaskKind, marked: bool, enabled: bool, by_ivr: bool) -> None:
    assert sv.by_ivr(task(kind, marked), enabled) is by_ivr


@pytest.mark.parametrize(
    ("key", "outcome"),
    [
        ("1", "满意"),
        ("2", "基本满意"),
        ("3", "不满意"),
        ("4", None),
        ("0", None),
        ("#", None),
        ("", None),
        (None, None),
    ],
)
def test_keys(key: str | None, outcome: str | None) -> None:
    assert sv.outcome_of(key) == outcome


@pytest.mark.parametrize(
    ("key", "last_key", "hung_up", "end", "then"),
    [
        ("3", "3", False, SurveyEnd.ANSWERED, Next.RECORD),
        ("1", "1", False, SurveyEnd.ANSWERED, Next.RECORD),
        (None, "", False, SurveyEnd.TIMEOUT, Next.SEAT),  # no key after the retries
        (None, "7", False, SurveyEnd.INVALID, Next.SEAT),  # a wrong key after the retries
        (None, "", True, SurveyEnd.HANGUP, Next.SEAT),
        (None, "9", True, SurveyEnd.HANGUP, Next.SEAT),
        ("2", "2", True, SurveyEnd.ANSWERED, Next.RECORD),  # chose, then hung up during the thanks
    ],
)
def test_how_the_ivr_ended(key: str | None, last_key: str, hung_up: bool, end: SurveyEnd, then: Next) -> None:
    assert sv.ended(key, last_key, hung_up) is end
    assert sv.AFTER_IVR[end] is then


def test_every_end_has_a_next_step() -> None:
    assert set(sv.AFTER_IVR) == set(SurveyEnd)


@pytest.mark.parametrize(
    ("reason", "cause", "outcome", "dial_status"),
    [
        # OriginateResponse's Reason says it: the Hangup Cause is not needed
        ("3", None, AttemptOutcome.NO_ANSWER, "reason 3"),
        ("5", None, AttemptOutcome.BUSY, "reason 5"),
        ("8", None, AttemptOutcome.FAILED, "reason 8"),
        ("3", "17", AttemptOutcome.NO_ANSWER, "reason 3"),  # the Reason wins when it says
        # Asterisk 22's Reason 0 for any SIP rejection: the channel's Hangup Cause decides
        ("0", "17", AttemptOutcome.BUSY, "cause 17"),  # 486 Busy Here
        ("0", "19", AttemptOutcome.NO_ANSWER, "cause 19"),  # 480 Temporarily Unavailable
        ("0", "18", AttemptOutcome.NO_ANSWER, "cause 18"),  # 408: no user responding
        ("0", "21", AttemptOutcome.FAILED, "cause 21"),  # 603 Decline: rejected
        ("0", "1", AttemptOutcome.FAILED, "cause 1"),  # 404: no such number
        ("0", "28", AttemptOutcome.FAILED, "cause 28"),  # 484: a malformed number
        ("1", "17", AttemptOutcome.BUSY, "cause 17"),  # Reason 1 (hung up) does not say either
        ("0", "16", AttemptOutcome.FAILED, "cause 16"),  # a cause not in the table
        ("0", None, AttemptOutcome.FAILED, "reason 0"),  # no Hangup came
        ("", "", AttemptOutcome.FAILED, "reason "),
    ],
)
def test_not_answered(reason: str, cause: str | None, outcome: AttemptOutcome, dial_status: str) -> None:
    assert sv.not_answered(reason, cause) is outcome
    assert sv.dial_status(reason, cause) == dial_status and len(dial_status) <= 16  # the column's width


def test_only_inconclusive_reasons_wait_for_the_cause() -> None:
    assert [r for r in ("0", "1", "3", "5", "8", "") if sv.waits_for_cause(r)] == ["0", "1", ""]
    assert set(sv.HANGUP_CAUSE.values()) <= {AttemptOutcome.BUSY, AttemptOutcome.NO_ANSWER, AttemptOutcome.FAILED}


def test_the_comment_names_the_key() -> None:
    assert "3" in sv.comment_of("3")  # 不满意 needs a comment: the unit redoes it from it
