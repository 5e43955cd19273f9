"""The handling unit's side (/unit): its desk over the tickets."""

from __future__ import annotations

from aiohttp import web

from ..plugin import Core, Plugin
from ..tickets.plugin import TICKETS
from . import http


class UnitsPortalPlugin(Plugin):
    name = "units_portal"

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(TICKETS))
