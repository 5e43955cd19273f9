"""What other features add to a ticket and do when it moves, wired in one place (above the features it names).

The ticket store knows tickets only. Its view (the case file: a ticket with its calls, events, three-way
attempts, surveys and 回访 tasks) takes the other features' parts from readers they own, read in the view's own
session; a unit's reply (反馈) creates the 回访 task through a hook inside the reply's own transaction, so the
reply and its callback task are saved together or not at all.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from .callbacks import store as callbacks
from .callbacks.schedule import Policy
from .db.models import TicketRow
from .survey import store as survey
from .threeway import records as threeway
from .tickets.store import TicketStore


def wire(tickets: TicketStore, policy: Policy | None = None) -> TicketStore:
    """The service's ticket store: the case file's parts and the 回访 on a unit's reply (`policy`: its rules)."""
    rules = policy or Policy()

    def callback_on_reply(session: AsyncSession, row: TicketRow, event_id: int, now: datetime) -> None:
        callbacks.add_reply_task(session, row, event_id, now, tickets.calendar, rules)

    tickets.parts.update(threeway=threeway.for_ticket, surveys=survey.for_ticket, callbacks=callbacks.for_ticket)
    tickets.on_reply.append(callback_on_reply)
    return tickets
