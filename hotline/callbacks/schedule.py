"""回访 scheduling, pure: no clock, no I/O. The dialer (hotline.callbacks.dialer) asks it what to call now.

- A callback is due by the end of the 3rd working day after the day of the unit's reply (反馈),
  counted with the one working-day calendar (hotline.workdays): a reply on a holiday counts from
  the next working day, a deadline in a year the calendar does not know is provisional.
- Calls are made only inside the calling windows (09:00–12:00 and 14:00–18:00 on working days by
  default, in the hotline's time zone).
- A failed attempt (no answer, busy, failed) is retried after the spacing of its number; after the
  last one the task is 无法联系 (unreachable). An attempt that never reached the citizen because the
  seat did not answer, or the bridge restarted, does not count against the citizen.
- Near its deadline a task goes to any ready seat (and the team leader's view raises it).
- One task per ticket is dialled at a time; one seat takes one task at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum

from ..errors import IllegalTransition
from ..settings import default
from ..workdays import Deadline, WorkCalendar, parse_windows

REPLY_DAYS = 3  # working days after the unit's reply


class TaskKind(StrEnum):
    TICKET = "回访"  # the citizen's ticket got the unit's reply
    REQUEST = "回拨"  # the citizen asked the IVR for a call-back instead of waiting
    MISSED = "呼损"  # the citizen hung up while waiting in the queue or while a seat rang


class TaskStatus(StrEnum):
    PENDING = "pending"  # waiting for its time, its window and a seat
    DIALING = "dialing"  # an attempt is under way (seat ringing, citizen ringing, or talking)
    REACHED = "reached"  # the citizen answered; the seat records the outcome
    DONE = "done"  # outcome recorded
    UNREACHABLE = "unreachable"  # 无法联系: every attempt failed


OPEN = frozenset({TaskStatus.PENDING, TaskStatus.DIALING, TaskStatus.REACHED})


class AttemptOutcome(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"  # rejected, unreachable number, congestion
    SEAT_NO_ANSWER = "seat_no_answer"  # the seat's phone was not answered: the citizen was never dialled
    INTERRUPTED = "interrupted"  # the bridge restarted with the attempt in flight and no channel left


# Outcomes that count as a try to reach the citizen (toward max_attempts).
COUNTED = frozenset({AttemptOutcome.NO_ANSWER, AttemptOutcome.BUSY, AttemptOutcome.FAILED})

# Asterisk's DIALSTATUS of the citizen's leg → the attempt's outcome.
DIALSTATUS = {
    "ANSWER": AttemptOutcome.ANSWERED,
    "NOANSWER": AttemptOutcome.NO_ANSWER,
    "BUSY": AttemptOutcome.BUSY,
    "CONGESTION": AttemptOutcome.FAILED,
    "CHANUNAVAIL": AttemptOutcome.FAILED,
    "CANCEL": AttemptOutcome.FAILED,
}


class IllegalTaskTransition(IllegalTransition):
    """A task moved in a way its status does not allow (e.g. dialled while already dialling)."""

    def __init__(self, task_id: int, status: TaskStatus, what: str) -> None:
        self.task_id, self.status = task_id, status
        super().__init__(f"callback task {task_id}: cannot {what} while {status.value}", task_id=task_id)


@dataclass(frozen=True, slots=True)
class Policy:
    # the settings' defaults (HOTLINE_CALLBACK_*), in the units the schedule counts in
    windows: tuple[tuple[time, time], ...] = parse_windows(default("callback_windows"))
    retry_after: tuple[timedelta, ...] = tuple(timedelta(minutes=m) for m in default("callback_retry_minutes"))
    max_attempts: int = default("callback_max_attempts")
    near_deadline: timedelta = timedelta(hours=default("callback_near_deadline_h"))  # then any ready seat, raised
    seat_retry: timedelta = timedelta(seconds=default("callback_seat_retry_s"))  # after the seat did not answer
    reply_days: int = REPLY_DAYS
    max_seats_while_waiting: int = default("callback_max_seats_while_waiting")  # on callbacks while citizens wait


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    kind: TaskKind
    number: str
    deadline_at: datetime
    next_at: datetime
    status: TaskStatus = TaskStatus.PENDING
    ticket_id: int | None = None
    preferred_seat: str | None = None
    attempts: int = 0  # tries that counted against reaching the citizen
    provisional: bool = False
    seat: str | None = None  # the seat of the attempt under way
    survey: bool = False  # marked for the automated survey callback through the IVR (survey_call.py)


def callback_deadline(calendar: WorkCalendar, replied_at: datetime, policy: Policy) -> Deadline:
    """By the end of the reply_days-th working day after the day of the reply."""
    return calendar.deadline(replied_at, policy.reply_days)


def in_window(calendar: WorkCalendar, policy: Policy, now: datetime) -> bool:
    local = now.astimezone(calendar.zone)
    if not calendar.is_working_day(local.date()):
        return False
    return any(start <= local.time() < end for start, end in policy.windows)


def next_window(calendar: WorkCalendar, policy: Policy, after: datetime) -> datetime:
    """`after` itself when inside a window, else the start of the next window on a working day."""
    if in_window(calendar, policy, after):
        return after
    local = after.astimezone(calendar.zone)
    day = local.date()
    for _ in range(62):
        if calendar.is_working_day(day):
            for start, _end in policy.windows:
                at = datetime.combine(day, start, tzinfo=calendar.zone)
                if at > local:
                    return at.astimezone(after.tzinfo)
        day += timedelta(days=1)
    raise ValueError(f"no calling window within 62 days after {after}")


def near_deadline(task: Task, now: datetime, policy: Policy) -> bool:
    return task.deadline_at - now <= policy.near_deadline


def overdue(task: Task, now: datetime) -> bool:
    return task.status in OPEN and now > task.deadline_at


# ---------------------------------------------------------------------- transitions
def start(task: Task, seat: str) -> Task:
    if task.status is not TaskStatus.PENDING:
        raise IllegalTaskTransition(task.id, task.status, f"start an attempt at seat {seat}")
    return replace(task, status=TaskStatus.DIALING, seat=seat)


def reached(task: Task) -> Task:
    if task.status is not TaskStatus.DIALING:
        raise IllegalTaskTransition(task.id, task.status, "be reached")
    return replace(task, status=TaskStatus.REACHED)


def after_attempt(task: Task, outcome: AttemptOutcome, now: datetime, calendar: WorkCalendar, policy: Policy) -> Task:
    """The task after an attempt ended. An answered attempt waits for the seat's outcome (REACHED)."""
    if task.status not in (TaskStatus.DIALING, TaskStatus.REACHED):
        raise IllegalTaskTransition(task.id, task.status, f"end an attempt ({outcome.value})")
    if outcome is AttemptOutcome.ANSWERED or task.status is TaskStatus.REACHED:
        return replace(task, status=TaskStatus.REACHED)
    if outcome not in COUNTED:  # the citizen was never tried: again soon, not counted
        return replace(
            task, status=TaskStatus.PENDING, seat=None, next_at=next_window(calendar, policy, now + policy.seat_retry)
        )
    return _retry_or_give_up(task, now, calendar, policy)


def not_the_citizen(task: Task, now: datetime, calendar: WorkCalendar, policy: Policy) -> Task:
    """Answered, but by voicemail, or refused at once, or not the right person (the seat says so):
    a try that counts, retried later like no answer."""
    if task.status not in (TaskStatus.REACHED, TaskStatus.DIALING):
        raise IllegalTaskTransition(task.id, task.status, "be marked not reached")
    return _retry_or_give_up(task, now, calendar, policy)


def _retry_or_give_up(task: Task, now: datetime, calendar: WorkCalendar, policy: Policy) -> Task:
    attempts = task.attempts + 1
    if attempts >= policy.max_attempts:
        return replace(task, status=TaskStatus.UNREACHABLE, attempts=attempts, seat=None)
    spacing = policy.retry_after[min(attempts - 1, len(policy.retry_after) - 1)]
    return replace(
        task, status=TaskStatus.PENDING, attempts=attempts, seat=None,
        next_at=next_window(calendar, policy, now + spacing),
    )  # fmt: skip


def recorded(task: Task) -> Task:
    """The seat recorded the outcome (满意/基本满意/不满意)."""
    if task.status not in (TaskStatus.REACHED, TaskStatus.DIALING):
        raise IllegalTaskTransition(task.id, task.status, "record an outcome")
    return replace(task, status=TaskStatus.DONE, seat=None)


# ---------------------------------------------------------------------- what to call now
@dataclass(frozen=True, slots=True)
class Assignment:
    task: Task
    seat: str
    near_deadline: bool


def plan(
    tasks: Iterable[Task],
    ready_seats: Sequence[str],
    now: datetime,
    calendar: WorkCalendar,
    policy: Policy,
    *,
    busy_tickets: frozenset[int] = frozenset(),
    waiting_in_queue: int = 0,
    seats_on_callbacks: int = 0,
) -> list[Assignment]:
    """Which pending tasks to dial now, at which ready seat: nothing outside a window; earliest deadline
    first; a ticket's task at its preferred seat, or at any ready seat near its deadline (a call-back
    request at any seat); never a ticket already being dialled, never two tasks at one seat; while
    citizens wait in the inbound queue, at most `max_seats_while_waiting` seats on callbacks."""
    if not ready_seats or not in_window(calendar, policy, now):
        return []
    room = len(ready_seats)
    if waiting_in_queue > 0:
        room = max(0, policy.max_seats_while_waiting - seats_on_callbacks)
    free = list(ready_seats)
    taken_tickets = set(busy_tickets)
    out: list[Assignment] = []
    for task in sorted(tasks, key=lambda t: (t.deadline_at, t.id)):
        if len(out) >= room or not free:
            break
        if task.status is not TaskStatus.PENDING or task.next_at > now:
            continue
        if task.ticket_id is not None and task.ticket_id in taken_tickets:
            continue
        near = near_deadline(task, now, policy)
        seat = _seat_for(task, free, near)
        if seat is None:
            continue
        free.remove(seat)
        if task.ticket_id is not None:
            taken_tickets.add(task.ticket_id)
        out.append(Assignment(task, seat, near))
    return out


def _seat_for(task: Task, free: list[str], near: bool) -> str | None:
    if task.preferred_seat in free:
        return task.preferred_seat
    if near or task.kind is not TaskKind.TICKET or task.preferred_seat is None:
        return free[0]
    return None
