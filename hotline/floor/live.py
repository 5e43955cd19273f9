"""The live floor: the last 24 hours of calls and misses, and the seats' states, kept in memory.

Pure: snapshots in, a view out; the clock is an argument. Fed by FloorService from the bus (so a
web process other than the bridge's can keep one too) and primed from the database at start.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ami_bridge.constants import CallState, SeatState
from ami_bridge.snapshots import CallSnapshot, MissSnapshot, SeatSnapshot

from ..survey.satisfaction import SatisfactionTracker
from .stats import Targets, counted_at, day_bounds, half_hours, tally, targets_json

WINDOW = timedelta(hours=24)  # GB/T 33358-2016: 接通率 over any 24 h


class FloorTracker:
    def __init__(self, targets: Targets, zone: ZoneInfo) -> None:
        self.targets = targets
        self.zone = zone
        self.calls: dict[str, CallSnapshot] = {}
        self.misses: dict[tuple[str, datetime], MissSnapshot] = {}
        self.seats: dict[str, SeatSnapshot] = {}  # seat → its last snapshot
        self.surveys = SatisfactionTracker()  # the satisfaction survey (满意率)

    def on_call(self, call: CallSnapshot) -> None:
        self.calls[call.call_id] = call

    def on_miss(self, miss: MissSnapshot) -> None:
        self.misses[(miss.seat, miss.at)] = miss

    def on_seat(self, seat: SeatSnapshot) -> None:
        self.seats[seat.seat] = seat

    def prune(self, now: datetime) -> None:
        """Forget what is older than both the window and the start of today."""
        horizon = min(now - WINDOW, day_bounds(now.astimezone(self.zone).date(), self.zone)[0])
        self.calls = {k: c for k, c in self.calls.items() if counted_at(c) >= horizon or c.state is not CallState.ENDED}
        self.misses = {k: m for k, m in self.misses.items() if m.at >= horizon}
        self.surveys.prune(horizon)

    def view(self, now: datetime) -> dict[str, Any]:
        """What the wallboard shows: today (per queue, per seat, per half hour), the last 24 h, live."""
        today: date = now.astimezone(self.zone).date()
        start, end = day_bounds(today, self.zone)
        calls_today = [c for c in self.calls.values() if start <= counted_at(c) < end]
        misses_today = [m for m in self.misses.values() if start <= m.at < end]
        day = tally(calls_today, misses_today, self.targets)
        last_24h = tally(
            (c for c in self.calls.values() if now - WINDOW <= counted_at(c) <= now),
            (m for m in self.misses.values() if now - WINDOW <= m.at <= now),
            self.targets,
        ).total
        live = [c for c in self.calls.values() if c.state is not CallState.ENDED]
        seat_states = Counter(s.state.value for s in self.seats.values())
        return {
            "at": now.isoformat(),
            "date": today.isoformat(),
            "timezone": self.zone.key,
            "targets": targets_json(self.targets),
            "today": day.to_json(),
            "last_24h": {
                **last_24h.to_json(),
                "answer_rate_met": _met(last_24h.answer_rate, self.targets.answer_rate_target),
                "service_level_met": _met(last_24h.service_level, self.targets.service_level_target),
            },
            "half_hours": [
                {"start": slot.isoformat(), **f.to_json()}
                for slot, f in half_hours(calls_today, misses_today, today, self.zone, self.targets)
                if slot <= now and (f.offered or f.waiting or f.misses)
            ],
            "satisfaction": self.surveys.view(now, start, end),
            "live": {
                "waiting": sum(1 for c in live if c.state in (CallState.QUEUED, CallState.RINGING)),
                "ringing": sum(1 for c in live if c.state is CallState.RINGING),
                "talking": sum(1 for c in live if c.state is CallState.TALKING),
                "longest_wait_s": _longest_wait(live, now),
                "seats": {state.value: seat_states.get(state.value, 0) for state in SeatState},
                # callers queued while no seat is ready: the team leader must act (resume someone)
                "queued_no_seat": queued
                if (queued := sum(1 for c in live if c.state is CallState.QUEUED))
                and not seat_states.get(SeatState.READY.value, 0)
                else 0,
            },
        }


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def _longest_wait(live: list[CallSnapshot], now: datetime) -> float | None:
    waits = [
        (now - c.queued_at).total_seconds()
        for c in live
        if c.queued_at is not None and c.state in (CallState.QUEUED, CallState.RINGING)
    ]
    return round(max(waits), 1) if waits else None
