"""Seats (坐席): their login (the SIP password of the seat's phone), the seat page, its websocket, the seat
actions. Offers SEAT_AUTH (the access guard and QA check seat tokens with it)."""

from __future__ import annotations

from aiohttp import web

from ..plugin import Base, Core, Part, Plugin
from ..pops.plugin import CURRENT_POPS
from . import http
from .auth import SeatAuth

SEAT_AUTH: Part[SeatAuth] = Part("seat-auth")


class SeatsPlugin(Plugin):
    name = "seats"

    async def prepare(self, base: Base) -> None:
        base.provide(SEAT_AUTH, SeatAuth.from_settings(base.settings))

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.control, core.live, core.bus, auth=core.need(SEAT_AUTH), pops=core.need(CURRENT_POPS))
