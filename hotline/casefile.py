"""The case file without the service: a ticket store that every feature which adds to a ticket has joined, as
the plugins join it in the running service (each feature's `join_case_file`). For tests and benchmarks that
build a TicketStore of their own.

The ticket store knows tickets only. Its view (the case file: a ticket with its calls, events, three-way
attempts, surveys and 回访 tasks) takes the other features' parts from readers they own, read in the view's own
session; a unit's reply (反馈) creates the 回访 task through a hook inside the reply's own transaction.
"""

from __future__ import annotations

from .callbacks import store as callbacks
from .callbacks.schedule import Policy
from .survey import store as survey
from .threeway import records as threeway
from .tickets.store import TicketStore


def wire(tickets: TicketStore, policy: Policy | None = None) -> TicketStore:
    """`tickets` joined by three-way, surveys and 回访 (`policy`: the 回访 rules), as in the service."""
    threeway.join_case_file(tickets)
    survey.join_case_file(tickets)
    callbacks.join_case_file(tickets, policy or Policy())
    return tickets
