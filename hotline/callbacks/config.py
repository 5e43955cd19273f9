"""The 回访 dialer's own settings (made from hotline.settings by dialer.from_settings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DialerConfig:
    trunk: str = "trunk-out"
    caller_id: str = "12345"
    ring_s: int = 40  # the citizen's phone
    seat_ring_s: int = 20  # the seat's phone
    poll_s: float = 2.0
    requests: bool = True  # also take the IVR's call-back requests
    missed: bool = True  # also call back lost calls (呼损)
    missed_min_wait_s: int = 10
    survey: bool = False  # the automated survey callback (IVR) for tasks marked so
