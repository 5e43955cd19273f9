"""The automated survey callback's calls (自动回访): the citizen is originated straight from the hotline's
number, through the trunk, into extensions.conf [dialer-survey], which runs the FastAGI route
/callback-survey (ivr/server.py): a prompt, one key (1 满意, 2 基本满意, 3 不满意) with retries.

The IVR reports the key here (`result`, before it hangs up); the outcome is then applied exactly as a
seat's (hotline.callbacks.outcome.record_outcome, done_by "IVR"). No answer, busy, failed
(OriginateResponse, or the Hangup Cause of the attempt's channel when its Reason does not say), or no
valid key (the IVR's report, or the channel's END event when the IVR could not report) → the task is back
to a seat callback (hotline.callbacks.survey_call).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from ami_bridge.client import AmiError
from ami_bridge.events import ChannelHungUp, OriginateResult

from .. import tasks
from . import survey_call as sv
from .outcome import record_outcome
from .schedule import AttemptOutcome, Task

if TYPE_CHECKING:
    from ami_bridge.client import AmiClient
    from hotline.bus import Bus
    from hotline.tickets.store import TicketStore

    from .config import DialerConfig
    from .store import CallbackStore

log = logging.getLogger(__name__)
CONTEXT = "dialer-survey"
HANGUP_WAIT_S = 2.0  # how long an OriginateResponse that does not say why waits for its channel's Hangup


class DialerParts(Protocol):
    """What the survey caller uses of the dialer that owns it."""

    client: AmiClient
    bus: Bus
    store: CallbackStore
    tickets: TicketStore
    config: DialerConfig


class SurveyCaller:
    def __init__(self, dialer: DialerParts) -> None:
        self.d = dialer
        self.live: dict[str, str] = {}  # attempt id -> the citizen's channel being originated
        self.causes: dict[str, str] = {}  # attempt id -> the Hangup Cause of its channel, when it came first
        self._undecided: dict[str, str] = {}  # attempt id -> an OriginateResponse Reason waiting for the Cause
        self._waits: set[asyncio.Task[None]] = set()

    async def close(self) -> None:
        await tasks.stop(list(self._waits))

    async def dial(self, task: Task) -> str | None:
        d = self.d
        attempt_id = await d.store.claim(task, sv.IVR_SEAT, False)
        if attempt_id is None:
            return None
        channel = f"PJSIP/{task.number}@{d.config.trunk}"
        self.live[attempt_id] = channel
        log.info("callback %s: attempt %s: automated survey, the IVR calls %s", task.id, attempt_id, task.number)
        cli = d.config.caller_id
        fields: dict[str, str | bool] = {
            "Channel": channel, "Context": CONTEXT, "Exten": "s", "Priority": "1",
            "Timeout": str(d.config.ring_s * 1000), "CallerID": f'"{cli}" <{cli}>', "ChannelId": attempt_id,
            "Async": True, "Variable": f"__HOTLINE_CB_ATTEMPT={attempt_id}",
        }  # fmt: skip
        try:
            await d.client.action("Originate", fields)
        except AmiError as exc:
            log.error("callback %s: survey attempt %s could not start: %s", task.id, attempt_id, exc)
            await self.fall_back(attempt_id, AttemptOutcome.FAILED, "originate")
        return attempt_id

    async def originate_failed(self, result: OriginateResult) -> None:
        """The citizen did not answer the IVR's call (OriginateResponse Failure). A Reason that does not say
        why (Asterisk 22: 0 for any SIP rejection) is decided by the channel's Hangup Cause, which may come
        before or after this frame."""
        attempt_id = result.uniqueid
        if attempt_id not in self.live:
            attempt_id = next((a for a, c in self.live.items() if c == result.channel), "")
        if not attempt_id:
            return
        reason = result.reason
        cause = self.causes.pop(attempt_id, None)
        if sv.waits_for_cause(reason) and cause is None:
            self._undecided[attempt_id] = reason
            task = asyncio.create_task(self._without_cause(attempt_id), name=f"survey-cause-{attempt_id}")
            self._waits.add(task)
            task.add_done_callback(self._waits.discard)
            return
        await self._not_answered(attempt_id, reason, cause)

    async def hung_up(self, hangup: ChannelHungUp) -> None:
        """The Hangup of a survey attempt's channel (its Uniqueid is the attempt id): its Cause decides an
        OriginateResponse that waits for it, or is kept for the one still to come."""
        attempt_id, cause = hangup.channel.uniqueid, str(hangup.cause) if hangup.cause else ""
        if attempt_id in self._undecided:
            await self._not_answered(attempt_id, self._undecided.pop(attempt_id), cause)
        elif attempt_id in self.live:
            self.causes[attempt_id] = cause

    async def _without_cause(self, attempt_id: str) -> None:
        await asyncio.sleep(HANGUP_WAIT_S)
        if attempt_id in self._undecided:
            log.warning("callback attempt %s: no Hangup of the survey call within %.0f s; its cause is unknown",
                        attempt_id, HANGUP_WAIT_S)  # fmt: skip
            await self._not_answered(attempt_id, self._undecided.pop(attempt_id), None)

    async def _not_answered(self, attempt_id: str, reason: str, cause: str | None) -> None:
        outcome = sv.not_answered(reason, cause)
        log.info("callback attempt %s: the citizen did not answer the survey call (%s: Reason %s, hangup cause %s)",
                 attempt_id, outcome.value, reason, cause or "-")  # fmt: skip
        await self.fall_back(attempt_id, outcome, sv.dial_status(reason, cause))

    async def channel_ended(self, attempt_id: str) -> None:
        """The survey channel hung up: a no-op when the IVR reported already, else back to a seat."""
        await self.fall_back(attempt_id, AttemptOutcome.ANSWERED, "no-report")

    async def result(self, attempt_id: str, key: str | None, end: sv.SurveyEnd) -> None:
        """The IVR's report: the citizen's key (or none) and how the collection ended."""
        d = self.d
        row = await d.store.attempt(attempt_id)
        if row is None or row.ended_at is not None:
            log.warning("callback attempt %s: survey result %s for no open attempt; ignored", attempt_id, end)
            return
        await d.store.mark(attempt_id, "citizen")
        outcome = sv.outcome_of(key)
        if sv.AFTER_IVR[end] is sv.Next.SEAT or key is None or outcome is None:
            await self.fall_back(attempt_id, AttemptOutcome.ANSWERED, end.value)
            return
        body = {"outcome": outcome, "comment": sv.comment_of(key), "by": sv.BY}
        try:
            await record_outcome(d.store, d.tickets, d.bus, row.task_id, body)
        except Exception:  # a refused move (OutcomeRefused, IllegalTicketTransition) or the database
            log.exception("callback %s: survey outcome %s not applied; back to a seat", row.task_id, outcome)
            await self.fall_back(attempt_id, AttemptOutcome.ANSWERED, "not-applied")
            return
        self.live.pop(attempt_id, None)
        self.causes.pop(attempt_id, None)
        await d.store.end_attempt(attempt_id, AttemptOutcome.ANSWERED, "ANSWER")
        log.info("callback %s: attempt %s: the citizen pressed %s (%s)", row.task_id, attempt_id, key, outcome)

    async def fall_back(self, attempt_id: str, outcome: AttemptOutcome, why: str) -> None:
        self.live.pop(attempt_id, None)
        self.causes.pop(attempt_id, None)
        after = await self.d.store.survey_fallback(attempt_id, outcome, why)
        if after is not None:
            log.info("callback %s: attempt %s: survey %s (%s) → back to a seat callback", after.id, attempt_id,
                     outcome.value, why)  # fmt: skip
