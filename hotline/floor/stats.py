"""Floor statistics as plain functions of calls and misses: no I/O, no clock.

What is counted (per queue, per seat, per half hour, per day):

- offered: calls that reached the queue (an IVR hang-up is not offered to seats);
- answered: a seat took the call;
- lost (呼损): the citizen hung up while queued or while a seat's phone rang;
- 接通率 (answer rate) = answered / offered, against the GB/T 33358-2016 target (95 % over any 24 h);
- within two rings: answered by the first seat it rang at, inside the ring limit (no seat missed it);
- service level: answered within `service_level_s` (15 s) of joining the queue, over offered;
- average wait (queue join → answer or hang-up) and average ring (the answering seat's ring time);
- misses (未接) per seat.

A call is counted in the half hour (and day) in which it joined the queue, in the hotline's time zone.
Calls still waiting, and calls that ended while the bridge could not see them (outcome unknown), are
not counted as offered: they are reported apart (``waiting``, ``unknown``) so that 接通率 is never
guessed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ami_bridge.constants import CallOutcome
from ami_bridge.snapshots import CallSnapshot, MissSnapshot

SLOT = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Targets:
    ring_limit_ms: int = 10_000  # two rings of the cn cadence
    service_level_s: int = 15
    service_level_target: float = 0.8
    answer_rate_target: float = 0.95


@dataclass(slots=True)
class Figures:
    """Counters for one group of calls (a queue, a seat, a half hour, a day)."""

    offered: int = 0
    answered: int = 0
    lost: int = 0
    lost_queued: int = 0  # hung up with no seat ringing
    lost_ringing: int = 0  # hung up while a seat rang (counted against that seat's ring too)
    within_two_rings: int = 0
    within_service_level: int = 0
    misses: int = 0
    waiting: int = 0  # still queued or ringing: not yet offered/answered/lost
    unknown: int = 0  # ended while the bridge was disconnected
    wait_ms_total: int = 0
    wait_count: int = 0
    ring_ms_total: int = 0
    ring_count: int = 0

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.offered if self.offered else None

    @property
    def two_ring_share(self) -> float | None:
        return self.within_two_rings / self.answered if self.answered else None

    @property
    def service_level(self) -> float | None:
        return self.within_service_level / self.offered if self.offered else None

    @property
    def avg_wait_s(self) -> float | None:
        return self.wait_ms_total / self.wait_count / 1000 if self.wait_count else None

    @property
    def avg_ring_s(self) -> float | None:
        return self.ring_ms_total / self.ring_count / 1000 if self.ring_count else None

    def to_json(self) -> dict[str, Any]:
        return {
            "offered": self.offered,
            "answered": self.answered,
            "lost": self.lost,
            "lost_queued": self.lost_queued,
            "lost_ringing": self.lost_ringing,
            "within_two_rings": self.within_two_rings,
            "within_service_level": self.within_service_level,
            "misses": self.misses,
            "waiting": self.waiting,
            "unknown": self.unknown,
            "answer_rate": _round(self.answer_rate),
            "two_ring_share": _round(self.two_ring_share),
            "service_level": _round(self.service_level),
            "avg_wait_s": _round(self.avg_wait_s, 1),
            "avg_ring_s": _round(self.avg_ring_s, 1),
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def count_call(figures: Figures, call: CallSnapshot, targets: Targets) -> None:
    """Add one call to `figures` (the queue's view: where the citizen's call ended up)."""
    _count(figures, call, targets, at_seat=False)


def count_seat_call(figures: Figures, call: CallSnapshot, targets: Targets) -> None:
    """Add one call to the figures of the seat it ended at (answered there, or lost while it rang)."""
    if call.seat is not None:
        _count(figures, call, targets, at_seat=True)


def _count(figures: Figures, call: CallSnapshot, targets: Targets, *, at_seat: bool) -> None:
    if call.queued_at is None:
        return
    if call.answered_at is not None:
        figures.offered += 1
        figures.answered += 1
        # the queue: within two rings only if no seat missed it first; a seat: its own ring (misses are theirs)
        own_ring = at_seat or call.misses == 0
        if own_ring and call.ring_ms is not None and call.ring_ms <= targets.ring_limit_ms:
            figures.within_two_rings += 1
        if call.wait_ms is not None and call.wait_ms <= targets.service_level_s * 1000:
            figures.within_service_level += 1
        _add_times(figures, call)
    elif call.outcome is CallOutcome.ABANDONED:
        figures.offered += 1
        figures.lost += 1
        if call.seat is not None:
            figures.lost_ringing += 1
        else:
            figures.lost_queued += 1
        if not at_seat:
            _add_times(figures, call)  # the caller's wait is the queue's, not the seat's
    elif call.outcome is None:
        figures.waiting += 1
    else:
        figures.unknown += 1  # ended while the bridge could not see it, or at a seat without answer or abandon


def _add_times(figures: Figures, call: CallSnapshot) -> None:
    if call.wait_ms is not None:
        figures.wait_ms_total += call.wait_ms
        figures.wait_count += 1
    if call.answered_at is not None and call.ring_ms is not None:
        figures.ring_ms_total += call.ring_ms
        figures.ring_count += 1


@dataclass(slots=True)
class Tally:
    """Figures of a set of calls: in all, per queue and per seat."""

    total: Figures = field(default_factory=Figures)
    queues: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))
    seats: dict[str, Figures] = field(default_factory=lambda: defaultdict(Figures))

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            "queues": {q: f.to_json() for q, f in sorted(self.queues.items())},
            "seats": {s: f.to_json() for s, f in sorted(self.seats.items())},
        }


def tally(calls: Iterable[CallSnapshot], misses: Iterable[MissSnapshot], targets: Targets) -> Tally:
    result = Tally()
    for call in calls:
        count_call(result.total, call, targets)
        if call.queue is not None:
            count_call(result.queues[call.queue], call, targets)
        if call.seat is not None:
            count_seat_call(result.seats[call.seat], call, targets)
    for miss in misses:
        result.total.misses += 1
        seat = result.seats[miss.seat]
        seat.misses += 1
        seat.offered += 1  # rung there and not taken: the seat's offer, not the queue's
    return result


def counted_at(call: CallSnapshot) -> datetime:
    """When a call counts: when it joined the queue (else when it started)."""
    return call.queued_at or call.started_at


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in the hotline's zone, as aware datetimes."""
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def slot_of(at: datetime, zone: ZoneInfo) -> datetime:
    """The start of the half hour `at` falls in, in `zone`."""
    local = at.astimezone(zone)
    return local.replace(minute=30 if local.minute >= 30 else 0, second=0, microsecond=0)


def half_hours(
    calls: Iterable[CallSnapshot], misses: Iterable[MissSnapshot], day: date, zone: ZoneInfo, targets: Targets
) -> list[tuple[datetime, Figures]]:
    """Queue figures for each half hour of `day` (48 slots; 46 or 50 across a DST change elsewhere)."""
    start, end = day_bounds(day, zone)
    # keyed by the UTC instant: two local 01:30s on the night clocks go back are two slots
    slots: dict[datetime, Figures] = {}
    at = start.astimezone(UTC)
    while at < end:
        slots[at] = Figures()
        at += SLOT
    for call in calls:
        slot = slot_of(counted_at(call), zone).astimezone(UTC)
        if slot in slots:
            count_call(slots[slot], call, targets)
    for miss in misses:
        slot = slot_of(miss.at, zone).astimezone(UTC)
        if slot in slots:
            slots[slot].misses += 1
    return [(at.astimezone(zone), figures) for at, figures in slots.items()]


def daily_report(
    calls: list[CallSnapshot], misses: list[MissSnapshot], day: date, zone: ZoneInfo, targets: Targets
) -> dict[str, Any]:
    """The day's report: totals, per seat and per queue, and offered/lost per half hour (staffing)."""
    start, end = day_bounds(day, zone)
    calls = [c for c in calls if start <= counted_at(c) < end]
    misses = [m for m in misses if start <= m.at < end]
    day_tally = tally(calls, misses, targets)
    return {
        "date": day.isoformat(),
        "timezone": zone.key,
        "targets": targets_json(targets),
        **day_tally.to_json(),
        "half_hours": [
            {"start": slot.isoformat(), "end": (slot + SLOT).isoformat(), **f.to_json()}
            for slot, f in half_hours(calls, misses, day, zone, targets)
        ],
    }


def targets_json(targets: Targets) -> dict[str, Any]:
    return {
        "ring_limit_s": targets.ring_limit_ms / 1000,
        "service_level_s": targets.service_level_s,
        "service_level": targets.service_level_target,
        "answer_rate": targets.answer_rate_target,
    }


REPORT_CSV_COLUMNS = ("start", "end", "offered", "answered", "lost", "lost_queued", "lost_ringing",
                      "answer_rate", "within_two_rings", "service_level", "avg_wait_s", "misses")  # fmt: skip


def report_csv_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The half-hour table of a daily report, as CSV rows with a header (for a spreadsheet)."""
    rows: list[list[Any]] = [list(REPORT_CSV_COLUMNS)]
    for slot in report["half_hours"]:
        rows.append(["" if slot[c] is None else slot[c] for c in REPORT_CSV_COLUMNS])
    return rows
