"""QA sampling (质检抽样), pure: counts per seat, mandatory calls, seeded, never twice, spread over the day."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from hotline.recordings.sampling import Candidate, Reason, Rule, random_count, sample_day, spread_draw

DAY = date(2026, 11, 30)
T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def calls(seat: str, n: int, **flags: set[int]) -> list[Candidate]:
    """n calls of `seat`, one every 6 minutes, durations 30..300 s; flags: name → indexes that have it."""
    return [
        Candidate(f"{seat}.{i}", seat, T0 + timedelta(minutes=6 * i), 30 + (i * 37) % 270,
                  complaint=i in flags.get("complaint", set()), unsatisfied=i in flags.get("unsatisfied", set()),
                  flagged=i in flags.get("flagged", set()))
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize(
    "n, ratio, minimum, k",
    [(0, 0.05, 2, 0), (1, 0.05, 2, 1), (2, 0.05, 2, 2), (10, 0.05, 2, 2), (40, 0.05, 2, 2), (41, 0.05, 2, 3),
     (100, 0.05, 2, 5), (100, 0.1, 0, 10), (7, 1.0, 0, 7), (3, 0.0, 0, 0), (60, 0.05, 0, 3)],
)  # fmt: skip
def test_random_count(n: int, ratio: float, minimum: int, k: int) -> None:
    assert random_count(n, Rule(ratio, minimum)) == k


def test_counts_per_seat_plus_every_mandatory_call() -> None:
    day = (
        calls("8001", 100, complaint={3, 50}, unsatisfied={7}, flagged={50, 90})
        + calls("8002", 10)
        + calls("8003", 1, complaint={0})
    )
    plan = sample_day(DAY, day, Rule(0.05, 2))
    per_seat = Counter(p.seat for p in plan.picks if p.reasons == (Reason.RANDOM,))
    assert per_seat == {"8001": 5, "8002": 2}  # 8003's only call is mandatory already: no random pool left
    mandatory = {p.call_id: p.reasons for p in plan.picks if p.reasons != (Reason.RANDOM,)}
    assert mandatory == {
        "8001.3": (Reason.COMPLAINT,), "8001.7": (Reason.UNSATISFIED,), "8001.50": (Reason.COMPLAINT, Reason.FLAGGED),
        "8001.90": (Reason.FLAGGED,), "8003.0": (Reason.COMPLAINT,),
    }  # fmt: skip
    ids = [p.call_id for p in plan.picks]
    assert len(ids) == len(set(ids)) == 5 + 2 + 5
    assert plan.count(Reason.COMPLAINT) == 3


def test_seeded_and_reproducible() -> None:
    day = calls("8001", 200) + calls("8002", 200)
    a = sample_day(DAY, day, Rule(0.05, 2, seed="s1"))
    b = sample_day(DAY, list(reversed(day)), Rule(0.05, 2, seed="s1"))  # order of input does not matter
    c = sample_day(DAY, day, Rule(0.05, 2, seed="s2"))
    d = sample_day(DAY + timedelta(days=1), day, Rule(0.05, 2, seed="s1"))
    assert a.picks == b.picks
    assert a.picks != c.picks and a.picks != d.picks


def test_never_the_same_call_twice() -> None:
    day = calls("8001", 20, complaint={4})
    first = sample_day(DAY, day, Rule(0.25, 0))
    taken = {p.call_id for p in first.picks}
    again = sample_day(DAY, day, Rule(0.25, 0), already=taken)
    assert not taken & {p.call_id for p in again.picks}
    assert "8001.4" in taken and all(p.call_id != "8001.4" for p in again.picks)


def test_spread_over_every_part_of_the_day() -> None:
    day = calls("8001", 240)  # 24 hours, 10 calls an hour
    for seed in range(50):
        picks = sample_day(DAY, day, Rule(24 / 240, 0, seed=str(seed))).picks
        hours = sorted(int(p.call_id.split(".")[1]) // 10 for p in picks)
        assert hours == list(range(24)), hours  # one from each hour, whatever the seed


def test_fair_over_durations_and_positions() -> None:
    """Over many days every call is about equally likely, short and long: no call favoured."""
    day = calls("8001", 40)
    hits: Counter[str] = Counter()
    for seed in range(2000):
        for c in spread_draw(day, 4, random.Random(seed)):
            hits[c.call_id] += 1
    expected = 2000 * 4 / 40
    assert len(hits) == 40
    assert all(0.75 * expected < v < 1.25 * expected for v in hits.values()), hits
    short = [c.call_id for c in day if c.duration_s < 100]
    long = [c.call_id for c in day if c.duration_s > 200]
    mean_short = sum(hits[i] for i in short) / len(short)
    mean_long = sum(hits[i] for i in long) / len(long)
    assert abs(mean_short - mean_long) < 0.15 * expected
