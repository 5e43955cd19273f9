"""The floor (现场): live statistics against the targets, the wallboard, the daily report, /metrics."""

from __future__ import annotations

from aiohttp import web

from ..plugin import Core, Part, Plugin
from ..settings import Settings
from . import http
from .service import FloorService
from .stats import Targets

FLOOR: Part[FloorService] = Part("floor")


class FloorPlugin(Plugin):
    name = "floor"

    async def start(self, core: Core) -> None:
        s = core.settings
        floor = core.provide(FLOOR, FloorService(core.bus, core.store, targets_of(s), s.zone))
        await floor.start()
        core.stack.push_async_callback(floor.close)

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(FLOOR), core.live, core.store, core.bus)


def targets_of(s: Settings) -> Targets:
    """The floor's targets as the settings give them (the two-ring limit, the service level, the 接通率)."""
    return Targets(
        ring_limit_ms=s.ring_timeout_s * 1000, service_level_s=s.service_level_s,
        service_level_target=s.service_level_target, answer_rate_target=s.answer_rate_target,
    )  # fmt: skip
