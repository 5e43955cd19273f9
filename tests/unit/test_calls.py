"""The call model, replayed from real Asterisk 22 transcripts and from plain tables."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from ami_bridge import events as ev
from ami_bridge.calls import TRANSITIONS, AsteriskRun, CallBook, IllegalTransition, finish
from ami_bridge.constants import CallOutcome, CallState, LegRole, SeatState
from ami_bridge.snapshots import CallSnapshot
from tests.helpers.transcripts import events

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def replay(name: str) -> tuple[CallBook, list]:
    book = CallBook()
    history = []
    for event in events(name):
        history += book.apply(event)
    return book, history


def test_answered_call() -> None:
    book, history = replay("answered_call.jsonl")
    states = [s.state for s in history]
    assert states[0] is CallState.ARRIVING
    # the call went through each state in order
    order = [
        CallState.ARRIVING,
        CallState.QUEUED,
        CallState.RINGING,
        CallState.TALKING,
        CallState.AFTER_SEAT,
        CallState.ENDED,
    ]
    assert [s for i, s in enumerate(states) if i == 0 or s is not states[i - 1]] == order
    call = history[-1]
    assert call.outcome is CallOutcome.ANSWERED
    assert call.seat == "8001"
    assert call.caller_number == "13800138000"
    assert call.dialed == "12345"
    # the sipp seat answers 2 s after its 180: measured from Asterisk's own timestamps
    assert call.ring_ms is not None and 1900 <= call.ring_ms <= 2600
    assert call.wait_ms is not None and call.wait_ms >= call.ring_ms
    roles = sorted(leg.role for leg in call.legs)
    assert roles == sorted([LegRole.CITIZEN, LegRole.SEAT])
    assert all(leg.ended_at is not None and leg.hangup_cause == 16 for leg in call.legs)
    assert book.active() == []


def test_missed_then_answered_by_next_seat() -> None:
    _, history = replay("missed_call.jsonl")
    ringing = [s.seat for s in history if s.state is CallState.RINGING]
    assert ringing[0] == "8001" and ringing[-1] == "8002"
    assert any(s.state is CallState.QUEUED and s.ring_started_at is None for s in history[3:])  # back to queue
    call = history[-1]
    assert call.outcome is CallOutcome.ANSWERED and call.seat == "8002"
    assert call.ring_ms is not None and call.ring_ms < 2500  # 8002's own ring, not 8001's 10 s
    assert call.wait_ms is not None and call.wait_ms > 11000  # 10 s at 8001, 1 s retry, then 8002
    assert len({leg.uniqueid for leg in call.legs}) == 3  # citizen, 8001's leg, 8002's leg


def test_abandoned_while_ringing() -> None:
    _, history = replay("abandoned_call.jsonl")
    call = history[-1]
    assert call.state is CallState.ENDED
    assert call.outcome is CallOutcome.ABANDONED
    assert call.answered_at is None and call.wait_ms is not None and call.wait_ms > 0


def _chan(uid: str, linked: str, name: str = "PJSIP/carrier-in-1", context: str = "from-carrier") -> ev.Channel:
    return ev.Channel(uid, linked, name, 6, "13900139000", None, context, "12345", None, None)


def test_illegal_event_is_a_named_error() -> None:
    book = CallBook()
    citizen = _chan("1.0", "1.0")
    book.apply(ev.ChannelCreated(T0, citizen))
    seat = _chan("1.1", "1.0", "PJSIP/8001-1", "seats")
    with pytest.raises(IllegalTransition, match=r"call 1\.0: SeatConnected not allowed in state arriving"):
        book.apply(ev.SeatConnected(T0, citizen, seat, "hotline", "PJSIP/8001", "8001", 0))


def test_transition_table_is_closed() -> None:
    """Every state reached by the table is a CallState, and ENDED is reached only by hang-up."""
    assert all(isinstance(nxt, CallState) for nxt in TRANSITIONS.values())
    assert CallState.ENDED not in TRANSITIONS.values()


def test_channels_outside_a_citizen_call_are_ignored() -> None:
    book = CallBook()
    assert book.apply(ev.ChannelCreated(T0, _chan("9.0", "9.0", "PJSIP/8001-9", "seats"))) == []


def test_relinked_leg_merges_calls_and_keeps_older_id() -> None:
    book = CallBook()
    book.apply(ev.ChannelCreated(T0, _chan("1.0", "1.0")))
    book.apply(ev.ChannelCreated(T0 + timedelta(seconds=5), _chan("2.0", "2.0", "PJSIP/carrier-in-2")))
    # a bridge makes leg 2.0 take the older linkedid: the two calls become one
    merged = book.apply(ev.ChannelStateChanged(T0 + timedelta(seconds=6), _chan("2.0", "1.0", "PJSIP/carrier-in-2")))
    assert merged[-1].call_id == "1.0"
    assert {leg.uniqueid for leg in merged[-1].legs} == {"1.0", "2.0"}
    assert book.get("2.0") is None


def test_resync_ends_calls_that_vanished_and_keeps_live_timestamps() -> None:
    live = CallBook()
    start_events = events("answered_call.jsonl")
    for e in start_events:
        live.apply(e)
        if isinstance(e, ev.SeatConnected):
            break
    talking = live.active()[0]
    assert talking.state is CallState.TALKING
    now = talking.answered_at + timedelta(seconds=30)
    # Asterisk still has the call, with coarse times: live measurements are kept
    coarse = replace(talking, started_at=now, answered_at=now, ring_ms=None)
    (kept,) = live.resync([coarse], now)
    assert kept.started_at == talking.started_at and kept.ring_ms == talking.ring_ms
    # Asterisk no longer has it: it ended while we were away
    (gone,) = live.resync([], now)
    assert gone.state is CallState.ENDED and gone.outcome is CallOutcome.ANSWERED and gone.ended_at == now


def _talking_call() -> tuple[CallBook, CallSnapshot]:
    live = CallBook()
    for e in events("answered_call.jsonl"):
        live.apply(e)
        if isinstance(e, ev.SeatConnected):
            break
    return live, live.active()[0]


def test_a_call_asterisk_stopped_under_ends_cut_when_the_link_was_lost() -> None:
    """Asterisk killed mid-call: no hangup handler ran. The bridge saw the link drop (lost_at), and the new
    Asterisk started after the call began: the call ends `cut` at the link's loss (estimated), answer kept."""
    live, talking = _talking_call()
    lost = talking.answered_at + timedelta(seconds=20)  # type: ignore[operator]
    relinked = lost + timedelta(seconds=3)
    run = AsteriskRun.at_login(relinked, 2, lost)  # the new Asterisk: up 2 s at login
    (gone,) = live.resync([], relinked, run=run)
    assert (gone.state, gone.outcome, gone.ended_at) == (CallState.ENDED, CallOutcome.CUT, lost)
    assert gone.answered_at == talking.answered_at and "ended_at" in gone.estimated


def test_a_call_asterisk_stopped_under_while_no_bridge_ran_ends_cut_at_asterisks_start() -> None:
    _, talking = _talking_call()
    relinked = talking.started_at + timedelta(minutes=5)
    run = AsteriskRun.at_login(relinked, 60, None)  # this process never saw the link: it started after
    done = finish(talking, None, run.cut_at(talking), cut=True)
    assert done.outcome is CallOutcome.CUT and done.ended_at == relinked - timedelta(seconds=61)
    assert run.cut_at(replace(talking, started_at=relinked - timedelta(seconds=30))) is None  # began on this one


def test_a_call_gone_while_the_same_asterisk_ran_is_not_cut() -> None:
    live, talking = _talking_call()
    now = talking.started_at + timedelta(minutes=1)
    run = AsteriskRun.at_login(now, 3600, now - timedelta(seconds=5))  # a network blip: Asterisk up for an hour
    (gone,) = live.resync([], now, run=run)
    assert gone.outcome is CallOutcome.ANSWERED and gone.ended_at == now and "ended_at" in gone.estimated


def test_resync_keeps_the_misses_seen_live() -> None:
    """A resync while a call rings its second seat must not forget that the first seat missed it (the
    call would be counted as answered within two rings). Seen in bench.ring."""
    live = CallBook()
    for e in events("missed_call.jsonl"):
        live.apply(e)
        if isinstance(e, ev.SeatMissed):
            break
    ringing = live.active()[0]
    assert ringing.misses == 1
    now = T0 + timedelta(minutes=5)
    (kept,) = live.resync([replace(ringing, misses=0)], now)  # what a rebuild from CoreShowChannels says
    assert kept.misses == 1


def test_snapshots_to_json_is_asdict_with_iso_times_and_round_trips() -> None:
    from dataclasses import asdict

    from ami_bridge.snapshots import CallSnapshot, MissSnapshot, SeatSnapshot

    def iso(value: object) -> object:
        if isinstance(value, dict):
            return {k: iso(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [iso(v) for v in value]
        return value.isoformat() if isinstance(value, datetime) else value

    _, history = replay("answered_call.jsonl")
    assert history and any(s.legs for s in history)
    for snap in history:
        assert snap.to_json() == iso(asdict(snap))
        assert msgspec.json.decode(msgspec.json.encode(snap), type=CallSnapshot) == snap  # as over Redis
    seat = SeatSnapshot("8001", SeatState.READY, since=T0)
    miss = MissSnapshot("8001", "c1", T0, 10000, False, 1)
    assert seat.to_json() == iso(asdict(seat)) and miss.to_json() == iso(asdict(miss))
