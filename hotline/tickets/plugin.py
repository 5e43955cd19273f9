"""Tickets (工单): the store on the service's database, the units directory seeded from the units file, the
routes. Offers TICKETS; the screen pops read the callers' history from it."""

from __future__ import annotations

import logging

from aiohttp import web

from ..plugin import Base, Core, Part, Plugin
from ..pops.plugin import HISTORY
from . import http
from .store import TicketStore
from .units import load_units

log = logging.getLogger(__name__)
TICKETS: Part[TicketStore] = Part("tickets")


class TicketsPlugin(Plugin):
    name = "tickets"

    async def prepare(self, base: Base) -> None:
        """The units file goes into an empty units table only (never over what the API edited)."""
        tickets = base.provide(TICKETS, TicketStore(base.store.engine, base.calendar))
        base.provide(HISTORY, tickets)  # screen pops show the caller's tickets from this database
        if await tickets.units.count() == 0:
            loaded = await tickets.units.seed(load_units(base.settings.units_file))
            log.info("handling units: %d loaded from %s into the empty directory", loaded, base.settings.units_file)

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(TICKETS))
