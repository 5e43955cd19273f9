"""What the bridge needs from the layers above it, as protocols it defines (ports).

The bridge knows Asterisk only. It hands every snapshot to a `Publisher` (hotline's bus satisfies it) and keeps
the record through a `SnapshotSink` (hotline's database store satisfies it); neither is imported here, so
`ami_bridge/` imports nothing from `hotline/` or `ivr/` (enforced by import-linter, see
pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from .snapshots import CallSnapshot, MissSnapshot, SeatSnapshot
from .topics import Topic

T = TypeVar("T")


class Publisher(Protocol):
    """Where snapshots go the moment they change (the bus): typed topics, ami_bridge/topics.py."""

    async def publish(self, topic: Topic[T], message: T) -> None: ...


class SnapshotSink(Protocol):
    """Where the record of calls, seats and misses is kept (the database), behind the write-behind."""

    async def save(
        self,
        calls: Sequence[CallSnapshot] = (),
        seats: Sequence[tuple[SeatSnapshot, bool]] = (),
        misses: Sequence[MissSnapshot] = (),
    ) -> None:
        """Save one batch in one transaction; seats come with whether the seat is logged in."""
        ...

    async def seats(self) -> list[SeatSnapshot]:
        """Every seat as last saved (the bridge restores misses in a row and wrap-up from it)."""
        ...

    async def calls(self, call_ids: Collection[str]) -> dict[str, CallSnapshot]:
        """The stored record of these calls, by id: a restarted bridge merges it with what Asterisk says."""
        ...

    async def unfinished(self, live: Collection[str], since: datetime) -> list[CallSnapshot]:
        """The calls kept as not ended (started since `since`) that are not in `live`."""
        ...

    async def latest_start(self) -> datetime | None:
        """When the newest call the record holds began (None: no call yet)."""
        ...

    async def misses_between(self, start: datetime, end: datetime) -> list[MissSnapshot]:
        """The misses kept with `start <= at < end` (a resync adds those Asterisk's queue_log has and this lacks)."""
        ...
