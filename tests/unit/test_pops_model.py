"""The screen pop model, with tables: pure, no I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.snapshots import CallSnapshot
from hotline.pops.model import (
    EndReason,
    Pop,
    PopState,
    advance,
    draft_ticket,
    ivr_choices,
    open_pop,
    order_history,
    step,
    waited_ms,
)

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
S = CallState


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def call(state: CallState = S.RINGING, seat: str | None = "8001", **more: Any) -> CallSnapshot:
    base = CallSnapshot(
        call_id="c1", state=state, caller_number="13800138000", caller_name="张三", dialed="12345", started_at=T0,
        queue="hotline", queued_at=at(5), seat=seat, ring_started_at=at(12) if seat else None,
    )  # fmt: skip
    return replace(base, **more)


HISTORY = [
    {"id": 7, "status": "已办结", "unit": "市住建局", "created_at": T0 - timedelta(days=1)},
    {"id": 6, "status": "办理中", "unit": "区城管局", "created_at": T0 - timedelta(days=3)},
    {"id": 5, "status": "closed", "unit": "市交通局"},
    {"id": 4, "status": "已受理", "unit": "市水务局", "amount": Decimal("1.50")},
]


def ringing_pop(seat: str = "8001") -> Pop:
    return open_pop(call(seat=seat), seat, HISTORY, {"result": "满意", "at": T0}, received=1.5)


def test_open_pop_carries_what_the_seat_needs() -> None:
    pop = ringing_pop()
    data = pop.to_json()
    assert data["state"] == "ringing" and data["rev"] == 1 and data["seat"] == "8001" and data["call_id"] == "c1"
    assert data["caller_number"] == "13800138000" and data["caller_name"] == "张三"
    assert data["waited_ms"] == 7000  # queued at 5 s, rang at 12 s
    assert data["rang_at"] == at(12).isoformat() and data["queued_at"] == at(5).isoformat()
    assert [t["id"] for t in data["history"]] == [6, 4, 7, 5]  # open first, each group in the store's order
    assert [t["open"] for t in data["history"]] == [True, True, False, False]
    assert data["open_tickets"] == 2
    assert data["history"][2]["created_at"] == (T0 - timedelta(days=1)).isoformat()  # JSON-ready
    assert data["history"][1]["amount"] == "1.50"
    assert data["last_callback"] == {"result": "满意", "at": T0.isoformat()}
    assert data["draft"] == {
        "call_id": "c1", "caller_number": "13800138000", "seat": "8001", "category": None, "unit": None,
        "summary": "", "status": "draft", "ivr": [],
    }  # fmt: skip
    assert data["received"] == 1.5 and data["end_reason"] is None and data["history_error"] is None


def test_a_call_found_talking_opens_answered() -> None:
    pop = open_pop(call(S.TALKING, answered_at=at(15), wait_ms=10000), "8001", [], None)
    assert pop.state is PopState.ANSWERED and pop.answered_at == at(15) and pop.waited_ms == 10000


@pytest.mark.parametrize(
    ("ticket", "expected"),
    [
        ({"status": "办理中"}, True),
        ({"status": "已办结"}, False),
        ({"status": "Closed "}, False),
        ({"status": "closed", "open": True}, True),  # the store's own flag wins
        ({"status": "办理中", "open": False}, False),
        ({}, True),
    ],
)
def test_open_or_closed(ticket: dict[str, Any], expected: bool) -> None:
    assert order_history([ticket])[0]["open"] is expected


@pytest.mark.parametrize(
    ("snapshot", "expected"),
    [
        (call(S.RINGING), 7000),  # join -> this ring
        (call(S.TALKING, wait_ms=9000), 9000),  # measured by the call model at the answer
        (call(S.QUEUED, seat=None), None),  # not ringing anywhere: no end yet
        (call(S.ARRIVING, seat=None, queued_at=None), None),
        (call(S.RINGING, queued_at=at(20)), 0),  # clocks never make it negative
    ],
)
def test_waited(snapshot: CallSnapshot, expected: int | None) -> None:
    assert waited_ms(snapshot) == expected


@pytest.mark.parametrize(
    ("ivr", "expected"),
    [(None, ()), ("", ()), ("2 咨询/1 社保", ("2 咨询", "1 社保")), ("3/ /1", ("3", "1"))],
)
def test_ivr_choices(ivr: str | None, expected: tuple[str, ...]) -> None:
    assert ivr_choices(call(ivr=ivr)) == expected
    assert draft_ticket(call(ivr=ivr), "8001")["ivr"] == list(expected)


NOW = at(30)


@pytest.mark.parametrize(
    ("name", "pop_state", "snapshot", "state", "reason"),
    [
        ("answered here", PopState.RINGING, call(S.TALKING, answered_at=at(14), wait_ms=9000), PopState.ANSWERED,
         None),
        ("still ringing", PopState.RINGING, call(S.RINGING), None, None),
        ("rang out here", PopState.RINGING, call(S.QUEUED, seat=None, misses=1), PopState.ENDED, EndReason.MISSED),
        ("next seat rings", PopState.RINGING, call(S.RINGING, seat="8002"), PopState.ENDED, EndReason.MISSED),
        ("another seat took it", PopState.RINGING, call(S.TALKING, seat="8002"), PopState.ENDED, EndReason.MISSED),
        ("caller gave up while it rang", PopState.RINGING,
         call(S.ENDED, ended_at=at(20), outcome=CallOutcome.ABANDONED), PopState.ENDED, EndReason.ABANDONED),
        ("ended while the bridge was away", PopState.RINGING,
         call(S.ENDED, ended_at=at(20), outcome=CallOutcome.UNKNOWN), PopState.ENDED, EndReason.UNKNOWN),
        ("seat hung up", PopState.ANSWERED, call(S.AFTER_SEAT), PopState.ENDED, EndReason.HUNG_UP),
        ("call ended after talking", PopState.ANSWERED,
         call(S.ENDED, ended_at=at(40), outcome=CallOutcome.ANSWERED), PopState.ENDED, EndReason.HUNG_UP),
        ("still talking", PopState.ANSWERED, call(S.TALKING), None, None),
        ("answer seen late: after-seat straight from ringing", PopState.RINGING, call(S.AFTER_SEAT, answered_at=at(14)),
         PopState.ENDED, EndReason.HUNG_UP),
    ],
)  # fmt: skip
def test_advance(
    name: str, pop_state: PopState, snapshot: CallSnapshot, state: PopState | None, reason: EndReason | None
) -> None:
    pop = replace(ringing_pop(), state=pop_state)
    nxt = advance(pop, snapshot, NOW)
    if state is None:
        assert nxt is None, name
        return
    assert nxt is not None, name
    assert (nxt.state, nxt.end_reason, nxt.rev) == (state, reason, 2), name
    assert nxt.seat == "8001" and nxt.history == pop.history and nxt.draft == pop.draft, name


def test_ended_times_and_waits() -> None:
    pop = ringing_pop()
    answered = advance(pop, call(S.TALKING, answered_at=at(14), wait_ms=9000), NOW)
    assert answered is not None and answered.answered_at == at(14) and answered.waited_ms == 9000
    over = advance(answered, call(S.ENDED, ended_at=at(40), outcome=CallOutcome.ANSWERED, wait_ms=9000), NOW)
    assert over is not None and over.ended_at == at(40) and over.rev == 3 and over.answered_at == at(14)
    missed = advance(pop, call(S.QUEUED, seat=None), NOW)
    assert missed is not None and missed.ended_at == NOW and missed.answered_at is None and missed.waited_ms == 7000
    assert advance(over, call(S.ENDED), NOW) is None  # ended is final


@pytest.mark.parametrize(
    ("name", "has_pop", "snapshot", "update", "open_seat"),
    [
        ("first ring", False, call(S.RINGING), None, "8001"),
        ("found talking", False, call(S.TALKING), None, "8001"),
        ("queued, no pop", False, call(S.QUEUED, seat=None), None, None),
        ("after the seat, no pop", False, call(S.AFTER_SEAT), None, None),
        ("same ring again", True, call(S.RINGING), None, None),
        ("missed, then the next seat", True, call(S.RINGING, seat="8002"), PopState.ENDED, "8002"),
        ("answered", True, call(S.TALKING), PopState.ANSWERED, None),
    ],
)
def test_step(name: str, has_pop: bool, snapshot: CallSnapshot, update: PopState | None, open_seat: str | None) -> None:
    s = step(ringing_pop() if has_pop else None, snapshot, NOW)
    assert (s.update.state if s.update else None, s.open_seat) == (update, open_seat), name


def test_the_same_seat_rings_again_after_a_miss() -> None:
    """leastrecent with misses_to_pause > 1: the seat that missed it rings again: a new pop there."""
    missed = advance(ringing_pop(), call(S.QUEUED, seat=None), NOW)
    s = step(missed, call(S.RINGING, seat="8001", ring_started_at=at(25)), NOW)
    assert s.update is None and s.open_seat == "8001"
