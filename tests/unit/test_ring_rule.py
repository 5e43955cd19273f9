"""The two-ring rule: misses counted against the seat, the seat paused with 未接 at the setting's count."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ami_bridge import events as ev
from ami_bridge.calls import CallBook
from ami_bridge.constants import SeatState
from ami_bridge.ring_rule import PauseSeat, RingRule
from ami_bridge.seats import SeatBook
from ami_bridge.snapshots import MissSnapshot, SeatSnapshot
from tests.helpers.transcripts import events

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def replay_missed(
    rule: RingRule, miss_reset: str = "answered_or_resumed"
) -> list[tuple[MissSnapshot, PauseSeat | None]]:
    seats, calls, out = SeatBook(miss_reset=miss_reset), CallBook(), []
    for e in events("missed_call.jsonl"):
        before = seats.get(e.seat) if isinstance(e, ev.SeatMissed) else None
        calls.apply(e)
        seats.apply(e)
        if isinstance(e, ev.SeatMissed):
            miss, pause = rule.on_missed(e, before, seats.get(e.seat))
            assert miss is not None
            out.append((miss, pause))
    return out


def test_recorded_miss_rang_out_for_two_rings_and_pauses_the_seat() -> None:
    (miss, pause), *_ = replay_missed(RingRule(misses_to_pause=1))
    assert miss.seat == "8001" and not miss.rejected and miss.misses_in_row == 1
    assert miss.ring_ms is not None and 9500 <= miss.ring_ms <= 10600, miss.ring_ms  # measured, not configured
    assert pause == PauseSeat("8001", "未接", 1, miss.call_id)


def test_a_seat_may_be_allowed_more_than_one_miss() -> None:
    (miss, pause), *_ = replay_missed(RingRule(misses_to_pause=2))
    assert miss.misses_in_row == 1 and pause is None


def _seat(state: SeatState, misses: int, since: datetime = T0, reason: str | None = None) -> SeatSnapshot:
    return SeatSnapshot(
        "8001", state, "PJSIP/8001", reason, "c1" if state is SeatState.RINGING else None, since, misses
    )


def _missed(at: datetime) -> ev.SeatMissed:
    chan = ev.Channel("c1", "c1", "PJSIP/carrier-in-1", 6, "13800138000", None, "queue", "s", "c1", "citizen")
    return ev.SeatMissed(at, chan, replace(chan, uniqueid="c1.1", name="PJSIP/8001-1"), "hotline", "PJSIP/8001", "8001")


@pytest.mark.parametrize(
    ("rang_s", "misses_after", "state_after", "rejected", "pauses"),
    [
        (10.0, 1, SeatState.READY, False, True),  # rang out: the rule pauses it
        (2.0, 1, SeatState.READY, True, True),  # refused while ringing: a miss too
        (10.0, 1, SeatState.PAUSED, False, False),  # already paused (e.g. asked to pause while ringing)
        (10.0, 2, SeatState.READY, False, True),  # second in a row with misses_to_pause=2
    ],
)
def test_rule_table(rang_s: float, misses_after: int, state_after: SeatState, rejected: bool, pauses: bool) -> None:
    rule = RingRule(misses_to_pause=misses_after if misses_after > 1 else 1, ring_limit_ms=10_000)
    at = T0 + timedelta(seconds=rang_s)
    miss, pause = rule.on_missed(
        _missed(at), _seat(SeatState.RINGING, misses_after - 1), _seat(state_after, misses_after, at)
    )
    assert miss is not None and miss.rejected is rejected and miss.ring_ms == rang_s * 1000
    assert (pause is not None) is pauses


@pytest.mark.parametrize(
    ("miss_reset", "after_answer", "after_resume"),
    [("answered_or_resumed", 0, 0), ("answered", 0, 1), ("resumed", 1, 0)],
)
def test_what_resets_the_count(miss_reset: str, after_answer: int, after_resume: int) -> None:
    def fresh() -> SeatBook:
        book = SeatBook(miss_reset=miss_reset)
        book.restore([_seat(SeatState.READY, 1)])
        return book

    book = fresh()
    for e in events("answered_call.jsonl"):
        book.apply(e)
    assert book.get("8001").misses_in_row == after_answer  # type: ignore[union-attr]

    book = fresh()
    member = ev.Member("hotline", "PJSIP/8001", "8001", True, "未接", False, 1, 0)
    book.apply(ev.MemberPaused(T0, member))
    book.apply(ev.MemberPaused(T0, replace(member, paused=False, pause_reason=None)))
    assert book.get("8001").misses_in_row == after_resume  # type: ignore[union-attr]


def test_unknown_reset_is_refused() -> None:
    with pytest.raises(ValueError, match="miss_reset"):
        SeatBook(miss_reset="never")
