"""The automated survey's failed call decided by its channel's Hangup Cause, whichever of OriginateResponse and
Hangup Asterisk sends first (both orders were seen with Asterisk 22 and a sipp citizen answering 486)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from ami_bridge import events as ev
from ami_bridge.protocol import Frame, FrameKind
from hotline.callbacks import survey_dialer
from hotline.callbacks.schedule import AttemptOutcome
from hotline.callbacks.survey_dialer import SurveyCaller

ATTEMPT = "cb-7-1"


class Store:
    def __init__(self) -> None:
        self.ended: list[tuple[str, AttemptOutcome, str]] = []

    async def survey_fallback(self, attempt_id: str, outcome: AttemptOutcome, why: str) -> None:
        self.ended.append((attempt_id, outcome, why))


def event(**headers: str) -> Frame:
    return Frame(FrameKind.EVENT, tuple(headers.items()))


def originate_failed(reason: str) -> ev.OriginateResult:
    """The OriginateResponse Asterisk sends, decoded as the bridge decodes it."""
    frame = event(Event="OriginateResponse", Response="Failure", Channel="PJSIP/13800138000@trunk-out",
                  Context=survey_dialer.CONTEXT, Reason=reason, Uniqueid=ATTEMPT)  # fmt: skip
    result = ev.decode_notice(frame)
    assert isinstance(result, ev.OriginateResult)
    return result


def hangup(cause: str, uniqueid: str = ATTEMPT) -> ev.ChannelHungUp:
    hung = ev.decode(event(Event="Hangup", Uniqueid=uniqueid, Cause=cause, Channel="PJSIP/trunk-out-00000001"))
    assert isinstance(hung, ev.ChannelHungUp)
    return hung


def caller() -> tuple[SurveyCaller, Store]:
    store = Store()
    surveys = SurveyCaller(SimpleNamespace(store=store))  # type: ignore[arg-type]
    surveys.live[ATTEMPT] = "PJSIP/13800138000@trunk-out"
    return surveys, store


async def test_hangup_first() -> None:
    surveys, store = caller()
    await surveys.hung_up(hangup("17"))
    assert store.ended == []  # the OriginateResponse ends it
    await surveys.originate_failed(originate_failed("0"))
    assert store.ended == [(ATTEMPT, AttemptOutcome.BUSY, "cause 17")]
    assert surveys.live == {} and surveys.causes == {}


async def test_originate_response_first_waits_for_the_hangup() -> None:
    surveys, store = caller()
    await surveys.originate_failed(originate_failed("0"))
    assert store.ended == []  # Reason 0 does not say why: wait for the channel's cause
    await surveys.hung_up(hangup("19"))
    assert store.ended == [(ATTEMPT, AttemptOutcome.NO_ANSWER, "cause 19")]
    await surveys.close()
    await surveys.hung_up(hangup("19"))  # a late duplicate changes nothing
    assert len(store.ended) == 1


async def test_a_reason_that_says_it_does_not_wait() -> None:
    surveys, store = caller()
    await surveys.originate_failed(originate_failed("3"))
    assert store.ended == [(ATTEMPT, AttemptOutcome.NO_ANSWER, "reason 3")]


async def test_no_hangup_at_all_ends_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(survey_dialer, "HANGUP_WAIT_S", 0.01)
    surveys, store = caller()
    await surveys.originate_failed(originate_failed("0"))
    waits: list[Any] = list(surveys._waits)
    await asyncio.gather(*waits)
    assert store.ended == [(ATTEMPT, AttemptOutcome.FAILED, "reason 0")]


async def test_another_channels_hangup_is_ignored() -> None:
    surveys, store = caller()
    await surveys.hung_up(hangup("17", uniqueid="1764566400.12"))
    assert surveys.causes == {} and store.ended == []
