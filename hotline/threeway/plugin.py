"""Three-way calls (三方通话) with a handling unit: the attempts' records, the service that dials the unit and
joins it, the routes (before the seat actions', which would take /api/seats/{seat}/threeway)."""

from __future__ import annotations

from aiohttp import web

from ..plugin import Base, Core, Part, Plugin
from ..tickets.plugin import TICKETS
from . import http
from .records import ThreewayRecords, join_case_file
from .service import ThreewayConfig, ThreewayService

THREEWAY: Part[ThreewayService] = Part("threeway")


class ThreewayPlugin(Plugin):
    name = "threeway"

    async def prepare(self, base: Base) -> None:
        join_case_file(base.need(TICKETS))  # the ticket's view shows its three-way attempts

    async def start(self, core: Core) -> None:
        s = core.settings
        records = ThreewayRecords(core.store.engine)
        await records.start()
        core.stack.push_async_callback(records.close)
        config = ThreewayConfig(s.threeway_trunk, s.threeway_ring_s, s.threeway_caller_id, s.threeway_show_citizen)
        service = ThreewayService(core.client, core.bridge, core.bus, core.need(TICKETS).units, records, config)
        core.provide(THREEWAY, service)
        await service.start()
        core.stack.push_async_callback(service.close)

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(THREEWAY))
