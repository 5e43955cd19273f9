"""The automated survey callback (自动回访): the citizen is dialled straight into the IVR, which asks
满意 (1), 基本满意 (2) or 不满意 (3). Pure decisions, tested with tables; the dialer and the FastAGI
route /callback-survey do the I/O.

A key 1–3 records the outcome exactly as a seat would (hotline.callbacks.outcome). Anything else (no
answer, busy, failed, the citizen hung up, no key or a wrong one after the retries) sends the task back
to a seat callback at once: the survey attempt is kept in the task's history but never counted as a
try to reach the citizen, so the seat still has every try the policy allows.
"""

from __future__ import annotations

from enum import StrEnum

from ivr.flow import survey_label
from ivr.reports import SURVEY_SCALE, SurveyEnd, ended

from .schedule import AttemptOutcome, Task, TaskKind

__all__ = ["SurveyEnd", "ended"]  # what the IVR reports (ivr/reports.py), re-exported for the dialer

IVR_SEAT = "IVR"  # the attempt's "seat" when the IVR, not a person, makes the call
SCALE = SURVEY_SCALE  # 满意, 基本满意, 不满意: the scale a seat records
BY = "IVR"  # done_by of an outcome keyed in by the citizen


class Next(StrEnum):
    RECORD = "record"  # record the outcome the citizen chose; the task is done
    SEAT = "seat"  # back to a seat callback, not counted as a try


AFTER_IVR: dict[SurveyEnd, Next] = {
    SurveyEnd.ANSWERED: Next.RECORD,
    SurveyEnd.TIMEOUT: Next.SEAT,
    SurveyEnd.INVALID: Next.SEAT,
    SurveyEnd.HANGUP: Next.SEAT,
}

# OriginateResponse's Reason (Asterisk's AST_CONTROL_* the citizen's leg ended with) when not answered: only
# these say what happened. Asterisk 22 gives Reason 0 for every SIP rejection of the citizen's phone (486, 480,
# 603, 404: seen with the sipp citizen), and may send it before or after the channel's Hangup; any other Reason
# waits for that Hangup's Cause (HANGUP_CAUSE). The raw value is kept as the attempt's dial_status.
ORIGINATE_REASON: dict[str, AttemptOutcome] = {
    "3": AttemptOutcome.NO_ANSWER,  # rang until the Originate's timeout
    "5": AttemptOutcome.BUSY,
    "8": AttemptOutcome.FAILED,  # congestion
}

# The Hangup event's Cause (Q.850, as Asterisk maps the SIP response) of the citizen's channel that was never
# answered; a cause not listed is FAILED.
HANGUP_CAUSE: dict[str, AttemptOutcome] = {
    "17": AttemptOutcome.BUSY,  # user busy (SIP 486)
    "18": AttemptOutcome.NO_ANSWER,  # no user responding (SIP 408)
    "19": AttemptOutcome.NO_ANSWER,  # no answer from the user (SIP 480)
    "21": AttemptOutcome.FAILED,  # call rejected (SIP 603, 403)
    "1": AttemptOutcome.FAILED,  # unallocated number (SIP 404)
    "3": AttemptOutcome.FAILED,  # no route to the destination
    "28": AttemptOutcome.FAILED,  # invalid number format (SIP 484)
    "34": AttemptOutcome.FAILED,  # no circuit available (SIP 503 from the carrier)
    "38": AttemptOutcome.FAILED,  # network out of order
}


def by_ivr(task: Task, enabled: bool) -> bool:
    """The IVR calls this task: the feature is on, the centre marked it, and it is a ticket's 回访."""
    return enabled and task.survey and task.kind is TaskKind.TICKET


def outcome_of(key: str | None) -> str | None:
    """The outcome a key means (1 满意, 2 基本满意, 3 不满意), None for no key or another key."""
    return survey_label(key, SCALE) if key else None


def waits_for_cause(reason: str) -> bool:
    """An OriginateResponse Reason that does not say why the citizen did not answer: the channel's Hangup
    Cause decides."""
    return reason not in ORIGINATE_REASON


def not_answered(reason: str, cause: str | None = None) -> AttemptOutcome:
    """The outcome of a survey call the citizen did not answer: OriginateResponse's Reason when it says,
    else the Hangup Cause of the attempt's channel (None: no Hangup came)."""
    if reason in ORIGINATE_REASON:
        return ORIGINATE_REASON[reason]
    return HANGUP_CAUSE.get(cause or "", AttemptOutcome.FAILED)


def dial_status(reason: str, cause: str | None) -> str:
    """What the attempt's history keeps (16 characters at most): the Reason, or the Cause that decided."""
    return f"cause {cause}" if cause and waits_for_cause(reason) else f"reason {reason}"


def comment_of(key: str) -> str:
    """The comment recorded with the citizen's choice (不满意 needs one: the unit redoes it from it)."""
    return f"自动回访：市民按键 {key}"
