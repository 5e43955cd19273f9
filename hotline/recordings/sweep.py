"""The sweep's decisions, pure: which recordings on disk to catalogue now.

A recording is catalogued when the bridge publishes its call as ended (or the dialer a callback attempt). A
call that ended while the service was down or restarting never gets that message, so its file would stay
on disk uncatalogued: never checked, never sampled, never purged. The sweep (RecordingService.sweep, at
the service's start, every night before the check, `hotline qa sweep`) lists the last days' folders and
catalogues every file that has no catalogue row, from what the database knows of its call.

A file is left alone while Asterisk may still be writing it: modified within FRESH_S, or its id is live in
Asterisk (a call waiting in the queue again after a three-way attempt or in the survey writes nothing for a
while, MixMonitor's b). Finalising a .raw that MixMonitor still holds would lose the rest of the call.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from ami_bridge import events as ev
from ami_bridge.protocol import Frame

from .files import OnDisk

FRESH_S = 60.0  # a file written to within this many seconds may be a live call's
DEFAULT_DAYS = 7  # HOTLINE_RECORDING_SWEEP_DAYS: how many days back the sweep looks (today's folder too)
UNIQUEID = re.compile(r"^(\d{9,11})\.\d+$")  # Asterisk's channel ids: "<epoch seconds>.<sequence>"
# A call a seat dials itself from its phone ([outbound]): no call row, the bridge tracks inbound calls only.
# Its file is named out-<seat>-<the seat channel's id>, and the sweep catalogues it (queue OUTBOUND_QUEUE).
OUTBOUND = re.compile(r"^out-(\d{3,6})-(\d{9,11}\.\d+)$")
OUTBOUND_QUEUE = "外呼"


class Leave(StrEnum):
    """Why the sweep leaves a file alone this time."""

    CATALOGUED = "catalogued"  # it has a row already
    FRESH = "fresh"  # written to in the last minute: maybe a live call's
    LIVE = "live"  # its call (or callback attempt) is up in Asterisk


def sweep_days(today: date, days: int) -> list[date]:
    """The day folders the sweep reads: today and the `days` days before it, oldest first."""
    return [today - timedelta(days=back) for back in range(days, -1, -1)]


def left_alone(found: OnDisk, now: datetime, catalogued: Collection[str], live: Collection[str]) -> Leave | None:
    """Why `found` is not to be catalogued now, or None: catalogue it."""
    if found.call_id in catalogued:
        return Leave.CATALOGUED
    if (now - found.modified).total_seconds() < FRESH_S:
        return Leave.FRESH
    out = outbound_of(found.call_id)
    if found.call_id in live or (out is not None and out[1] in live):
        return Leave.LIVE
    return None


def outbound_of(call_id: str) -> tuple[str, str] | None:
    """(seat, the seat channel's id) of a seat's own call out, or None."""
    m = OUTBOUND.match(call_id)
    return (m.group(1), m.group(2)) if m else None


def channel_ids(frames: Iterable[Frame]) -> set[str]:
    """Every id a live recording can be named by, from CoreShowChannels: each channel's Uniqueid (a callback
    attempt's id is its seat channel's), Linkedid, and HOTLINE_CALL (the call id of every leg of a call)."""
    ids: set[str] = set()
    for frame in frames:
        if frame.name != "CoreShowChannel":
            continue
        chan = ev.channel(frame)
        ids.update(i for i in (chan.uniqueid, chan.linkedid, chan.call_var) if i)
    return ids


def channel_made_at(call_id: str) -> datetime | None:
    """When Asterisk made the channel a call id names ("1764566400.12": the epoch second), else None: the only
    time known of a file whose call the database never saw."""
    out = outbound_of(call_id)
    m = UNIQUEID.match(out[1] if out else call_id)
    return datetime.fromtimestamp(int(m.group(1)), UTC) if m else None
