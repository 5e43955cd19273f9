"""The two-ring rule (响铃两声内接听), as decisions without I/O.

Asterisk rings a seat for `timeout` seconds (queues.conf: two rings of the cn cadence) and then
moves the call to the next free seat after `retry`. What Asterisk cannot do alone is the hotline's
part: count the miss against the seat, and pause the seat (reason 未接) once it has missed
`misses_to_pause` calls in a row, so that nothing more rings there until the seat resumes.

    rule = RingRule(misses_to_pause=1, reason="未接", ring_limit_ms=10_000)
    miss, command = rule.on_missed(event, seat_before, seat_after)
"""

from __future__ import annotations

from dataclasses import dataclass

from . import events as ev
from .constants import SeatState
from .snapshots import MissSnapshot, SeatSnapshot

# A ring that ended this much before the limit was refused by the phone (or the seat), not let ring out.
REJECT_MARGIN_MS = 500


@dataclass(frozen=True, slots=True)
class PauseSeat:
    """Pause `seat` with `reason`: what the bridge asks Asterisk to do."""

    seat: str
    reason: str
    misses_in_row: int
    call_id: str


@dataclass(frozen=True, slots=True)
class RingRule:
    misses_to_pause: int = 1
    reason: str = "未接"
    ring_limit_ms: int = 10_000

    def on_missed(
        self, event: ev.SeatMissed, before: SeatSnapshot | None, after: SeatSnapshot | None
    ) -> tuple[MissSnapshot | None, PauseSeat | None]:
        """The miss to record, and the pause to send (None when the seat stays in the queue)."""
        if after is None:
            return None, None
        call_id = (before.call_id if before else None) or event.channel.call_var or event.channel.linkedid
        ring_ms = None
        if before is not None and before.state is SeatState.RINGING and before.since is not None:
            ring_ms = max(0, round((event.at - before.since).total_seconds() * 1000))
        rejected = ring_ms is not None and ring_ms < self.ring_limit_ms - REJECT_MARGIN_MS
        miss = MissSnapshot(after.seat, call_id, event.at, ring_ms, rejected, after.misses_in_row)
        if after.state is SeatState.PAUSED or after.misses_in_row < self.misses_to_pause:
            return miss, None
        return miss, PauseSeat(after.seat, self.reason, after.misses_in_row, call_id)
