"""The three-way attempt's state machine: transitions as a table, illegal events and commands refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.threeway import machine as tw
from hotline.threeway.machine import Attempt, TwCommand, TwEvent, TwState

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def attempt() -> Attempt:
    return Attempt("c1-1", "c1", "8001", "057187001200", True, T0)


def run(*events: TwEvent) -> Attempt:
    a = attempt()
    for n, event in enumerate(events, 1):
        a = tw.apply(a, event, T0 + timedelta(seconds=n))
    return a


@pytest.mark.parametrize(
    ("events", "state", "outcome"),
    [
        (
            (TwEvent.RINGING, TwEvent.ANSWERED, TwEvent.JOINED, TwEvent.SEAT_LEFT, TwEvent.UNIT_LEFT),
            "ended",
            "completed",
        ),
        ((TwEvent.RINGING, TwEvent.ANSWERED, TwEvent.JOINED, TwEvent.CITIZEN_LEFT), "ended", "completed"),
        ((TwEvent.RINGING, TwEvent.NO_ANSWER), "no_answer", "no_answer"),
        ((TwEvent.RINGING, TwEvent.BUSY), "busy", "busy"),
        ((TwEvent.FAILED,), "failed", "failed"),
        ((TwEvent.RINGING, TwEvent.CANCELLED), "cancelled", "cancelled"),
        ((TwEvent.RINGING, TwEvent.ANSWERED, TwEvent.CANCELLED), "cancelled", "cancelled"),
        ((TwEvent.RINGING, TwEvent.ANSWERED, TwEvent.UNIT_LEFT), "ended", "unit_left"),
        ((TwEvent.RINGING, TwEvent.CITIZEN_LEFT), "cancelled", "cancelled"),
    ],
)
def test_paths(events: tuple[TwEvent, ...], state: str, outcome: str) -> None:
    a = run(*events)
    assert a.state.value == state and a.outcome == outcome and a.ended_at is not None and not a.live


def test_times_are_kept() -> None:
    a = run(TwEvent.RINGING, TwEvent.ANSWERED, TwEvent.JOINED, TwEvent.SEAT_LEFT)
    assert a.state is TwState.SEAT_LEFT and a.live
    assert [a.ringing_at, a.answered_at, a.joined_at, a.seat_left_at] == [
        T0 + timedelta(seconds=n) for n in (1, 2, 3, 4)
    ]


def test_illegal_event_raises() -> None:
    with pytest.raises(tw.IllegalThreewayEvent, match="seat_left not allowed in state ringing"):
        run(TwEvent.RINGING, TwEvent.SEAT_LEFT)


def test_join_reported_before_the_answer() -> None:
    """Asterisk may send the unit's ConfbridgeJoin before its Newstate Up (Dial's G(), no consult)."""
    a = run(TwEvent.RINGING, TwEvent.JOINED)
    assert a.state is TwState.JOINED and a.answered_at == a.joined_at == T0 + timedelta(seconds=2)
    assert tw.apply(a, TwEvent.ANSWERED, T0 + timedelta(seconds=3)) is a


def test_duplicates_are_ignored() -> None:
    a = run(TwEvent.BUSY)
    assert tw.apply(a, TwEvent.CITIZEN_LEFT, T0) is a


def test_commands() -> None:
    with pytest.raises(tw.ThreewayRefused) as no:
        tw.check_command(None, TwCommand.JOIN)
    assert no.value.error == "no-threeway"
    ringing = run(TwEvent.RINGING)
    assert tw.check_command(ringing, TwCommand.CANCEL) is ringing
    with pytest.raises(tw.ThreewayRefused) as state:
        tw.check_command(ringing, TwCommand.JOIN)
    assert state.value.error == "threeway-state" and "ringing" in state.value.message
