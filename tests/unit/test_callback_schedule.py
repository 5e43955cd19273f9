"""回访 scheduling against a controlled clock, with dates from the real 2026 calendar (and unknown 2027)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.callbacks import schedule as sc
from hotline.callbacks.schedule import AttemptOutcome, Policy, Task, TaskKind, TaskStatus
from hotline.workdays import WorkCalendar, parse_windows

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar.load()
POLICY = Policy()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def task(**kw: object) -> Task:
    base = dict(
        id=1, kind=TaskKind.TICKET, number="13800138000", deadline_at=at("2026-11-27 18:00"),
        next_at=at("2026-11-24 09:00"), ticket_id=10, preferred_seat="8001",
    )  # fmt: skip
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("reply", "due", "provisional"),
    [
        ("2026-11-25 10:00", "2026-11-30 18:00", False),  # Wednesday: Thu, Fri, Mon
        ("2026-09-18 16:00", "2026-09-22 18:00", False),  # Friday; Sunday 20 Sept is a 调休 working day
        ("2026-09-30 17:00", "2026-10-10 18:00", False),  # the day before 国庆节: 8, 9 and the 调休 Saturday 10 Oct
        ("2026-09-29 09:00", "2026-10-09 18:00", False),  # Tuesday before: 30 Sept, 8 Oct, 9 Oct
        ("2026-10-03 11:00", "2026-10-10 18:00", False),  # on the holiday: counts from 8 October
        ("2026-10-10 15:00", "2026-10-14 18:00", False),  # on the 调休 Saturday (a working day)
        ("2026-09-24 19:30", "2026-09-30 18:00", False),  # Thursday evening before 中秋 (25–27 Sept): 28, 29, 30
        ("2026-12-30 10:00", "2027-01-04 18:00", True),  # reaches 2027, which nobody knows yet: Mon–Fri, provisional
    ],
)
def test_deadline_three_working_days(reply: str, due: str, provisional: bool) -> None:
    deadline = sc.callback_deadline(CAL, at(reply), POLICY)
    assert deadline.at == at(due)
    assert deadline.provisional is provisional


@pytest.mark.parametrize(
    ("now", "inside", "next_start"),
    [
        ("2026-11-25 08:59", False, "2026-11-25 09:00"),
        ("2026-11-25 09:00", True, "2026-11-25 09:00"),
        ("2026-11-25 11:59", True, "2026-11-25 11:59"),
        ("2026-11-25 12:00", False, "2026-11-25 14:00"),  # lunch
        ("2026-11-25 18:00", False, "2026-11-26 09:00"),
        ("2026-11-27 18:30", False, "2026-11-30 09:00"),  # Friday evening → Monday
        ("2026-09-19 10:00", False, "2026-09-20 09:00"),  # Saturday → the 调休 Sunday
        ("2026-09-20 10:00", True, "2026-09-20 10:00"),  # the 调休 Sunday is a working day
        ("2026-10-01 10:00", False, "2026-10-08 09:00"),  # 国庆节
        ("2026-12-31 19:00", False, "2027-01-01 09:00"),  # unknown 2027: Friday counted as a working day
    ],
)
def test_windows(now: str, inside: bool, next_start: str) -> None:
    assert sc.in_window(CAL, POLICY, at(now)) is inside
    assert sc.next_window(CAL, POLICY, at(now)) == at(next_start)


def test_parse_windows() -> None:
    assert parse_windows("09:00-12:00, 14:00-18:00") == POLICY.windows
    for bad in ("", "9-12", "12:00-09:00", "09:00-12:00,11:00-13:00"):
        with pytest.raises(ValueError):
            parse_windows(bad)


@pytest.mark.parametrize(
    ("outcomes", "status", "attempts", "next_at"),
    [
        # busy at 10:00 → 30 min later (10:30); no answer then → 1 h later (11:30); the third failure → 无法联系
        (["busy"], "pending", 1, "2026-11-25 10:30"),
        (["busy", "no_answer"], "pending", 2, "2026-11-25 11:30"),
        (["busy", "no_answer", "failed"], "unreachable", 3, None),
        # the seat did not answer: the citizen was never dialled, not counted, the seat retry spacing
        (["seat_no_answer"], "pending", 0, "2026-11-25 10:02"),
        (["interrupted"], "pending", 0, "2026-11-25 10:02"),
        (["answered"], "reached", 0, None),
    ],
)
def test_retries(outcomes: list[str], status: str, attempts: int, next_at: str | None) -> None:
    t = task()
    now = at("2026-11-25 10:00")
    for outcome in outcomes:
        t = sc.after_attempt(sc.start(t, "8001"), AttemptOutcome(outcome), now, CAL, POLICY)
        if t.status is TaskStatus.PENDING:
            now = t.next_at
    assert (t.status.value, t.attempts) == (status, attempts)
    if next_at is not None:
        assert t.next_at == at(next_at)


def test_retry_late_in_the_day_moves_to_the_next_window() -> None:
    t = sc.after_attempt(sc.start(task(), "8001"), AttemptOutcome.BUSY, at("2026-09-30 17:50"), CAL, POLICY)
    assert t.next_at == at("2026-10-08 09:00")  # 18:20 is out of the window; 1–7 October are holidays


def test_never_dialled_twice_at_once() -> None:
    t = sc.start(task(), "8001")
    with pytest.raises(sc.IllegalTaskTransition, match="dialing"):
        sc.start(t, "8002")


P = Policy()
Planned = list[tuple[int, str, bool]]
NOW = at("2026-11-25 10:00")


@pytest.mark.parametrize(
    ("tasks", "ready", "kw", "expected"),
    [
        ([task()], ["8001"], {}, [(1, "8001", False)]),
        ([task()], ["8002"], {}, []),  # not near the deadline: waits for its own seat
        ([task(deadline_at=at("2026-11-25 13:00"))], ["8002"], {}, [(1, "8002", True)]),  # near: any seat
        ([task(deadline_at=at("2026-11-25 09:00"))], ["8002"], {}, [(1, "8002", True)]),  # overdue: any seat
        ([task(kind=TaskKind.REQUEST, preferred_seat=None, ticket_id=None)], ["8003"], {}, [(1, "8003", False)]),
        ([task(next_at=at("2026-11-25 10:30"))], ["8001"], {}, []),  # its retry is not due yet
        ([task(status=TaskStatus.DIALING)], ["8001"], {}, []),
        ([task()], ["8001"], {"busy_tickets": frozenset({10})}, []),  # the ticket is being dialled already
        (  # two tasks of one ticket: only one at a time; earliest deadline first
            [task(id=1, deadline_at=at("2026-11-25 11:00")), task(id=2, deadline_at=at("2026-11-25 10:30"))],
            ["8001", "8002"],
            {},
            [(2, "8001", True)],
        ),
        (  # one seat takes one task
            [task(id=1), task(id=2, ticket_id=11)],
            ["8001"],
            {},
            [(1, "8001", False)],
        ),
        ([task()], ["8001"], {"waiting_in_queue": 2}, []),  # citizens wait inbound: no seat for callbacks
        ([task()], [], {}, []),
    ],
)
def test_plan(
    tasks: list[Task], ready: list[str], kw: dict[str, object], expected: list[tuple[int, str, bool]]
) -> None:
    got = sc.plan(tasks, ready, NOW, CAL, P, **kw)  # type: ignore[arg-type]
    assert [(a.task.id, a.seat, a.near_deadline) for a in got] == expected


def test_plan_with_a_seat_allowed_while_calls_wait() -> None:
    policy = replace(P, max_seats_while_waiting=1)
    tasks = [task(id=1), task(id=2, ticket_id=11, preferred_seat="8002")]
    assert len(sc.plan(tasks, ["8001", "8002"], NOW, CAL, policy, waiting_in_queue=3)) == 1
    assert sc.plan(tasks, ["8001", "8002"], NOW, CAL, policy, waiting_in_queue=3, seats_on_callbacks=1) == []


@pytest.mark.parametrize(
    "now",
    ["2026-11-25 08:00", "2026-11-25 12:30", "2026-11-25 19:00", "2026-11-28 10:00", "2026-10-02 10:00"],
)
def test_plan_nothing_outside_the_windows(now: str) -> None:
    assert sc.plan([task(next_at=at("2026-11-01 09:00"))], ["8001"], at(now), CAL, P) == []


def test_overdue() -> None:
    t = task(deadline_at=at("2026-11-25 09:00"))
    assert sc.overdue(t, NOW)
    assert not sc.overdue(replace(t, status=TaskStatus.DONE), NOW)
    assert not sc.overdue(t, NOW - timedelta(hours=2))


@pytest.mark.parametrize(("attempts", "status"), [(0, "pending"), (1, "pending"), (2, "unreachable")])
def test_voicemail_or_refusal_counts_as_a_try(attempts: int, status: str) -> None:
    t = sc.reached(sc.start(task(attempts=attempts), "8001"))
    after = sc.not_the_citizen(t, NOW, CAL, P)
    assert (after.status.value, after.attempts) == (status, attempts + 1)
    with pytest.raises(sc.IllegalTaskTransition):
        sc.not_the_citizen(task(), NOW, CAL, P)


def test_the_end_asterisk_kept_gives_the_answers_as_stamped() -> None:
    """hotline-cb-ended/<attempt> (extensions.conf [dialer] end): Dial's status, the citizen's answer, the end and
    the seat's answer, as Unix s.ms; an entry of the older dialplan had ANSWEREDTIME_MS there, which Asterisk 22
    counts from the dial (ringing included): it gives no answer time rather than a wrong one."""
    from hotline.callbacks.dialer import parse_end

    kept = parse_end("ANSWER|1796608812.250|1796608830.125|1796608811.750")
    assert kept is not None and kept.dial_status == "ANSWER"
    assert (kept.ended_at - kept.answered_at).total_seconds() == 17.875  # type: ignore[operator]
    assert (kept.answered_at - kept.seat_answered_at).total_seconds() == 0.5  # type: ignore[operator]
    old = parse_end("ANSWER|3523|1796608830.125")
    assert old is not None and (old.answered_at, old.seat_answered_at) == (None, None)
    no_answer = parse_end("NOANSWER||1796608830.125|1796608811.750")
    assert no_answer is not None and no_answer.answered_at is None and no_answer.seat_answered_at is not None
    assert parse_end("ANSWER|x|soon") is None
