"""The 回访 dialer's own settings (made from hotline.settings by dialer.from_settings)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import default


@dataclass(frozen=True, slots=True)
class DialerConfig:
    trunk: str = default("callback_trunk")
    caller_id: str = default("callback_caller_id")
    ring_s: int = default("callback_ring_s")  # the citizen's phone
    seat_ring_s: int = default("callback_seat_ring_s")  # the seat's phone
    poll_s: float = default("callback_poll_s")
    requests: bool = True  # also take the IVR's call-back requests
    missed: bool = default("callback_missed")  # also call back lost calls (呼损)
    missed_min_wait_s: int = default("callback_missed_min_wait_s")
    survey: bool = default("callback_survey")  # the automated survey callback (IVR) for tasks marked so
