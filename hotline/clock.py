"""One clock: what "now" is for every store and service. Each takes a `Clock` (tests pass one they move); the
default is `utc_now`. Days and working days are the calendar's (hotline/workdays.py), in the hotline's zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_utc(value: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC (None stays None): how the API's views write times."""
    return value.astimezone(UTC).isoformat() if value is not None else None
