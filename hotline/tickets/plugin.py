"""Tickets (工单): the store on the service's database, the units directory seeded from the units file, the
routes. Offers TICKETS; the screen pops read the callers' history from it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from ..plugin import Base, Core, Part, Plugin
from ..pops.plugin import HISTORY
from . import http
from .store import TicketStore
from .units import load_units

log = logging.getLogger(__name__)
TICKETS: Part[TicketStore] = Part("tickets")
CALLER_HISTORY: Part[CallerHistory] = Part("caller-history")


class Document(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class CallerHistory:
    """The screen pops' History (hotline/pops/history.py): the caller's tickets from the ticket store, and the
    last 回访 from whatever joined as `last_callback_of` (the callbacks feature), as the browser reads them."""

    def __init__(self, tickets: TicketStore) -> None:
        self.tickets = tickets
        self.last_callback_of: Callable[[str], Awaitable[Document | None]] | None = None

    async def history(self, phone: str, limit: int = 20) -> list[dict[str, Any]]:
        return [item.to_json() for item in await self.tickets.history(phone, limit)]

    async def last_callback(self, phone: str) -> dict[str, Any] | None:
        last = None if self.last_callback_of is None else await self.last_callback_of(phone)
        return None if last is None else last.to_json()


class TicketsPlugin(Plugin):
    name = "tickets"

    async def prepare(self, base: Base) -> None:
        """The units file goes into an empty units table only (never over what the API edited)."""
        tickets = base.provide(TICKETS, TicketStore(base.store.engine, base.calendar))
        history = base.provide(CALLER_HISTORY, CallerHistory(tickets))
        base.provide(HISTORY, history)  # screen pops show the caller's tickets from this database
        if await tickets.units.count() == 0:
            loaded = await tickets.units.seed(load_units(base.settings.units_file))
            log.info("handling units: %d loaded from %s into the empty directory", loaded, base.settings.units_file)

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(TICKETS))
