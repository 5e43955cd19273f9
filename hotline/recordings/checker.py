"""Is a recording all there? Pure verdicts from what was measured (no I/O here).

A recording is ``ok`` only when its file exists, holds audio, and is no shorter than the call's talk time
by more than the tolerance (when the database never learned the talk time, the reason says its length was not
checked). Anything else is flagged with the reason; nothing is silently passed. A file the sweep found with no
call in the database is flagged ``unknown-call`` however good its audio, and stays so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from ami_bridge.constants import LegRole
from ami_bridge.snapshots import CallSnapshot

WAV_HEADER = 44  # bytes of a canonical WAV header: a file this size holds no audio


class RecStatus(StrEnum):
    OK = "ok"
    MISSING = "missing"  # no file where the catalogue says
    EMPTY = "empty"  # a file without audio
    SHORT = "short"  # shorter than the call by more than the tolerance
    UNREADABLE = "unreadable"  # sox cannot read it
    PURGED = "purged"  # deleted on purpose by the retention job
    UNKNOWN_CALL = "unknown-call"  # found on disk by the sweep; no call or callback attempt in the database has its id

    @property
    def flagged(self) -> bool:
        return self not in (RecStatus.OK, RecStatus.PURGED)


@dataclass(frozen=True, slots=True)
class FileFacts:
    exists: bool
    size: int = 0
    duration_s: float | None = None  # None: sox could not read it


@dataclass(frozen=True, slots=True)
class Talk:
    """The facts a recording is catalogued by: a citizen's call (from its snapshot) or a callback attempt (回访)."""

    call_id: str  # the file's name: the call id, or the callback attempt's id
    seat: str | None
    caller_number: str | None  # the citizen's number
    queue: str | None
    answered_at: datetime | None  # the file starts here (MixMonitor b: bridged)
    expected_s: float | None  # the talk time the file should cover; None: the database never learned it


@dataclass(frozen=True, slots=True)
class Verdict:
    status: RecStatus
    reason: str


def verdict(facts: FileFacts, expected_s: float | None, tolerance_s: float) -> Verdict:
    if not facts.exists:
        return Verdict(RecStatus.MISSING, "the file is not there")
    if facts.size <= WAV_HEADER:
        return Verdict(RecStatus.EMPTY, f"the file holds no audio ({facts.size} bytes)")
    if facts.duration_s is None:
        return Verdict(RecStatus.UNREADABLE, "sox cannot read the file")
    if facts.duration_s <= 0:
        return Verdict(RecStatus.EMPTY, "the file holds no audio (0 s)")
    if expected_s is None:
        return Verdict(
            RecStatus.OK,
            f"{facts.duration_s:.1f} s of audio; its length is not checked: the database does not know when the "
            "talk began and ended (the call ended while the service was down)",
        )
    if facts.duration_s < expected_s - tolerance_s:
        return Verdict(
            RecStatus.SHORT,
            f"{facts.duration_s:.1f} s of audio for a {expected_s:.1f} s call (tolerance {tolerance_s:g} s)",
        )
    return Verdict(RecStatus.OK, f"{facts.duration_s:.1f} s of audio for a {expected_s:.1f} s call")


def unknown_call(facts: FileFacts, call_id: str) -> Verdict:
    """A file on disk whose id no call (calls) and no callback attempt (callback_attempts) has: flagged, so a
    person looks at it (a call wholly while the service was down, a call a seat dialled out, a stray file);
    a file without audio is flagged for that first."""
    found = verdict(facts, None, 0.0)
    if found.status is not RecStatus.OK:
        return found
    return Verdict(
        RecStatus.UNKNOWN_CALL,
        f"{facts.duration_s:.1f} s of audio, but no call or callback attempt {call_id} in the database "
        "(found by the sweep): whose call it is must be looked up in Asterisk's logs",
    )


def recheck(previous: RecStatus, previous_reason: str, fresh: Verdict) -> Verdict:
    """The nightly check's verdict on a catalogued file: a file problem found now wins, but a good file does not
    clear a flag that was never about the file (unknown-call)."""
    if previous is RecStatus.UNKNOWN_CALL and fresh.status is RecStatus.OK:
        return Verdict(previous, previous_reason)
    return fresh


def talk_window(call: CallSnapshot) -> tuple[datetime, datetime] | None:
    """From the seat's answer to the end of the talk: the last seat or unit leg's end (a citizen left alone
    in the survey after the seat hung up is not recorded), never past the call's end. None: not answered."""
    if call.answered_at is None or call.ended_at is None:
        return None
    ends = [leg.ended_at for leg in call.legs if leg.role in (LegRole.SEAT, LegRole.UNIT) and leg.ended_at]
    end = min(max(ends), call.ended_at) if ends else call.ended_at
    return call.answered_at, max(end, call.answered_at)


def expected_seconds(call: CallSnapshot) -> float:
    window = talk_window(call)
    return 0.0 if window is None else (window[1] - window[0]).total_seconds()


def talk_of(call: CallSnapshot) -> Talk:
    window = talk_window(call)
    answered = window[0] if window else call.started_at
    return Talk(call.call_id, call.seat, call.caller_number, call.queue, answered, expected_seconds(call))
