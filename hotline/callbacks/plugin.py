"""回访: the tasks (one per unit reply, made inside the reply's transaction; one per lost call or IVR request),
the dialer that calls citizens back seat first, the outcome routes. Offers CALLBACKS and, when
HOTLINE_CALLBACKS is on, DIALER."""

from __future__ import annotations

from aiohttp import web

from ..plugin import Base, Core, Part, Plugin
from ..survey.plugin import IVR
from ..tickets.plugin import CALLER_HISTORY, TICKETS
from . import http
from .dialer import Dialer, from_settings
from .store import CallbackStore, join_case_file

CALLBACKS: Part[CallbackStore] = Part("callbacks")
DIALER: Part[Dialer] = Part("dialer")


class CallbacksPlugin(Plugin):
    name = "callbacks"

    async def prepare(self, base: Base) -> None:
        policy, _ = from_settings(base.settings)
        join_case_file(base.need(TICKETS), policy)
        store = base.provide(CALLBACKS, CallbackStore(base.store.engine, base.calendar, policy))
        base.need(CALLER_HISTORY).last_callback_of = store.last_callback  # the pop shows the last 回访

    async def start(self, core: Core) -> None:
        """The dialer: callback tasks from the database, dialled agent first over AMI."""
        if not core.settings.callbacks:
            return
        policy, config = from_settings(core.settings)
        dialer = Dialer(core.client, core.bridge, core.bus, core.need(CALLBACKS), core.need(TICKETS), policy, config)
        core.provide(DIALER, dialer)
        await dialer.start()
        core.stack.push_async_callback(dialer.close)
        core.need(IVR).server.on_callback_survey = dialer.surveys.result  # the automated survey's keys

    def routes(self, app: web.Application, core: Core) -> None:
        http.add_routes(app, core.need(CALLBACKS), core.need(TICKETS), core.bus, survey=core.settings.callback_survey)
