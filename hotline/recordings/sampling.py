"""Daily QA sampling (质检抽样), pure: which of a day's calls QA listens to.

Per seat and day:
- a random sample of ``max(minimum, ceil(ratio × calls))`` of its recorded calls, seeded (the same day,
  seat and seed give the same sample) and spread over the day: the calls, in order of start, are cut into
  as many equal runs as picks and one call is drawn from each run, so every hour and every kind of call
  (short and long alike: the draw inside a run is uniform) has its share;
- plus every call of a 投诉举报 ticket, every call whose survey was unsatisfied, every call a team leader
  flagged; these are in on their own account and do not use up the random share.
A call already sampled (another day's run, or an earlier run of this day) is never taken again.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class Reason(StrEnum):
    RANDOM = "random"  # 随机抽样
    COMPLAINT = "complaint"  # 投诉举报 ticket
    UNSATISFIED = "unsatisfied"  # 回访/survey unsatisfied
    FLAGGED = "flagged"  # a team leader flagged it


REASON_LABELS = {Reason.RANDOM: "随机抽取", Reason.COMPLAINT: "投诉举报", Reason.UNSATISFIED: "不满意",
                 Reason.FLAGGED: "班长标记"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    call_id: str
    seat: str
    started_at: datetime
    duration_s: float
    complaint: bool = False
    unsatisfied: bool = False
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class Pick:
    call_id: str
    seat: str
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    ratio: float
    minimum: int
    seed: str = "hotline"


@dataclass
class Plan:
    day: date
    picks: list[Pick] = field(default_factory=list)

    def count(self, reason: Reason) -> int:
        return sum(reason in p.reasons for p in self.picks)


def random_count(calls: int, rule: Rule) -> int:
    if calls <= 0:
        return 0
    return min(calls, max(rule.minimum, math.ceil(rule.ratio * calls - 1e-9)))


def seat_seed(day: date, seat: str, seed: str) -> int:
    digest = hashlib.sha256(f"{seed}|{day.isoformat()}|{seat}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def spread_draw(calls: list[Candidate], k: int, rng: random.Random) -> list[Candidate]:
    """k calls, one from each of k equal runs of `calls` in order of start."""
    ordered = sorted(calls, key=lambda c: (c.started_at, c.call_id))
    n = len(ordered)
    picked = []
    for i in range(min(k, n)):
        lo, hi = (i * n) // k, ((i + 1) * n) // k
        picked.append(ordered[rng.randrange(lo, hi)])
    return picked


def _mandatory(c: Candidate) -> tuple[Reason, ...]:
    return tuple(r for r, on in ((Reason.COMPLAINT, c.complaint), (Reason.UNSATISFIED, c.unsatisfied),
                                 (Reason.FLAGGED, c.flagged)) if on)  # fmt: skip


def sample_day(
    day: date, candidates: Iterable[Candidate], rule: Rule, already: set[str] | frozenset[str] = frozenset()
) -> Plan:
    """The day's plan: per seat, the random share over all its calls, plus every mandatory call; calls in
    `already` (sampled before) are left out."""
    by_seat: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_seat[c.seat].append(c)
    plan = Plan(day)
    for seat in sorted(by_seat):
        calls = by_seat[seat]
        k = random_count(len(calls), rule)
        fresh = [c for c in calls if c.call_id not in already]
        mandatory = {c.call_id: _mandatory(c) for c in fresh if _mandatory(c)}
        pool = [c for c in fresh if c.call_id not in mandatory]
        rng = random.Random(seat_seed(day, seat, rule.seed))
        for c in sorted(fresh, key=lambda c: (c.started_at, c.call_id)):
            if c.call_id in mandatory:
                plan.picks.append(Pick(c.call_id, seat, mandatory[c.call_id]))
        for c in spread_draw(pool, k, rng):
            plan.picks.append(Pick(c.call_id, seat, (Reason.RANDOM,)))
    return plan
