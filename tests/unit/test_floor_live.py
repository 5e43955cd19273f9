"""The live floor (hotline.floor.live.FloorTracker): windows, live counts, seats, pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ami_bridge.constants import CallOutcome, CallState, SeatState
from ami_bridge.snapshots import CallSnapshot, MissSnapshot, SeatSnapshot
from hotline.floor.live import FloorTracker
from hotline.floor.stats import Targets

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 2026-11-25 10:00 in Shanghai


def local(hh: int, mm: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=SHANGHAI).astimezone(UTC)


def call(**fields: Any) -> CallSnapshot:
    """An answered, ended call at seat 8001, queued at 09:00 local today."""
    queued_at = fields.get("queued_at") or local(9)
    defaults: dict[str, Any] = {
        "call_id": "c1",
        "state": CallState.ENDED,
        "caller_number": "13800138000",
        "caller_name": None,
        "dialed": "12345",
        "started_at": queued_at - timedelta(seconds=20),
        "queue": "general",
        "queued_at": queued_at,
        "seat": "8001",
        "answered_at": queued_at + timedelta(seconds=6),
        "ended_at": queued_at + timedelta(minutes=3),
        "outcome": CallOutcome.ANSWERED,
        "ring_ms": 4000,
        "wait_ms": 6000,
    }
    return CallSnapshot(**{**defaults, **fields})


def live_call(call_id: str, state: CallState, queued_at: datetime, **fields: Any) -> CallSnapshot:
    answered = state in (CallState.TALKING, CallState.AFTER_SEAT)
    return call(
        call_id=call_id,
        state=state,
        queued_at=queued_at,
        answered_at=queued_at + timedelta(seconds=6) if answered else None,
        ended_at=None,
        outcome=None,
        ring_ms=4000 if answered else None,
        wait_ms=6000 if answered else None,
        **fields,
    )


def abandoned(call_id: str, queued_at: datetime) -> CallSnapshot:
    return call(call_id=call_id, queued_at=queued_at, seat=None, answered_at=None, outcome=CallOutcome.ABANDONED,
                ring_ms=None, wait_ms=30_000)  # fmt: skip


def ivr_call(call_id: str, started_at: datetime, **fields: Any) -> CallSnapshot:
    """A call that has not reached the queue (still in the IVR, or hung up there)."""
    unqueued = {"queue": None, "queued_at": None, "seat": None, "answered_at": None, "outcome": None, "ring_ms": None,
                "wait_ms": None}  # fmt: skip
    return call(call_id=call_id, started_at=started_at, **{**unqueued, **fields})


def miss(at: datetime, seat: str = "8002") -> MissSnapshot:
    return MissSnapshot(seat=seat, call_id="c1", at=at, ring_ms=10_000, rejected=False, misses_in_row=1)


def table(cases: list[tuple[Any, ...]]) -> list[Any]:
    """(description, *values) rows as pytest params named by their description."""
    return [pytest.param(*values, id=description) for description, *values in cases]


def tracker(*calls: CallSnapshot, misses: tuple[MissSnapshot, ...] = ()) -> FloorTracker:
    floor = FloorTracker(Targets(), SHANGHAI)
    for c in calls:
        floor.on_call(c)
    for m in misses:
        floor.on_miss(m)
    return floor


WINDOW_CASES = [
    # (description, queued at, counted today, counted in the last 24 h)
    ("today 09:00", local(9), 1, 1),
    ("today 00:00", local(0), 1, 1),
    ("yesterday 20:00", local(20, day=24), 0, 1),
    ("yesterday 23:59", local(23, 59, day=24), 0, 1),
    ("yesterday 10:00, exactly 24 h ago", local(10, day=24), 0, 1),
    ("yesterday 09:59, 24 h 1 min ago", local(9, 59, day=24), 0, 0),
]


@pytest.mark.parametrize(("queued_at", "today", "last_24h"), table(WINDOW_CASES))
def test_today_and_last_24h(queued_at: datetime, today: int, last_24h: int) -> None:
    view = tracker(call(queued_at=queued_at), misses=(miss(queued_at),)).view(NOW)
    assert (view["date"], view["timezone"], view["at"]) == ("2026-11-25", "Asia/Shanghai", "2026-11-25T02:00:00+00:00")
    assert (view["today"]["total"]["offered"], view["today"]["total"]["answered"]) == (today, today)
    assert view["today"]["total"]["misses"] == today
    assert (view["last_24h"]["offered"], view["last_24h"]["misses"]) == (last_24h, last_24h)
    assert sorted(view["today"]["queues"]) == (["general"] if today else [])


def test_today_per_queue_and_seat() -> None:
    floor = tracker(call(call_id="a"), abandoned("b", local(9, 5)), call(call_id="c", seat="8002", queue="urgent"),
                    misses=(miss(local(9, 1), seat="8001"),))  # fmt: skip
    today = floor.view(NOW)["today"]
    assert (today["total"]["offered"], today["total"]["answered"], today["total"]["lost_queued"]) == (3, 2, 1)
    assert today["queues"]["general"]["offered"] == 2
    assert today["queues"]["general"]["answer_rate"] == 0.5
    assert today["queues"]["urgent"]["answered"] == 1
    assert (today["seats"]["8001"]["offered"], today["seats"]["8001"]["answered"]) == (2, 1)
    assert today["seats"]["8001"]["misses"] == 1


def test_live_counts() -> None:
    floor = tracker(
        live_call("q", CallState.QUEUED, NOW - timedelta(seconds=90), seat=None),
        live_call("r", CallState.RINGING, NOW - timedelta(seconds=30.25)),
        live_call("t", CallState.TALKING, NOW - timedelta(minutes=10)),
        live_call("s", CallState.AFTER_SEAT, NOW - timedelta(minutes=20)),
        ivr_call("i", NOW - timedelta(seconds=200), state=CallState.ARRIVING, ended_at=None),
        call(call_id="e", queued_at=NOW - timedelta(minutes=30)),
    )  # fmt: skip
    view = floor.view(NOW)
    live = view["live"]
    assert (live["waiting"], live["ringing"], live["talking"]) == (2, 1, 1)
    assert live["longest_wait_s"] == 90.0
    assert view["today"]["total"]["waiting"] == 2
    assert (view["today"]["total"]["offered"], view["today"]["total"]["answered"]) == (3, 3)


def test_live_counts_on_a_quiet_floor() -> None:
    live = tracker(call()).view(NOW)["live"]
    assert (live["waiting"], live["ringing"], live["talking"], live["longest_wait_s"]) == (0, 0, 0, None)


def test_seat_states() -> None:
    floor = tracker()
    for seat, state in [("8001", "ready"), ("8002", "ready"), ("8003", "talking"), ("8004", "paused"),
                        ("8005", "ringing"), ("8003", "wrap_up")]:  # fmt: skip
        floor.on_seat(SeatSnapshot(seat, SeatState(state), f"PJSIP/{seat}"))
    assert floor.view(NOW)["live"]["seats"] == {
        "logged_out": 0,
        "ready": 2,
        "ringing": 1,
        "talking": 0,
        "wrap_up": 1,
        "paused": 1,
    }


def test_prune() -> None:
    old_ended = call(call_id="old", queued_at=local(9, 59, day=24))
    edge_ended = call(call_id="edge", queued_at=local(10, day=24))
    old_queued = live_call("stuck", CallState.QUEUED, local(8, day=24), seat=None)
    recent = call(call_id="recent", queued_at=local(9))
    floor = tracker(old_ended, edge_ended, old_queued, recent,
                    misses=(miss(local(9, 59, day=24)), miss(local(10, day=24)), miss(local(9))))  # fmt: skip
    floor.prune(NOW)
    assert sorted(floor.calls) == ["edge", "recent", "stuck"]
    assert sorted(m.at for m in floor.misses.values()) == [local(10, day=24), local(9)]
    assert floor.view(NOW)["live"]["longest_wait_s"] == 26 * 3600.0


@pytest.mark.parametrize(
    ("answered", "lost", "met"),
    [(20, 1, True), (19, 1, True), (18, 1, False), (0, 3, False), (0, 0, None)],
    ids=["95.2%", "exactly 95%", "94.7%", "all lost", "no calls"],
)
def test_last_24h_answer_rate_met(answered: int, lost: int, met: bool | None) -> None:
    calls = [call(call_id=f"a{i}", queued_at=local(20, i, day=24)) for i in range(answered)]
    calls += [abandoned(f"l{i}", local(21, i, day=24)) for i in range(lost)]
    last_24h = tracker(*calls).view(NOW)["last_24h"]
    assert (last_24h["offered"], last_24h["answered"], last_24h["lost"]) == (answered + lost, answered, lost)
    assert last_24h["answer_rate_met"] is met


@pytest.mark.parametrize(("wait_ms", "met"), [(15_000, True), (15_001, False)], ids=["within 15 s", "past 15 s"])
def test_last_24h_service_level_met(wait_ms: int, met: bool) -> None:
    last_24h = tracker(call(wait_ms=wait_ms)).view(NOW)["last_24h"]
    assert last_24h["service_level"] == (1.0 if met else 0.0)
    assert last_24h["service_level_met"] is met


def test_view_half_hours_lists_only_active_slots_up_to_now() -> None:
    floor = tracker(
        call(call_id="a", queued_at=local(8, 10)),
        abandoned("b", local(9, 40)),
        live_call("w", CallState.QUEUED, local(9, 50), seat=None),
        live_call("now", CallState.QUEUED, NOW, seat=None),  # joined at this instant: its slot starts now
        call(call_id="late", queued_at=local(10, 40)),  # after now: its slot has not started
        ivr_call("ivr", local(6, 5), outcome=CallOutcome.UNQUEUED),
        misses=(miss(local(7, 5)),),
    )
    slots = floor.view(NOW)["half_hours"]
    assert [s["start"] for s in slots] == [
        "2026-11-25T07:00:00+08:00",
        "2026-11-25T08:00:00+08:00",
        "2026-11-25T09:30:00+08:00",
        "2026-11-25T10:00:00+08:00",
    ]
    assert [(s["offered"], s["answered"], s["lost"], s["waiting"], s["misses"]) for s in slots] == [
        (0, 0, 0, 0, 1),
        (1, 1, 0, 0, 0),
        (1, 0, 1, 1, 0),
        (0, 0, 0, 1, 0),
    ]


def test_a_later_snapshot_replaces_the_earlier_one() -> None:
    floor = tracker(live_call("c1", CallState.QUEUED, local(9, 50), seat=None))
    assert floor.view(NOW)["live"]["waiting"] == 1
    floor.on_call(call(call_id="c1", queued_at=local(9, 50)))
    floor.on_miss(miss(local(9, 51)))
    floor.on_miss(miss(local(9, 51)))  # the same miss twice
    view = floor.view(NOW)
    assert len(floor.calls) == 1
    total = view["today"]["total"]
    assert (total["offered"], total["answered"], total["waiting"], total["misses"]) == (1, 1, 0, 1)
    assert view["live"]["waiting"] == 0
    assert view["last_24h"]["offered"] == 1


@pytest.mark.parametrize(
    ("seat_states", "queued", "flagged"),
    [
        pytest.param(["paused", "paused"], 2, 2, id="every seat paused, two callers queued"),
        pytest.param(["paused", "talking"], 1, 1, id="the rest on calls"),
        pytest.param(["paused", "ready"], 1, 0, id="a seat is ready: the queue will ring it"),
        pytest.param(["paused"], 0, 0, id="nobody waiting"),
        pytest.param([], 1, 1, id="nobody logged in"),
    ],
)
def test_callers_queued_with_no_seat_ready_are_flagged(seat_states: list[str], queued: int, flagged: int) -> None:
    floor = tracker(
        *[live_call(f"q{n}", CallState.QUEUED, NOW - timedelta(seconds=5), seat=None) for n in range(queued)]
    )
    for n, state in enumerate(seat_states):
        floor.on_seat(SeatSnapshot(f"800{n}", SeatState(state), f"PJSIP/800{n}"))
    assert floor.view(NOW)["live"]["queued_no_seat"] == flagged
