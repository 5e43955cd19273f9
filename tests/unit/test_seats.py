"""The seat model, replayed from real transcripts and from plain tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ami_bridge import events as ev
from ami_bridge.constants import CallKind, SeatState
from ami_bridge.seats import SeatBook
from ami_bridge.snapshots import SeatSnapshot
from ami_bridge.sync import Busy
from tests.helpers.transcripts import events

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def replay(name: str, wrapup_s: int = 5) -> tuple[SeatBook, list[SeatSnapshot]]:
    book = SeatBook(wrapup_s=wrapup_s)
    history: list[SeatSnapshot] = []
    for event in events(name):
        history += book.apply(event)
    return book, history


def states(history: list[SeatSnapshot], seat: str) -> list[SeatState]:
    out: list[SeatState] = []
    for snap in history:
        if snap.seat == seat and (not out or out[-1] is not snap.state):
            out.append(snap.state)
    return out


def test_answered_call_seat_states() -> None:
    book, history = replay("answered_call.jsonl")
    assert states(history, "8001") == [SeatState.READY, SeatState.RINGING, SeatState.TALKING, SeatState.WRAP_UP]
    wrap = book.get("8001")
    assert wrap is not None and wrap.call_id is None and wrap.since is not None
    assert book.expire(wrap.since + timedelta(seconds=4)) == []
    (ready,) = book.expire(wrap.since + timedelta(seconds=5))
    assert ready.state is SeatState.READY


def test_missed_seat_counts_a_miss() -> None:
    book, history = replay("missed_call.jsonl")
    assert states(history, "8001") == [SeatState.READY, SeatState.RINGING, SeatState.READY]
    assert book.get("8001").misses_in_row == 1  # type: ignore[union-attr]
    assert book.get("8002").state is SeatState.WRAP_UP  # type: ignore[union-attr]
    assert book.get("8002").misses_in_row == 0  # type: ignore[union-attr]


def test_caller_gone_while_ringing_frees_the_seat() -> None:
    book, history = replay("abandoned_call.jsonl")
    assert states(history, "8001") == [SeatState.READY, SeatState.RINGING, SeatState.READY]
    assert book.get("8001").misses_in_row == 0  # type: ignore[union-attr]


def _member(seat: str, paused: bool = False, reason: str = "") -> ev.Member:
    return ev.Member("hotline", f"PJSIP/{seat}", seat, paused, reason or None, False, 1, 0)


@pytest.mark.parametrize(
    ("start_paused", "events_", "expected"),
    [
        (False, [ev.MemberPaused(T0, _member("8001", True, "小休"))], (SeatState.PAUSED, "小休")),
        (True, [ev.MemberPaused(T0, _member("8001", False))], (SeatState.READY, None)),
        (False, [ev.MemberRemoved(T0, _member("8001"))], (SeatState.LOGGED_OUT, None)),
        (True, [], (SeatState.PAUSED, "培训")),
    ],
)
def test_membership_table(start_paused: bool, events_: list, expected: tuple) -> None:
    book = SeatBook()
    book.apply(ev.MemberAdded(T0, _member("8001", start_paused, "培训" if start_paused else "")))
    for e in events_:
        book.apply(e)
    snap = book.get("8001")
    assert snap is not None and (snap.state, snap.pause_reason) == expected


def test_pause_during_a_call_waits_for_the_call_to_end() -> None:
    book = SeatBook()
    paused = False
    for e in events("answered_call.jsonl"):
        if paused and isinstance(e, ev.MemberStatus):  # Asterisk reports the pause from then on
            e = ev.MemberStatus(e.at, replace(e.member, paused=True, pause_reason="会议"))
        book.apply(e)
        if isinstance(e, ev.SeatConnected):
            book.apply(ev.MemberPaused(e.at, _member("8001", True, "会议")))
            paused = True
            assert book.get("8001").state is SeatState.TALKING  # type: ignore[union-attr]
    assert book.get("8001").state is SeatState.PAUSED  # type: ignore[union-attr]
    assert book.get("8001").pause_reason == "会议"  # type: ignore[union-attr]


def test_resync_from_asterisk_members() -> None:
    book = SeatBook()
    book.apply(ev.MemberAdded(T0, _member("8001")))
    book.apply(ev.MemberAdded(T0, _member("8003")))
    changed = book.resync(
        [_member("8001", True, "未接"), _member("8002")],
        {"8002": Busy(SeatState.TALKING, "c1", CallKind.INBOUND)},
        T0 + timedelta(1),
    )
    got = {s.seat: (s.state, s.pause_reason, s.call_id) for s in changed}
    assert got == {
        "8001": (SeatState.PAUSED, "未接", None),
        "8002": (SeatState.TALKING, None, "c1"),
        "8003": (SeatState.LOGGED_OUT, None, None),
    }


@pytest.mark.parametrize(
    ("last_call_ago_s", "expected"),
    [
        (None, SeatState.READY),  # Asterisk restarted: it forgot the wrap-up, so the seat rings again now
        (2, SeatState.WRAP_UP),  # still inside Asterisk's 5 s wrap-up
        (6, SeatState.READY),  # wrap-up over
    ],
)
def test_resync_wrap_up_follows_asterisk_last_call(last_call_ago_s: int | None, expected: SeatState) -> None:
    book = SeatBook(wrapup_s=5)
    book.restore([SeatSnapshot("8001", SeatState.WRAP_UP, "PJSIP/8001", since=T0)])
    now = T0 + timedelta(seconds=1)
    last = None if last_call_ago_s is None else now - timedelta(seconds=last_call_ago_s)
    book.resync([replace(_member("8001"), last_call=last)], {}, now)
    snap = book.get("8001")
    assert snap is not None and snap.state is expected
    if expected is SeatState.WRAP_UP:
        assert snap.since == last  # wrap-up ends when Asterisk's does


def test_late_agent_complete_after_the_seat_hung_up_is_harmless() -> None:
    """Asterisk may report the seat leg's Hangup before AgentComplete (seen live in the demo)."""
    evs = events("answered_call.jsonl")
    done = next(i for i, e in enumerate(evs) if isinstance(e, ev.SeatCompleted))
    seat_leg = evs[done].seat_leg.uniqueid  # type: ignore[union-attr]
    hangup = next(i for i, e in enumerate(evs) if isinstance(e, ev.ChannelHungUp) and e.channel.uniqueid == seat_leg)
    assert hangup > done, "the recorded order changed: the test needs a new transcript"
    evs.insert(done, evs.pop(hangup))
    book = SeatBook(wrapup_s=5)
    for e in evs:
        book.apply(e)  # raises IllegalSeatTransition if the late AgentComplete is refused
    assert book.get("8001").state is SeatState.WRAP_UP  # type: ignore[union-attr]


def test_a_seat_rung_just_as_it_was_paused_rings_and_is_paused_after() -> None:
    """Asterisk may ring a seat whose pause (未接, after a miss) lands a moment later; seen in bench.ring as
    an illegal event that forced a resync."""
    book = SeatBook()
    rung = False
    for e in events("missed_call.jsonl"):
        if rung and isinstance(e, ev.MemberStatus) and e.member.seat == "8001":  # Asterisk reports the pause
            e = ev.MemberStatus(e.at, replace(e.member, paused=True, pause_reason="未接"))
        if isinstance(e, ev.SeatCalled) and e.seat == "8001" and not rung:
            book.apply(ev.MemberPaused(e.at, _member("8001", True, "未接")))
            assert book.get("8001").state is SeatState.PAUSED  # type: ignore[union-attr]
            rung = True
        book.apply(e)
        if rung and isinstance(e, ev.SeatCalled) and e.seat == "8001":
            assert book.get("8001").state is SeatState.RINGING  # type: ignore[union-attr]
    after = book.get("8001")
    assert after is not None and after.state is SeatState.PAUSED and after.pause_reason == "未接"


def _own(uid: str, seat: str, state: int, kind: str | None) -> ev.Channel:
    return ev.Channel(uid, uid, f"PJSIP/{seat}-{uid}", state, seat, None, "dialer", "citizen", None, None,
                      kind_var=kind)  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "paused"),
    [(CallKind.CALLBACK, False), (CallKind.OUTBOUND, True), (CallKind.INTERNAL, False)],
)
def test_a_seat_on_a_call_not_from_the_queue_is_busy_with_its_kind(kind: CallKind, paused: bool) -> None:
    """A 回访 the dialer rang the seat for, its own call out (from a pause too), another seat: busy, then back."""
    book = SeatBook(wrapup_s=5)
    book.apply(ev.MemberAdded(T0, _member("8001", paused, "小休" if paused else "")))
    assert book.apply(ev.ChannelStateChanged(T0, _own("7.1", "8001", 5, kind.value))) == []  # ringing: not yet
    assert book.apply(ev.ChannelStateChanged(T0, _own("7.2", "8009", 6, kind.value))) == []  # not a logged-in seat
    (talking,) = book.apply(ev.ChannelStateChanged(T0 + timedelta(seconds=2), _own("7.1", "8001", 6, kind.value)))
    assert (talking.state, talking.call_kind, talking.call_id) == (SeatState.TALKING, kind, "7.1")
    assert book.apply(ev.ChannelStateChanged(T0, _own("7.3", "8001", 6, "outbound"))) == []  # a second call
    (after,) = book.apply(ev.ChannelHungUp(T0 + timedelta(seconds=60), _own("7.1", "8001", 6, kind.value), 16))
    # no wrap-up after a call of its own (the queue's wrap-up is for its citizens' calls)
    assert (after.state, after.call_kind) == ((SeatState.PAUSED, None) if paused else (SeatState.READY, None))


def test_a_channel_with_no_kind_is_not_the_seats_own_call() -> None:
    book = SeatBook()
    book.apply(ev.MemberAdded(T0, _member("8001")))
    assert book.apply(ev.ChannelStateChanged(T0, _own("7.1", "8001", 6, None))) == []  # a queue leg: AgentConnect
    assert book.apply(ev.ChannelStateChanged(T0, _own("7.1", "8001", 6, "dancing"))) == []


def test_after_a_restart_the_seats_own_call_comes_back_from_the_channels() -> None:
    book = SeatBook(wrapup_s=5)
    (seat,) = book.resync([_member("8001")], {"8001": Busy(SeatState.TALKING, "cb-3-1", CallKind.CALLBACK, "9.1")}, T0)
    assert (seat.state, seat.call_kind, seat.call_id) == (SeatState.TALKING, CallKind.CALLBACK, "cb-3-1")
    (after,) = book.apply(ev.ChannelHungUp(T0 + timedelta(seconds=30), _own("9.1", "8001", 6, "callback"), 16))
    assert after.state is SeatState.READY  # its channel was known: its hangup ends the call
