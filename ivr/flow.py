"""The IVR's decisions, without I/O: survey levels, menu retries, the expected wait, call-back numbers.

ivr/server.py asks these and plays prompts; everything here is tested with plain tables.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import Enum

# The national good/bad rating system (好差评): five levels, key n is level n; a centre may use three.
SURVEY_LEVELS: dict[int, tuple[str, ...]] = {
    5: ("非常满意", "满意", "基本满意", "不满意", "非常不满意"),
    3: ("满意", "基本满意", "不满意"),
}
# The levels counted as satisfied in the satisfaction rate (满意率): every level above 不满意.
SATISFIED: frozenset[str] = frozenset({"非常满意", "满意", "基本满意"})
NO_ANSWER = "未评价"

# A number a call-back may go to: a mobile, a landline with its area code, or a local landline.
CALLBACK_NUMBER_RE = re.compile(r"^(1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7})$")


class Step(Enum):
    """What to do after one attempt at collecting a key."""

    CHOSEN = "chosen"  # a valid key
    RETRY = "retry"  # invalid or none, attempts left: play the prompt again
    GIVE_UP = "give_up"  # attempts used up: the caller goes on (to the queue, or the survey ends)


# (key valid?, attempts left?) → step: a caller is never stranded by a wrong or missing key.
COLLECT: dict[tuple[bool, bool], Step] = {
    (True, True): Step.CHOSEN,
    (True, False): Step.CHOSEN,
    (False, True): Step.RETRY,
    (False, False): Step.GIVE_UP,
}


def collect_step(key: str, valid: frozenset[str] | set[str], attempt: int, attempts: int) -> Step:
    """attempt counts from 1; `attempts` is the first try plus the retries."""
    return COLLECT[(key in valid, attempt < attempts)]


def survey_label(key: str, scale: int) -> str | None:
    """The level a key means on a scale ("1" → 非常满意 on 5), or None for any other key."""
    levels = SURVEY_LEVELS[scale]
    if len(key) == 1 and key.isdigit() and 1 <= int(key) <= len(levels):
        return levels[int(key) - 1]
    return None


def expected_wait_s(free: int, ready: int, waiting: int, handle_s: float) -> float | None:
    """A rough expected wait for a caller about to join: 0 with a free seat; None (unknown, long) with no
    seat working; else the rounds of calls ahead of them, each an average handling time."""
    if free > 0:
        return 0.0
    if ready <= 0:
        return None
    return math.ceil((waiting + 1) / ready) * handle_s


def offer_callback(expected: float | None, threshold_s: int) -> bool:
    """Offer a call-back when the wait is at least threshold_s (0 turns the offer off)."""
    if threshold_s <= 0:
        return False
    return expected is None or expected >= threshold_s


def valid_callback_number(digits: str) -> bool:
    return bool(CALLBACK_NUMBER_RE.match(digits))


def callback_number_of(caller: str) -> str | None:
    """The caller's own number as a call-back number (carrier prefixes such as +86 or 86 removed)."""
    digits = re.sub(r"\D", "", caller)
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and valid_callback_number(digits[len(prefix) :]):
            digits = digits[len(prefix) :]
    return digits if valid_callback_number(digits) else None


@dataclass(frozen=True)
class IvrConfig:
    """The IVR's settings (from hotline.settings.Settings)."""

    sounds: str  # folder of the prompts as Asterisk sees it (fallback when HOTLINE_SOUNDS is unset)
    queue: str = "hotline"
    inbound: bool = True  # False: /inbound returns at once (callers go straight to the queue)
    menu: dict[str, str] = field(default_factory=dict)  # key → choice label; empty: no menu (GB/T 33358)
    digit_timeout_ms: int = 5000
    retries: int = 2  # after the first try
    callback_wait_s: int = 120  # offer a call-back at this expected wait; 0: never
    handle_s: int = 180  # average handling time per call, for the expected wait
    survey: bool = True
    survey_scale: int = 5

    @property
    def attempts(self) -> int:
        return 1 + self.retries


def ivr_choices(*choices: str) -> str:
    """HOTLINE_IVR: the choices in order, "/"-separated (what the screen pop shows)."""
    return "/".join(c.replace("/", "／") for c in choices if c)
