"""Floor statistics (hotline.floor.stats) from plain tables of calls and misses."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ami_bridge.constants import CallOutcome, CallState
from ami_bridge.snapshots import CallSnapshot, MissSnapshot
from hotline.floor.stats import (
    REPORT_CSV_COLUMNS,
    Figures,
    Targets,
    count_call,
    count_seat_call,
    daily_report,
    half_hours,
    report_csv_rows,
    tally,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 25)
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TARGETS = Targets()


def call(**fields: Any) -> CallSnapshot:
    """An answered call at seat 8001 by default: queued at T0, rang 4 s, waited 6 s."""
    queued_at = fields.get("queued_at", T0)
    defaults: dict[str, Any] = {
        "call_id": "c1",
        "state": CallState.ENDED,
        "caller_number": "13800138000",
        "caller_name": None,
        "dialed": "12345",
        "started_at": (queued_at or T0) - timedelta(seconds=20),
        "queue": "general",
        "queued_at": queued_at,
        "seat": "8001",
        "answered_at": (queued_at or T0) + timedelta(seconds=6),
        "outcome": CallOutcome.ANSWERED,
        "ring_ms": 4000,
        "wait_ms": 6000,
    }
    return CallSnapshot(**{**defaults, **fields})


def miss(seat: str = "8002", at: datetime = T0, call_id: str = "c1") -> MissSnapshot:
    return MissSnapshot(seat=seat, call_id=call_id, at=at, ring_ms=10_000, rejected=False, misses_in_row=1)


def table(cases: list[tuple[Any, ...]]) -> list[Any]:
    """(description, *values) rows as pytest params named by their description."""
    return [pytest.param(*values, id=description) for description, *values in cases]


def figures(**counters: int) -> dict[str, Any]:
    return asdict(Figures(**counters))


ABANDONED = {"answered_at": None, "outcome": CallOutcome.ABANDONED, "ring_ms": None}
ANSWERED_TIMES = {"wait_ms_total": 6000, "wait_count": 1, "ring_ms_total": 4000, "ring_count": 1}
FAST = {"offered": 1, "answered": 1, "within_two_rings": 1, "within_service_level": 1}

COUNT_CALL_CASES = [
    ("answered fast", {}, {**FAST, **ANSWERED_TIMES}),
    ("answered after a miss elsewhere", {"misses": 1}, {**FAST, "within_two_rings": 0, **ANSWERED_TIMES}),
    ("ring exactly at the limit", {"ring_ms": 10_000},
     {**FAST, "wait_ms_total": 6000, "wait_count": 1, "ring_ms_total": 10_000, "ring_count": 1}),
    ("ring 1 ms past the limit", {"ring_ms": 10_001},
     {**FAST, "within_two_rings": 0, "wait_ms_total": 6000, "wait_count": 1, "ring_ms_total": 10_001, "ring_count": 1}),
    ("ring not measured", {"ring_ms": None}, {**FAST, "within_two_rings": 0, "wait_ms_total": 6000, "wait_count": 1}),
    ("wait exactly 15 s", {"wait_ms": 15_000}, {**FAST, **ANSWERED_TIMES, "wait_ms_total": 15_000}),
    ("wait 15.001 s", {"wait_ms": 15_001},
     {**FAST, "within_service_level": 0, **ANSWERED_TIMES, "wait_ms_total": 15_001}),
    ("still talking counts as answered", {"state": CallState.TALKING, "outcome": None}, {**FAST, **ANSWERED_TIMES}),
    ("abandoned while queued", {**ABANDONED, "seat": None, "wait_ms": 30_000},
     {"offered": 1, "lost": 1, "lost_queued": 1, "wait_ms_total": 30_000, "wait_count": 1}),
    ("abandoned while a seat rang", {**ABANDONED, "seat": "8002", "ring_ms": 5000, "wait_ms": 8000},
     {"offered": 1, "lost": 1, "lost_ringing": 1, "wait_ms_total": 8000, "wait_count": 1}),
    ("hung up in the IVR", {"queued_at": None, "queue": None, "seat": None, "answered_at": None,
                            "outcome": CallOutcome.UNQUEUED, "ring_ms": None, "wait_ms": None}, {}),
    ("still queued", {"state": CallState.QUEUED, "seat": None, "answered_at": None, "outcome": None,
                      "ring_ms": None, "wait_ms": None}, {"waiting": 1}),
    ("still ringing", {"state": CallState.RINGING, "answered_at": None, "outcome": None, "ring_ms": None,
                       "wait_ms": None}, {"waiting": 1}),
    ("outcome unknown", {"answered_at": None, "outcome": CallOutcome.UNKNOWN, "ring_ms": None, "wait_ms": None},
     {"unknown": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "expected"), table(COUNT_CALL_CASES))
def test_count_call(fields: dict[str, Any], expected: dict[str, int]) -> None:
    result = Figures()
    count_call(result, call(**fields), TARGETS)
    assert asdict(result) == figures(**expected)


SEAT_CASES = [
    ("answered after a miss elsewhere: the seat's own ring is within two rings", {"misses": 1},
     {**FAST, **ANSWERED_TIMES}),
    ("answered with a long ring", {"ring_ms": 12_000},
     {**FAST, "within_two_rings": 0, "wait_ms_total": 6000, "wait_count": 1, "ring_ms_total": 12_000, "ring_count": 1}),
    ("abandoned while it rang: no times at the seat", {**ABANDONED, "wait_ms": 8000},
     {"offered": 1, "lost": 1, "lost_ringing": 1}),
    ("ringing now", {"state": CallState.RINGING, "answered_at": None, "outcome": None, "ring_ms": None,
                     "wait_ms": None}, {"waiting": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "expected"), table(SEAT_CASES))
def test_seat_figures(fields: dict[str, Any], expected: dict[str, int]) -> None:
    result = tally([call(**fields)], [], TARGETS)
    assert asdict(result.seats["8001"]) == figures(**expected)


def test_tally_per_queue_and_seat_with_misses() -> None:
    calls = [
        call(call_id="a", queue="general", seat="8001", ring_ms=4000, wait_ms=6000),
        call(call_id="b", queue="general", seat="8002", ring_ms=8000, wait_ms=20_000, misses=1),
        call(call_id="c", queue="urgent", seat=None, wait_ms=28_000, **ABANDONED),
        call(call_id="d", queue="urgent", seat=None, state=CallState.QUEUED, answered_at=None, outcome=None,
             ring_ms=None, wait_ms=None),
    ]  # fmt: skip
    result = tally(calls, [miss("8001", call_id="b"), miss("8003", call_id="c")], TARGETS)

    total = result.total
    assert (total.offered, total.answered, total.lost, total.lost_queued, total.waiting) == (3, 2, 1, 1, 1)
    assert (total.within_two_rings, total.within_service_level, total.misses) == (1, 1, 2)
    assert total.answer_rate == pytest.approx(2 / 3)
    assert total.two_ring_share == 0.5
    assert total.service_level == pytest.approx(1 / 3)
    assert total.avg_wait_s == pytest.approx((6 + 20 + 28) / 3)
    assert total.avg_ring_s == 6.0  # only answered calls' rings
    assert total.to_json()["service_level"] == 0.3333
    assert total.to_json()["avg_wait_s"] == 18.0

    assert sorted(result.queues) == ["general", "urgent"]
    assert (result.queues["general"].offered, result.queues["general"].answered) == (2, 2)
    assert (result.queues["urgent"].offered, result.queues["urgent"].lost_queued) == (1, 1)
    assert result.queues["urgent"].waiting == 1

    assert sorted(result.seats) == ["8001", "8002", "8003"]
    s1, s2, s3 = result.seats["8001"], result.seats["8002"], result.seats["8003"]
    assert (s1.offered, s1.answered, s1.misses) == (2, 1, 1)  # the miss is the seat's offer too
    assert s1.answer_rate == 0.5
    assert (s2.offered, s2.answered, s2.within_two_rings, s2.misses) == (1, 1, 1, 0)
    assert (s3.offered, s3.answered, s3.misses) == (1, 0, 1)
    assert result.to_json()["seats"]["8003"]["answer_rate"] == 0.0


def test_rates_are_none_without_denominators() -> None:
    empty = Figures()
    assert (empty.answer_rate, empty.two_ring_share, empty.service_level) == (None, None, None)
    assert (empty.avg_wait_s, empty.avg_ring_s) == (None, None)
    lost_only = Figures(offered=2, lost=2)
    assert (lost_only.answer_rate, lost_only.service_level, lost_only.two_ring_share) == (0.0, 0.0, None)
    waiting_only = tally([call(answered_at=None, outcome=None, state=CallState.QUEUED)], [], TARGETS).total
    assert waiting_only.to_json()["answer_rate"] is None


def local(hh: int, mm: int, ss: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI).astimezone(UTC)


def test_half_hours_has_48_local_slots() -> None:
    slots = half_hours([], [], DAY, SHANGHAI, TARGETS)
    assert len(slots) == 48
    assert slots[0][0].isoformat() == "2026-11-25T00:00:00+08:00"
    assert slots[19][0].isoformat() == "2026-11-25T09:30:00+08:00"
    assert slots[-1][0].isoformat() == "2026-11-25T23:30:00+08:00"
    assert all(asdict(f) == figures() for _, f in slots)


HALF_HOUR_CASES = [
    ("09:29:59 local is in 09:00", local(9, 29, 59), DAY, 18),
    ("09:30:00 local is in 09:30", local(9, 30), DAY, 19),
    ("17:10Z on the 24th is 01:10 on the 25th", datetime(2026, 11, 24, 17, 10, tzinfo=UTC), DAY, 2),
    ("23:59Z on the 24th is 07:59 on the 25th", datetime(2026, 11, 24, 23, 59, tzinfo=UTC), DAY, 15),
    ("23:59:59 local on the 24th is its last slot", datetime(2026, 11, 24, 15, 59, 59, tzinfo=UTC),
     date(2026, 11, 24), 47),
    ("17:10Z on the 24th is not on the 24th", datetime(2026, 11, 24, 17, 10, tzinfo=UTC), date(2026, 11, 24), None),
    ("16:00Z on the 25th is the 26th", datetime(2026, 11, 25, 16, 0, tzinfo=UTC), DAY, None),
]  # fmt: skip


@pytest.mark.parametrize(("at", "day", "index"), table(HALF_HOUR_CASES))
def test_half_hour_of_a_call_and_a_miss(at: datetime, day: date, index: int | None) -> None:
    slots = half_hours([call(queued_at=at)], [miss(at=at)], day, SHANGHAI, TARGETS)
    offered = [i for i, (_, f) in enumerate(slots) if f.offered]
    missed = [i for i, (_, f) in enumerate(slots) if f.misses]
    assert offered == missed == ([] if index is None else [index])
    if index is not None:
        assert slots[index][1].answered == 1


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("day", "count", "repeated"),
    [
        pytest.param(date(2026, 10, 25), 50, "02:00", id="clocks go back: 02:00 and 02:30 happen twice"),
        pytest.param(date(2026, 3, 29), 46, None, id="clocks go forward: no 02:00 or 02:30"),
    ],
)
def test_half_hours_across_a_daylight_saving_change(day: date, count: int, repeated: str | None) -> None:
    first_0210 = datetime(2026, 10, 25, 0, 10, tzinfo=UTC)  # 02:10 CEST
    second_0210 = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET, an hour later
    slots = half_hours([call(queued_at=first_0210), call(queued_at=second_0210)], [], day, BERLIN, TARGETS)
    assert len(slots) == count
    starts = [s.astimezone(UTC) for s, _ in slots]
    assert starts == sorted(set(starts)), "each slot is its own instant, in order"
    if repeated is not None:
        busy = [(s.strftime("%H:%M%z"), f.offered) for s, f in slots if f.offered]
        assert busy == [("02:00+0200", 1), ("02:00+0100", 1)]


def test_a_call_that_ended_at_a_seat_without_answer_or_abandon_is_unknown_for_the_seat() -> None:
    ended = call(answered_at=None, outcome=CallOutcome.UNKNOWN, ring_ms=None)
    figures = Figures()
    count_seat_call(figures, ended, TARGETS)
    assert (figures.offered, figures.unknown) == (0, 1)


def test_daily_report_keeps_only_the_local_day() -> None:
    calls = [
        call(call_id="a", queued_at=local(9, 10)),
        call(call_id="b", queued_at=local(9, 20), **ABANDONED, wait_ms=30_000),
        call(call_id="c", queued_at=local(0, 0)),
        call(call_id="y", queued_at=local(23, 59, 59, date(2026, 11, 24))),  # yesterday
        call(call_id="t", queued_at=local(0, 0, 0, date(2026, 11, 26))),  # tomorrow
    ]
    misses = [miss(at=local(9, 15)), miss(at=local(23, 0, 0, date(2026, 11, 24)))]
    report = daily_report(calls, misses, DAY, SHANGHAI, TARGETS)

    assert (report["date"], report["timezone"]) == ("2026-11-25", "Asia/Shanghai")
    assert report["targets"] == {"ring_limit_s": 10.0, "service_level_s": 15, "service_level": 0.8, "answer_rate": 0.95}
    total = report["total"]
    assert (total["offered"], total["answered"], total["lost"], total["misses"]) == (3, 2, 1, 1)
    assert total["answer_rate"] == 0.6667
    assert len(report["half_hours"]) == 48
    slot = report["half_hours"][18]
    assert (slot["start"], slot["end"]) == ("2026-11-25T09:00:00+08:00", "2026-11-25T09:30:00+08:00")
    assert (slot["offered"], slot["answered"], slot["lost"], slot["misses"]) == (2, 1, 1, 1)
    assert report["half_hours"][0]["offered"] == 1
    assert sum(s["offered"] for s in report["half_hours"]) == 3


def test_report_csv_rows() -> None:
    report = daily_report([call(queued_at=local(9, 10))], [], DAY, SHANGHAI, TARGETS)
    rows = report_csv_rows(report)
    assert len(rows) == 49
    assert rows[0] == list(REPORT_CSV_COLUMNS)
    assert rows[1] == ["2026-11-25T00:00:00+08:00", "2026-11-25T00:30:00+08:00", 0, 0, 0, 0, 0, "", 0, "", "", 0]
    assert rows[19] == ["2026-11-25T09:00:00+08:00", "2026-11-25T09:30:00+08:00", 1, 1, 0, 0, 0, 1.0, 1, 1.0, 6.0, 0]
