"""The seat records a callback's outcome: 满意, 基本满意 or 不满意 with a comment.

未接通 (voicemail, a refusal, the wrong person) counts as a failed try and is retried later.
不满意 sends the ticket to 重办 with the comment (督办 when it was redone before); 满意 and 基本满意 move it on
to 回访 (callback done). The ticket moves first: when the lifecycle refuses, the task is left as it was.
A call-back request (回拨, no ticket) is closed with 已回拨.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hotline.errors import HotlineError, Kind
from hotline.topics import TOPIC_DIALER

from ..bus import Bus
from ..tickets.model import TicketStatus, Transition
from ..tickets.store import AlsoWrite, TicketStore
from .schedule import Task, TaskKind, TaskStatus
from .store import CallbackStore, record_in

log = logging.getLogger(__name__)
OUTCOMES = ("满意", "基本满意", "不满意")
REQUEST_DONE = "已回拨"
NOT_REACHED = "未接通"  # voicemail, refused, or not the right person: a counted try, retried later


class OutcomeRefused(HotlineError):
    """An outcome that cannot be recorded: bad input (which field), or the task not reached yet."""

    def __init__(self, kind: Kind, error: str, message: str, field: str | None = None) -> None:
        super().__init__(message, error=error, kind=kind, **({"field": field} if field else {}))
        self.field = field


async def record_outcome(
    store: CallbackStore, tickets: TicketStore, bus: Bus | None, task_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    task = await store.task(task_id)
    outcome, comment, by = _checked(task, body)
    if outcome == NOT_REACHED:
        after = await store.not_reached(task_id, by, comment)
        log.info("callback %s: not the citizen (%s) says %s → %s", task_id, comment, by, after.status.value)
    elif task.ticket_id is not None:  # the ticket's move and the task's outcome: one transaction

        async def done(session: AsyncSession, now: datetime) -> None:
            await record_in(session, task_id, outcome, comment, by, now)

        await _move_ticket(tickets, task.ticket_id, outcome, comment, by, done)
    else:
        await store.record(task_id, outcome, comment, by)
    if bus is not None:
        await bus.publish(TOPIC_DIALER, {"seat": by, "task_id": task_id, "state": "recorded", "outcome": outcome})
    return await store.get(task_id)


def _checked(task: Task, body: dict[str, Any]) -> tuple[str, str | None, str]:
    outcome, comment, by = body.get("outcome"), body.get("comment"), body.get("by")
    if not isinstance(by, str) or not by.strip():
        raise OutcomeRefused(Kind.INVALID, "invalid-input", "by: required, the seat recording the outcome", "by")
    if comment is not None and not isinstance(comment, str):
        raise OutcomeRefused(Kind.INVALID, "invalid-input", "comment: text", "comment")
    allowed = (*(OUTCOMES if task.kind is TaskKind.TICKET else (REQUEST_DONE,)), NOT_REACHED)
    if not isinstance(outcome, str) or outcome not in allowed:
        raise OutcomeRefused(
            Kind.INVALID, "invalid-input", f"outcome: {outcome!r} is not one of {', '.join(allowed)}", "outcome"
        )
    if outcome == "不满意" and not (comment or "").strip():
        raise OutcomeRefused(
            Kind.INVALID, "invalid-input", "comment: required for 不满意 (the unit redoes it from it)", "comment"
        )
    if task.status not in (TaskStatus.REACHED, TaskStatus.DIALING):
        raise OutcomeRefused(
            Kind.CONFLICT, "callback-not-reached",
            f"callback {task.id} is {task.status.value}: an outcome is recorded once the citizen was reached",
        )  # fmt: skip
    return outcome, comment, by


async def _move_ticket(
    tickets: TicketStore, ticket_id: int, outcome: str, comment: str | None, by: str, also: AlsoWrite
) -> None:
    """不满意 → 重办 (督办 when redone before); 满意, 基本满意 → 回访, with `also` in the same transaction.
    Refused moves raise and change nothing."""
    ticket = await tickets.get(ticket_id)
    if outcome == "不满意":
        to = TicketStatus.SUPERVISED if ticket.ticket.redo_count >= 1 else TicketStatus.REDO
    else:
        to = TicketStatus.CALLED_BACK
    note = f"回访 {outcome}" + (f": {comment}" if comment else "")
    await tickets.transition(ticket_id, Transition(to, by=by, comment=note), also=also)
    log.info("ticket %s: 回访 %s by %s → %s", ticket_id, outcome, by, to.value)
